# An unprivileged container backup as vzdump runs it: the job object lives in the vzdump
# process, which then makes a private mount namespace and mounts the container's tree there
# (the job's Node process, started earlier, cannot see that mount); backup_container_prepare
# runs as root; backup_container runs in a forked child that is root of a user namespace with
# the container's ID map (host uid 100000). The bridge starts the TS side from that child. The
# archive records in-container owners; extracted under the same map they land where they were.
use strict;
use warnings;

use Test::More;
use File::Path qw(make_path);
use File::Temp ();
use JSON ();
use POSIX ();

use BPTest qw(scratch_dir collector wait_gone read_file);
use BPTest::Userns qw(private_mount_namespace run_mapped);
use PVE::Storage;
use PVE::Storage::Custom::BpDirPlugin;

my $plugin = 'PVE::Storage::Custom::BpDirPlugin';
my $SHIFT = 100000;

# Everything the mapped root touches must be reachable by host uid 100000.
my $base = File::Temp::tempdir('/tmp/bp-pve-userns-XXXXXX', CLEANUP => 1);
chmod(0755, $base);
my ($store, $tree, $snap, $restored) = map { "$base/$_" } qw(store tree vzsnap0 restored);
make_path($store, $snap, { mode => 0755 });
my $scfg = { type => 'bp-dir', path => $store, content => { backup => 1 }, 'lxc-backup-mode' => 'tar' };
$PVE::Storage::CONFIG = { ids => { ctbk => $scfg } };

# The container's tree as it is on the host: owned by shifted IDs.
make_path("$tree/$_") for qw(sbin etc var/log tmp home/user root);
my %files = ('etc/hostname' => [ 0, "ct300\n" ], 'etc/motd' => [ 0, "hi\n" ], 'var/log/syslog' => [ 0, "log\n" ], 'sbin/init' => [ 0, "init\n" ],
    "home/user/n\xc3\xa4me.txt" => [ 1000, "user data\n" ], 'home/user/.profile' => [ 1000, "PS1=x\n" ], 'root/.bashrc' => [ 0, "#\n" ], 'tmp/skipped' => [ 0, "x\n" ]);
for my $file (sort keys %files) {
    open(my $fh, '>', "$tree/$file") or die; print $fh $files{$file}->[1]; close($fh);
}
system('chown', '-R', "$SHIFT:$SHIFT", $tree) == 0 or die;
system('chown', '-R', ($SHIFT + 1000) . ':' . ($SHIFT + 1000), "$tree/home/user") == 0 or die;

my $conf = "arch: amd64\nhostname: ct300\nunprivileged: 1\nrootfs: local:300/vm-300-disk-0.raw,size=8G\n";

# The vzdump process, forked so its private mount namespace goes away with it.
pipe(my $result_r, my $result_w) or die;
my $vzdump = fork() // die;
if (!$vzdump) {
    close($result_r);
    my %report;
    eval {
        my ($log, $lines) = collector();
        $plugin->activate_storage('ctbk', $scfg, {});
        my $provider = $plugin->new_backup_provider($scfg, 'ctbk', $log);
        $provider->job_init(1700020000);
        my $archive = $provider->backup_init(300, 'lxc', 1700020000)->{'archive-name'};
        $provider->provider_name();
        $provider->provider_name();
        die "mechanism\n" if $provider->backup_get_mechanism(300, 'lxc') ne 'directory';
        my $parent_node = $provider->bp_server_pid();
        # LXC.pm prepare: private mount namespace, snapshot mounted below it
        private_mount_namespace();
        system('mount', '--bind', $tree, $snap) == 0 or die "bind mount failed\n";
        $report{parent_sees} = -e "/proc/$parent_node/root$snap/etc/hostname" ? 1 : 0;
        my $info = { directory => $snap, sources => ['./'], 'backup-user-id' => $SHIFT, 'firewall-config' => '' };
        $provider->backup_container_prepare(300, $info);
        my ($status, $text) = run_mapped($SHIFT, 65536, sub {
            $provider->backup_container(300, $conf, [ '/tmp/?*', '/var/tmp/?*', '/var/run/?*.pid' ], $info);
            my $child_node = $provider->bp_server_pid();
            $provider->bp_finish();
            return "ok $child_node";
        });
        $report{child} = $text;
        die "backup_container: $text\n" if $text !~ /^ok (\d+)$/;
        $report{child_node} = $1;
        $report{after_child} = $provider->bp_server_pid();
        my $cleanup = $provider->backup_cleanup(300, 'lxc', 1, {});
        $report{size} = $cleanup->{stats}->{'archive-size'};
        $provider->job_cleanup();
        $report{parent_node} = $parent_node;
        $report{archive} = $archive;
        undef $provider;
    };
    $report{error} = $@ if $@;
    syswrite($result_w, JSON->new->encode(\%report));
    POSIX::_exit(0);
}
close($result_w);
my $report = JSON->new->decode(do { local $/; <$result_r> });
waitpid($vzdump, 0);

is($report->{error}, undef, 'the vzdump-ordered container job succeeded');
is($report->{parent_sees}, 0, "the job's Node process (started before the private mount namespace) cannot see the snapshot mount");
like($report->{child}, qr/^ok \d+$/, 'backup_container ran in the forked, mapped child');
isnt($report->{child_node}, $report->{parent_node}, 'from a Node process of its own, started in the child');
is($report->{after_child}, $report->{parent_node}, "the parent's job process served the calls after the child");
ok($report->{size} > 0, 'archive-size reported');
ok(wait_gone($_, 10), "Node process $_ is gone after the job") for grep { $_ } $report->{parent_node}, $report->{child_node};
ok(!-e "$snap/etc/hostname", 'the mount stayed in the private namespace');

my $volname = "backup/$report->{archive}";
my $restore = $plugin->new_backup_provider($scfg, 'ctbk', sub {});
is_deeply([ $restore->restore_get_mechanism($volname, 'ctbk') ], [ 'tar', 'lxc' ], 'restore mechanism tar');
my $tar = $restore->restore_container_init($volname, 'ctbk', {})->{'tar-path'};
my $listing = `tar --numeric-owner -tvf '$tar'`;
like($listing, qr{^\S+ 1000/1000 .* \./home/user/\.profile$}m, 'the archive records the in-container owner 1000');
like($listing, qr{^\S+ 0/0 .* \./etc/hostname$}m, 'and 0 for the container root');
unlike($listing, qr{tmp/skipped}, 'standard excludes applied');

# pct restore: root reads the archive, tar extracts it from stdin inside the container's user namespace.
make_path($restored, { mode => 0755 });
chown($SHIFT, $SHIFT, $restored);
open(my $archive, '<', $tar) or die "$tar: $!";
my ($status, $text) = run_mapped($SHIFT, 65536, sub {
    open(STDIN, '<&', $archive) or die "stdin: $!";
    my $out = `tar xpf - --numeric-owner --xattrs --acls -C '$restored' 2>&1`;
    return $? == 0 ? 'ok' : "tar failed: $out";
});
is($text, 'ok', 'extracted as the mapped root');
$restore->restore_container_cleanup($volname, 'ctbk', {});
for my $file (sort grep { $_ ne 'tmp/skipped' } keys %files) {
    my @source = (stat("$tree/$file"))[4, 5];
    my @copy = (stat("$restored/$file"))[4, 5];
    is_deeply(\@copy, \@source, "$file: owner " . join(':', @source) . ' kept');
    is(read_file("$restored/$file"), $files{$file}->[1], "$file: content");
}
my $pid = $restore->bp_server_pid();
undef $restore;
ok(wait_gone($pid, 10), 'restore process gone');

BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);
done_testing();
