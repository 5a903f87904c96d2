package BPTest::Vm;

# STAND-IN, not Proxmox code, written from the spec (pve-backup-provider.md 1.1, 1.2, 1.4): the
# parts of vzdump (PVE/VZDump.pm), qemu-server (PVE/VZDump/QemuServer.pm archive_external and
# cleanup, restore_external_archive) and qmrestore that drive a backup provider for a VM, in
# their order and with their argument shapes and quirks:
#
#   - vzdump: new_backup_provider once per job, job_init, per guest backup_init, provider_name
#     twice, backup_get_mechanism, backup_vm_query_incremental, backup_vm, backup_cleanup(1)
#     before the guest cleanup, or backup_cleanup(0, { error }) after it, backup_handle_log_file
#     on success and failure, job_cleanup;
#   - qemu-server: the snapshot access comes from t/fixtures/qemu-standin.mjs (the stand-in for
#     PVE's patched QEMU: @bp/host's openVm/setupAccess with PVE's bitmap naming); the NBD socket
#     path is handed over in qemu-server's form, `<rundir>/` joined with `/<vmid>-nbd...` (a
#     literal `//`); mechanism `file-handle` gets an nbdfuse file opened O_RDWR | O_DIRECT and a
#     `next-dirty-region` closure over `nbdinfo --map` whose exit status nobody checks;
#     teardown success = "backup_vm returned";
#   - qmrestore: provider #2 for the early config check with the extra $storeid, then on #1
#     restore_get_mechanism, restore_vm_init, the configs, per device (sorted by virtdev)
#     restore_vm_volume_init, an untrusted stat, `qemu-img convert -n -f raw` into a target
#     created with ceil(size / 1024) KiB, restore_vm_volume_cleanup, restore_vm_cleanup always.

use strict;
use warnings;

use Fcntl qw(O_RDWR O_DIRECT);
use File::Path qw(make_path);
use File::Basename ();
use File::Spec ();
use IPC::Open2 ();
use JSON ();
use POSIX ();
use Time::HiRes ();

our @EXPORT_OK = qw(vzdump_vm qmrestore qemu_img);
use base 'Exporter';

my $JSON = JSON->new->utf8->canonical;

sub qemu_img {
    my @args = @_;
    my $output = `qemu-img @{[ map { "'$_'" } @args ]} 2>&1`;
    die "qemu-img @args failed: $output" if $?;
    return $output;
}

# --- the QEMU stand-in -------------------------------------------------------------------------

package BPTest::Vm::Qemu;

sub start {
    my ($class, $bridge, $log_dir) = @_;
    my $stderr = "$log_dir/qemu-standin.log";
    my $script = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . '/../../fixtures/qemu-standin.mjs');
    open(my $olderr, '>&', \*STDERR) or die;
    open(STDERR, '>>', $stderr) or die "$stderr: $!";
    my $pid = IPC::Open2::open2(my $out, my $in, $bridge->{node}, @{ $bridge->{node_args} // [] }, $script);
    open(STDERR, '>&', $olderr) or die;
    return bless { pid => $pid, out => $out, in => $in, stderr => $stderr }, $class;
}

sub request {
    my ($self, $request) = @_;
    my $in = $self->{in};
    print $in $JSON->encode($request) . "\n";
    $in->flush();
    my $out = $self->{out};
    my $line = <$out>;
    if (!defined($line)) {
        my $log = BPTest::read_file($self->{stderr}) // '';
        die "the QEMU stand-in ended during $request->{cmd}: $log\n";
    }
    my $reply = $JSON->decode($line);
    die "QEMU stand-in: $reply->{error}\n" if $reply->{error};
    return $reply;
}

sub stop {
    my ($self) = @_;
    return if !$self->{pid};
    eval { $self->request({ cmd => 'close' }) };
    close($self->{in});
    waitpid($self->{pid}, 0);
    $self->{pid} = 0;
}

sub DESTROY {
    my ($self) = @_;
    local ($@, $?);
    $self->stop();
}

package BPTest::Vm;

# --- qemu-server's file-handle mechanism -------------------------------------------------------

# nbdfuse presents the export as a file; the handle is opened O_RDWR | O_DIRECT as qemu-server
# does. Returns ($volume entries, cleanup sub).
sub file_handle_volume {
    my ($rundir, $vmid, $device, $socket, $volume) = @_;
    my $dir = "$rundir/$vmid-nbd.backup-access.$device.$$";
    make_path($dir, { mode => 0700 });
    my $uri = "nbd+unix:///$device?socket=$socket";
    my $fuse = fork() // die "fork: $!";
    if (!$fuse) {
        open(STDIN, '<', '/dev/null');
        open(STDERR, '>>', "$rundir/nbdfuse.log");
        exec('nbdfuse', '--pidfile', "$dir.pid", "$dir/$device", $uri) or POSIX::_exit(127);
    }
    my $deadline = Time::HiRes::time() + 30;
    until (-s "$dir.pid" && -e "$dir/$device") {
        die "nbdfuse for $device did not start\n" if Time::HiRes::time() > $deadline || waitpid($fuse, POSIX::WNOHANG()) != 0;
        Time::HiRes::sleep(0.02);
    }
    sysopen(my $fh, "$dir/$device", O_RDWR | O_DIRECT) or die "open $dir/$device: $!\n";
    my ($next, $map_pid);
    if (defined($volume->{'bitmap-name'})) {
        $map_pid = open(my $map, '-|', 'nbdinfo', "--map=qemu:dirty-bitmap:$volume->{'bitmap-name'}", $uri)
            // die "nbdinfo: $!\n";
        $next = sub {
            while (defined(my $line = <$map>)) {
                my ($offset, $length, $type) = $line =~ /^\s*(\d+)\s+(\d+)\s+(\d+)/ or next;
                return ($offset, $length) if $type & 1;
            }
            return; # end of output; like qemu-server, nobody looks at nbdinfo's exit status
        };
    } else {
        my $done = 0;
        $next = sub { return if $done++; return (0, $volume->{size}) };
    }
    my $cleanup = sub {
        close($fh);
        system('fusermount3', '-u', '-q', $dir);
        for my $pid (grep { $_ } $map_pid, $fuse) {
            kill('TERM', $pid);
            waitpid($pid, 0);
        }
        unlink("$dir.pid");
        rmdir($dir);
    };
    return ({ 'file-handle' => $fh, 'next-dirty-region' => $next }, $cleanup);
}

# --- vzdump ------------------------------------------------------------------------------------

sub _append_log {
    my ($file, $line) = @_;
    open(my $fh, '>>', $file) or die "$file: $!";
    print $fh "INFO: $line\n";
    close($fh);
}

# One vzdump job of VM guests. %args: plugin, scfg, storeid, scratch, bridge (the generated
# module's $BRIDGE: which node runs the stand-in), log, guests => [ { vmid, time, disks =>
# [ { virtdev, image, format } ], config, firewall?, bwlimit? (KiB/s) } ], hooks => {
# volumes => sub ($provider, $volumes) before backup_vm, after_backup_vm => sub ($provider) }.
# Returns { guests => [ { vmid, archive, error, size, status, answers, mechanism } ], pid, trace }.
sub vzdump_vm {
    my (%args) = @_;
    my ($plugin, $scfg, $storeid) = @args{qw(plugin scfg storeid)};
    my $hooks = $args{hooks} // {};
    my @trace;
    $plugin->activate_storage($storeid, $scfg, {});
    my $provider = $plugin->new_backup_provider($scfg, $storeid, $args{log});
    my $start = $args{start_time} // time();
    my @results;
    my $job_error;
    eval {
        $provider->job_init($start);
        for my $guest (sort { $a->{vmid} <=> $b->{vmid} } @{ $args{guests} }) {
            push @results, _backup_guest($provider, \%args, $guest, $hooks, \@trace);
        }
        $provider->job_cleanup();
    };
    if ($job_error = $@ || undef) {
        eval { $provider->job_cleanup() };
    }
    my $pid = $provider->bp_server_pid();
    undef $provider;
    return { guests => \@results, pid => $pid, trace => \@trace, error => $job_error };
}

sub _backup_guest {
    my ($provider, $args, $guest, $hooks, $trace) = @_;
    my ($storeid, $scratch) = @$args{qw(storeid scratch)};
    my $vmid = $guest->{vmid};
    my $tmplog = "$scratch/qemu-$vmid.log";
    unlink($tmplog);
    _append_log($tmplog, "Starting Backup of VM $vmid (qemu)");
    my $result = { vmid => $vmid, status => 'ok' };
    my ($qemu, @cleanups);
    my $backup_vm_returned = 0;
    eval {
        my $init = $provider->backup_init($vmid, 'qemu', $guest->{time});
        my $archive = ref($init) eq 'HASH' ? $init->{'archive-name'} : undef;
        die "backup init failed: no archive name\n" if !$archive || $archive !~ m{^([a-zA-Z0-9\-\.\+\=\_]|/|:)+$};
        $result->{archive} = $archive;
        push @$trace, 'backup_init';
        my $name = $provider->provider_name();
        _append_log($tmplog, "creating $name archive '$storeid:backup/$archive'");
        # archive_external
        my $rundir = "$scratch/$vmid.backup-access.$$/";
        make_path($rundir, { mode => 0700 });
        push @cleanups, sub { File::Path::remove_tree($rundir) };
        _append_log($tmplog, 'starting external backup via ' . $provider->provider_name());
        $qemu = BPTest::Vm::Qemu->start($args->{bridge}, $scratch);
        my $devices = $qemu->request({ cmd => 'open', disks => $guest->{disks}, workDir => "$scratch/qemu-$vmid" })->{devices};
        my $mechanism = $provider->backup_get_mechanism($vmid, 'qemu');
        die "unsupported mechanism '$mechanism'\n" if $mechanism ne 'nbd' && $mechanism ne 'file-handle';
        $result->{mechanism} = $mechanism;
        my $answers = $provider->backup_vm_query_incremental($vmid, { map { $_ => { size => $devices->{$_}->{size} } } keys %$devices });
        for my $device (keys %{ $answers // {} }) {
            die "invalid incremental answer for $device\n" if $answers->{$device} !~ /^(new|use|none)$/;
        }
        $result->{answers} = $answers;
        my $setup = $qemu->request({ cmd => 'setup', storeid => $storeid, answers => $answers });
        $result->{bitmap_status} = $setup->{status};
        # qemu-server's socket: "<rundir>/" . "/<vmid>-nbd.backup-access"
        my $socket = $rundir . "/$vmid-nbd.backup-access";
        symlink($setup->{nbdPath}, $socket) or die "symlink: $!";
        my $volumes = {};
        for my $device (sort keys %{ $setup->{volumes} }) {
            my $volume = $setup->{volumes}->{$device};
            my $entry = { size => $volume->{size}, 'bitmap-mode' => $volume->{'bitmap-mode'} };
            if ($mechanism eq 'nbd') {
                $entry->{'nbd-path'} = $socket;
                $entry->{'bitmap-name'} = $volume->{'bitmap-name'};
            } else {
                my ($extra, $cleanup) = file_handle_volume($rundir, $vmid, $device, $socket, $volume);
                unshift @cleanups, $cleanup;
                %$entry = (%$entry, %$extra);
            }
            $volumes->{$device} = $entry;
        }
        my $info = {};
        $info->{'bandwidth-limit'} = $guest->{bwlimit} * 1024 if $guest->{bwlimit};
        $info->{'firewall-config'} = $guest->{firewall} if defined($guest->{firewall});
        $hooks->{volumes}->($provider, $volumes) if $hooks->{volumes};
        push @$trace, 'backup_vm';
        $provider->backup_vm($vmid, $guest->{config}, $volumes, $info);
        $backup_vm_returned = 1;
        $hooks->{after_backup_vm}->($provider) if $hooks->{after_backup_vm};
        my $cleanup = $provider->backup_cleanup($vmid, 'qemu', 1, {});
        push @$trace, 'backup_cleanup(1)';
        $result->{size} = $cleanup->{stats}->{'archive-size'};
    };
    my $err = $@;
    # the guest plugin's cleanup: file handles and FUSE mounts, exports, backup-access-teardown
    $_->() for @cleanups;
    if ($qemu) {
        eval { $qemu->request({ cmd => 'teardown', success => $backup_vm_returned ? JSON::true : JSON::false }) };
        $qemu->stop();
    }
    if ($err) {
        $result->{status} = 'error';
        $result->{error} = $err;
        push @$trace, 'backup_cleanup(0)';
        eval { $provider->backup_cleanup($vmid, 'qemu', 0, { error => $err }) };
        $result->{cleanup_error} = $@ if $@;
    }
    $provider->backup_handle_log_file($vmid, $tmplog);
    push @$trace, 'backup_handle_log_file';
    return $result;
}

# --- qmrestore ---------------------------------------------------------------------------------

# Restores backup $volname into raw images "<target_dir>/<virtdev>.raw". Returns { config,
# firewall, early_config, disks => { virtdev => path }, pids }.
sub qmrestore {
    my (%args) = @_;
    my ($plugin, $scfg, $storeid, $volname, $target_dir) = @args{qw(plugin scfg storeid volname target_dir)};
    my $log = $args{log} // sub {};
    my @pids;
    my $restore = $plugin->new_backup_provider($scfg, $storeid, $log);
    my $early = do {
        my $check = $plugin->new_backup_provider($scfg, $storeid, $log);
        my $config = eval { $check->archive_get_guest_config($volname, $storeid) };
        push @pids, $check->bp_server_pid();
        $config;
    };
    my ($mechanism, $vmtype) = $restore->restore_get_mechanism($volname);
    die "unexpected restore mechanism ($mechanism, $vmtype)\n" if $mechanism ne 'qemu-img' || $vmtype ne 'qemu';
    my %result = (early_config => $early, disks => {});
    eval {
        my $devices = $restore->restore_vm_init($volname);
        my $config = $restore->archive_get_guest_config($volname) or die "no guest config\n";
        $result{config} = $config;
        $result{firewall} = $restore->archive_get_firewall_config($volname);
        my %map;
        for my $line (split(/\n/, $config)) {
            next if $line !~ /^#qmdump#map:([^:]+):([^:]+):([^:]*):([^:]*):$/;
            $map{$1} = $2;
            die "archive does not contain data for drive '$1'\n" if !$devices->{$2};
        }
        for my $virtdev (sort keys %map) {
            my $target = "$target_dir/$virtdev.raw";
            my $kib = POSIX::ceil($devices->{ $map{$virtdev} }->{size} / 1024);
            BPTest::Vm::qemu_img('create', '-q', '-f', 'raw', $target, "${kib}K");
            $result{disks}->{$virtdev} = $target;
        }
        for my $virtdev (sort keys %map) {
            my $device = $map{$virtdev};
            my $init = $restore->restore_vm_volume_init($volname, $device, {});
            my $path = $init->{'qemu-img-path'} or die "no qemu-img-path for $device\n";
            die "untrusted source $path does not stat\n" if !stat($path);
            my $output = `qemu-img convert -p -n -f raw -O raw '$path' '$result{disks}->{$virtdev}' 2>&1`;
            my $converted = $? == 0;
            eval { $restore->restore_vm_volume_cleanup($volname, $device, {}) };
            die $@ if $@ && $converted;
            die "qemu-img convert of $device failed: $output" if !$converted;
        }
    };
    my $err = $@;
    eval { $restore->restore_vm_cleanup($volname) };
    warn "restore_vm_cleanup failed: $@" if $@;
    push @pids, $restore->bp_server_pid();
    undef $restore;
    $result{pids} = \@pids;
    die $err if $err;
    return \%result;
}

1;
