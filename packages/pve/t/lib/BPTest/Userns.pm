package BPTest::Userns;

# STAND-IN, not Proxmox code, written from the spec (pve-backup-provider.md 1.3): how vzdump runs
# backup_container for an unprivileged container — a forked child that unshares a user and a
# mount namespace, gets the container's ID map written by its (root) parent and becomes root
# there, i.e. host uid <backup-user-id>. Also the private mount namespace vzdump creates for
# the snapshot mounts (visible to vzdump and its children only).

use strict;
use warnings;

use POSIX ();

our @EXPORT_OK = qw(private_mount_namespace run_mapped);
use base 'Exporter';

use constant {
    SYS_UNSHARE => 272, # x86_64
    CLONE_NEWNS => 0x00020000,
    CLONE_NEWUSER => 0x10000000,
};

sub _unshare {
    my ($flags) = @_;
    syscall(SYS_UNSHARE, $flags) == 0 or die "unshare: $!\n";
}

# vzdump's prepare: a mount namespace of its own with / as a slave, so mounts made now are seen
# by this process and its children only.
sub private_mount_namespace {
    _unshare(CLONE_NEWNS);
    system('mount', '--make-rslave', '/') == 0 or die "mount --make-rslave / failed\n";
}

# Runs $code in a forked child that is root of a new user (and mount) namespace with uids and
# gids 0..$count-1 mapped to $first..; returns (exit status, what $code returned as text). $code
# runs in an eval; a die becomes the text "DIED: <message>".
sub run_mapped {
    my ($first, $count, $code) = @_;
    pipe(my $ready_r, my $ready_w) or die;
    pipe(my $go_r, my $go_w) or die;
    pipe(my $out_r, my $out_w) or die;
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        close($_) for $ready_r, $go_w, $out_r;
        my $text = eval {
            _unshare(CLONE_NEWUSER | CLONE_NEWNS);
            syswrite($ready_w, "1");
            sysread($go_r, my $go, 1) or die "no ID map\n";
            POSIX::setgid(0) or die "setgid: $!\n";
            POSIX::setuid(0) or die "setuid: $!\n";
            $code->();
        };
        $text = "DIED: $@" if $@;
        syswrite($out_w, $text // '');
        close($out_w);
        POSIX::_exit(0);
    }
    close($_) for $ready_w, $go_r, $out_w;
    sysread($ready_r, my $ready, 1) or die "the mapped child did not start\n";
    for my $file ('uid_map', 'gid_map') {
        open(my $fh, '>', "/proc/$pid/$file") or die "/proc/$pid/$file: $!";
        print $fh "0 $first $count\n";
        close($fh) or die "/proc/$pid/$file: $!";
    }
    syswrite($go_w, "1");
    close($go_w);
    local $/;
    my $text = <$out_r> // '';
    waitpid($pid, 0);
    return ($?, $text);
}

1;
