# The bridge itself, driven through the probe plugin: argument translation both ways, log lines
# streamed while a call runs, errors as dies with BP codes, cancellation when the Perl side dies,
# a Node crash mid-call, the version check, and no Node process left after a job.
use strict;
use warnings;

use Test::More;
use JSON ();
use Time::HiRes ();

use BPTest qw(scratch_dir collector alive wait_gone read_file slurp_lines);
use PVE::Storage;
use PVE::Storage::Custom::BpProbePlugin;

my $plugin = 'PVE::Storage::Custom::BpProbePlugin';
my $store = scratch_dir();
my $scfg = {
    type => 'bp-probe', path => $store, content => { backup => 1 }, digest => 'abc', shared => 0,
    nodes => { pve2 => 1, pve1 => 1 }, 'probe-level' => '3', 'probe-flag' => 1, disable => 0,
};
$PVE::Storage::CONFIG = { ids => { probe1 => $scfg } };
my $calls = "$store/calls.log";
sub json_file { JSON->new->utf8->decode(read_file("$store/$_[0]")) }

subtest 'scfg becomes the plugin config' => sub {
    is_deeply($plugin->list_volumes('probe1', $scfg, undef, undef), [], 'list_volumes');
    is_deeply(json_file('config.json'), {
        path => $store, nodes => [ 'pve1', 'pve2' ], 'probe-level' => 3, 'probe-flag' => JSON::true,
        disable => JSON::false, 'probe-mode' => 'calm',
    }, 'type/content/digest/shared dropped, nodes hash -> list, "3" -> 3, 1/0 -> booleans, default applied');
    is_deeply($plugin->list_volumes('probe1', $scfg, undef, ['images']), [], 'content types without backup: nothing');
    eval { $plugin->list_volumes('probe1', { %$scfg, 'probe-level' => 'x' }) };
    like($@, qr/^BP_INVALID_CONFIG: .*probe1.*probe-level/, 'invalid config dies with BP_INVALID_CONFIG naming the storage and key');
};

subtest 'storage calls: lists, scalars, errors, logfunc' => sub {
    is_deeply([ $plugin->status('probe1', $scfg) ], [ 3, 2, 1, 1 ], 'status (total, avail, used, active)');
    my @size = $plugin->volume_size_info($scfg, 'probe1', 'backup/100/qemu-5', 10);
    is_deeply(\@size, [ 1, 'probe', 1, undef, 1 ], 'volume_size_info in list context');
    my $size = $plugin->volume_size_info($scfg, 'probe1', 'backup/100/qemu-5', 10);
    is($size, 1, 'volume_size_info in scalar context');
    is_deeply([ $plugin->parse_volname('backup/100/qemu-5') ], [ 'backup', '100/qemu-5', 100 ], 'parse_volname');
    eval { $plugin->parse_volname('backup/oops') };
    like($@, qr/^BP_INVALID_VOLUME_ID: not a probe volume/, 'parse_volname error');
    is_deeply([ $plugin->path($scfg, 'backup/100/qemu-5', 'probe1') ], [ "$store/100/qemu-5", 100, 'backup' ], 'path');
    eval { $plugin->free_image('probe1', $scfg, 'backup/100/qemu-5') };
    like($@, qr/^BP_PROVIDER_FAILED: plain error, not a BpError\n\z/, 'a plain Error becomes BP_PROVIDER_FAILED');
    my ($log, $lines) = collector();
    is_deeply($plugin->prune_backups($scfg, 'probe1', { 'keep-last' => '2' }, 100, 'qemu', 1, $log), [], 'prune_backups');
    like($lines->[0]->[2], qr/^prune \{"keep-last":2\} \{"vmid":100,"type":"qemu","dryRun":true\}/, 'prune arguments translated, log line relayed');
    is($plugin->get_volume_attribute($scfg, 'probe1', 'backup/100/qemu-5', 'notes'), undef, 'unsupported attribute is undef');
    ok(alive(BP::PVE::Bridge::storage_server_pid($PVE::Storage::Custom::BpProbePlugin::BRIDGE)), 'one storage process serves them');
};

subtest 'provider: arguments and results' => sub {
    my ($log, $lines) = collector();
    my $provider = $plugin->new_backup_provider($scfg, 'probe1', $log);
    like($provider->provider_name(), qr/^probe pid \d+$/, 'provider_name');
    my $pid = $provider->bp_server_pid();
    ok(alive($pid), "job process $pid runs");
    is_deeply($provider->backup_init(100, 'qemu', '1700000000'), { 'archive-name' => '100/qemu-1700000000' }, 'backup_init: hyphenated result key, integer held as string accepted');
    is($provider->backup_get_mechanism(100, 'qemu'), 'nbd', 'backup_get_mechanism');
    is_deeply($provider->backup_vm_query_incremental(100, { 'drive-scsi0' => { size => '1048576' } }), { 'drive-scsi0' => 'new' }, 'query_incremental');
    my $config = "boot: order=scsi0\nname: g\xc3\xa4st\n#qmdump#map:scsi0:drive-scsi0:local:raw:\n";
    my $firewall = "[OPTIONS]\nenable: 1\n# \xe2\x9c\x93\n";
    $provider->backup_vm(100, $config, {
        'drive-scsi0' => { size => 1048576, 'bitmap-mode' => 'new', 'nbd-path' => '/run/qemu-server/100.backup-access.7//100-nbd.backup-access', 'bitmap-name' => 'snapshot-access:probe1' },
        'drive-efidisk0' => { size => '131072', 'bitmap-mode' => 'none', 'nbd-path' => '/run/x.sock', 'bitmap-name' => undef },
    }, { 'bandwidth-limit' => 10485760, 'firewall-config' => $firewall });
    my $vm = json_file('vm-100.json');
    my $expected_config = $config;
    utf8::decode($expected_config);
    is($vm->{guestConfig}, $expected_config, 'guest config arrives as the same UTF-8 text');
    is_deeply($vm->{volumes}->{'drive-scsi0'}, {
        mechanism => 'nbd', size => 1048576, bitmapMode => 'new', exportName => 'drive-scsi0',
        nbdPath => '/run/qemu-server/100.backup-access.7//100-nbd.backup-access', bitmapName => 'snapshot-access:probe1',
    }, 'nbd volume translated');
    ok(!exists $vm->{volumes}->{'drive-efidisk0'}->{bitmapName}, 'undef bitmap-name is absent');
    is($vm->{volumes}->{'drive-efidisk0'}->{size}, 131072, 'size string -> integer');
    is($vm->{info}->{bandwidthLimit}, 10485760, 'bandwidth-limit -> bandwidthLimit');
    my $expected_fw = $firewall;
    utf8::decode($expected_fw);
    is($vm->{info}->{firewallConfig}, $expected_fw, 'firewall-config -> firewallConfig');

    $provider->backup_container_prepare(200, { directory => '/mnt/vzsnap0', sources => [ './', './srv/data' ], 'backup-user-id' => '100000', 'firewall-config' => '' });
    is_deeply(json_file('ct-prepare-200.json'), { directory => '/mnt/vzsnap0', sources => [ './', './srv/data' ], backupUserId => 100000, firewallConfig => '' }, 'container info translated');
    $provider->backup_container(200, "arch: amd64\n", [ '/tmp/?*', 'cache' ], { directory => '/d', sources => ['.'], 'backup-user-id' => 0, 'firewall-config' => "x\n", 'bandwidth-limit' => 0 });
    my $ct = json_file('ct-200.json');
    is_deeply($ct->{excludePatterns}, [ '/tmp/?*', 'cache' ], 'exclude patterns');
    ok(!exists $ct->{info}->{bandwidthLimit}, 'bandwidth-limit 0 = unlimited = absent');

    is_deeply($provider->backup_cleanup(100, 'qemu', 1, {}), { stats => { 'archive-size' => 4096 } }, 'backup_cleanup success: stats.archive-size');
    is_deeply($provider->backup_cleanup(101, undef, 0, { error => "boom\n" }), {}, 'backup_cleanup failure with undef vmtype');
    like(slurp_lines($calls)->[-1], qr/^backup_cleanup 101 undefined false \{"error":"boom\\n"\}$/, 'undef -> undefined, 0 -> false, error text kept');

    is_deeply([ $provider->restore_get_mechanism('backup/200/lxc-5', 'probe1') ], [ 'tar', 'lxc' ], 'restore_get_mechanism returns a list (extra $storeid ignored)');
    my $guest = $provider->archive_get_guest_config('backup/100/qemu-5', 'probe1');
    is($guest, "config of backup/100/qemu-5\nn\xc3\xa4me: \xe2\x9c\x93\n", 'guest config returned as UTF-8 bytes');
    ok(!utf8::is_utf8($guest), 'as a byte string');
    is($provider->archive_get_firewall_config('backup/100/qemu-5'), undef, 'absent firewall config is undef');
    is_deeply($provider->restore_vm_init('backup/100/qemu-5'), { 'drive-scsi0' => { size => 1048576 } }, 'restore_vm_init');
    is_deeply($provider->restore_vm_volume_init('backup/100/qemu-5', 'drive-scsi0', {}), { 'qemu-img-path' => '/dev/probe/drive-scsi0' }, 'qemu-img-path');
    is_deeply($provider->restore_container_init('backup/200/lxc-5', 'probe1', {}), { 'tar-path' => '/probe/archive.tar' }, 'restore_container_init as pve-container calls it ($storeid second)');
    is_deeply($provider->restore_container_init('backup/200/lxc-6', {}), { 'tar-path' => '/probe/archive.tar' }, 'and as Base.pm documents it');
    $provider->restore_container_cleanup('backup/200/lxc-5', 'probe1', {});
    like(slurp_lines($calls)->[-1], qr/^restore_container_cleanup backup\/200\/lxc-5 \{\}$/, 'cleanup with the quirk');

    eval { $provider->backup_init(666, 'qemu', 1) };
    is($@, "BP_LOCKED: guest 666 is locked by another job; wait for it\n", 'a BpError dies as "CODE: message\n"');
    eval { $provider->backup_init(100, 'openvz', 1) };
    like($@, qr/^BP_INVALID_ARGUMENT: vmtype must be qemu or lxc/, 'bad arguments die with BP_INVALID_ARGUMENT');
    is($provider->bp_server_pid(), $pid, 'the same process served every call');
    undef $provider;
    ok(wait_gone($pid, 5), 'the job process is gone once the provider object is');
};

subtest 'log lines are streamed while the call runs' => sub {
    my ($log, $lines) = collector();
    my $provider = $plugin->new_backup_provider($scfg, 'probe1', $log);
    $provider->provider_name(); # start the process first
    my $start = Time::HiRes::time();
    $provider->job_init('1700000000');
    my $end = Time::HiRes::time();
    is(scalar(@$lines), 3, 'three lines');
    like($lines->[0]->[2], qr/^line 1 at \d+$/, 'text');
    ok($end - $lines->[0]->[0] >= 0.5, sprintf('first line arrived %.2f s before the call returned', $end - $lines->[0]->[0]));
    like(slurp_lines($calls)->[-1], qr/^job_init number 1700000000$/, 'start time as a number');
    $provider->job_cleanup();
    like(slurp_lines($calls)->[-1], qr/^job_cleanup seen=job_init 1700000000$/, 'state kept between calls of one job lives in the job process');
    my $pid = $provider->bp_server_pid();
    $provider->bp_finish();
    ok(wait_gone($pid, 5), 'gone after bp_finish');
};

subtest 'a die on the Perl side aborts the TS call' => sub {
    my $provider = $plugin->new_backup_provider($scfg, 'probe1', sub {});
    my $pid = ($provider->provider_name() =~ /(\d+)$/)[0];
    local $SIG{ALRM} = sub { die "interrupted by signal\n" };
    Time::HiRes::alarm(0.5);
    eval { $provider->backup_vm(999, "x\n", {}, {}) };
    Time::HiRes::alarm(0);
    is($@, "interrupted by signal\n", "vzdump's signal die propagates");
    my $deadline = Time::HiRes::time() + 5;
    Time::HiRes::sleep(0.05) while (slurp_lines($calls)->[-1] // '') !~ /^backup_vm 999 aborted$/ && Time::HiRes::time() < $deadline;
    is(slurp_lines($calls)->[-1], 'backup_vm 999 aborted', "the provider saw its AbortSignal");
    is_deeply($provider->backup_cleanup(999, 'qemu', 0, { error => "interrupted by signal\n" }), {}, 'the job goes on with the next call');
    undef $provider;
    ok(wait_gone($pid, 5), 'job process gone');
};

subtest 'a crash of the Node process fails the call, the next call works' => sub {
    my ($log, $lines) = collector();
    my $provider = $plugin->new_backup_provider($scfg, 'probe1', $log);
    $provider->provider_name();
    my $pid = $provider->bp_server_pid();
    eval { $provider->backup_handle_log_file(100, '/crash') };
    like($@, qr/^BP_BRIDGE_DIED: the bp job process of storage type 'bp-probe' \(pid $pid\) ended during provider\.backup_handle_log_file/, 'BP_BRIDGE_DIED names process and call');
    is($lines->[0]->[2], 'about to crash', 'lines logged before the crash arrived');
    ok(wait_gone($pid, 5), 'the crashed process is reaped');
    like($provider->provider_name(), qr/^probe pid \d+$/, 'the next call starts a fresh process');
    isnt($provider->bp_server_pid(), $pid, 'a new one');
    my $second = $provider->bp_server_pid();
    undef $provider;
    ok(wait_gone($second, 5), 'and it is gone after the job');
};

subtest 'a killed Perl parent takes the job process with it' => sub {
    pipe(my $read, my $write) or die;
    my $child = fork() // die;
    if (!$child) {
        close($read);
        my $provider = $plugin->new_backup_provider($scfg, 'probe1', sub {});
        $provider->provider_name();
        syswrite($write, $provider->bp_server_pid() . "\n");
        sleep(60);
        exit(0);
    }
    close($write);
    chomp(my $pid = <$read>);
    ok(alive($pid), "job process $pid of the child runs");
    kill('KILL', $child);
    waitpid($child, 0);
    ok(wait_gone($pid, 5), 'gone after the parent was killed');
};

subtest 'protocol version is checked at connect' => sub {
    local $BP::PVE::Bridge::PROTOCOL = 4;
    my $provider = $plugin->new_backup_provider($scfg, 'probe1', sub {});
    eval { $provider->provider_name() };
    like($@, qr/^BP_BRIDGE_PROTOCOL: the Perl module speaks protocol 4 .* this Node process protocol 3/, 'mismatch dies with BP_BRIDGE_PROTOCOL');
    is($provider->bp_server_pid(), 0, 'and leaves no process');
};

BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpProbePlugin::BRIDGE);
done_testing();
