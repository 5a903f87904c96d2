# @bp/dir-example through the generated modules, replaying PVE's calls: container backups made by
# a vzdump-ordered job (spec 1.1 / 1.3, privileged container, so backup_container runs in the
# job process as vzdump does), then the storage side (list, size, parse_volname/path, notes,
# protected, free_image, prune, status, activate), then pct restore's calls (spec 1.5).
use strict;
use warnings;

use Test::More;
use File::Path qw(make_path);

use BPTest qw(scratch_dir collector alive wait_gone read_file);
use PVE::Storage;
use PVE::Storage::Custom::BpDirPlugin;

my $plugin = 'PVE::Storage::Custom::BpDirPlugin';
my $store = scratch_dir();
my $scfg = { type => 'bp-dir', path => $store, content => { backup => 1 }, 'lxc-backup-mode' => 'tar', 'max-protected-backups' => '5' };
$PVE::Storage::CONFIG = { ids => { dirbk => $scfg } };

# A small container tree (PVE restores check for >= 10 members and an sbin entry).
my $root = scratch_dir();
make_path("$root/$_") for qw(sbin etc var/log tmp home/user);
for my $file ('etc/hostname', 'etc/motd', 'var/log/syslog', 'home/user/n\xc3\xa4me.txt', 'sbin/init', 'tmp/skipped') {
    open(my $fh, '>', "$root/$file") or die; print $fh "content of $file\n"; close($fh);
}
my $pct_conf = "arch: amd64\nhostname: ct200\nrootfs: local:200/vm-200-disk-0.raw,size=8G\n# n\xc3\xa4me \xe2\x9c\x93\n";

sub backup_job {
    my ($vmid, $time, $notes) = @_;
    my ($log, $lines) = collector();
    my @trace;
    my $provider = $plugin->new_backup_provider($scfg, 'dirbk', $log);
    $plugin->activate_storage('dirbk', $scfg, {});
    $provider->job_init($time);
    my $init = $provider->backup_init($vmid, 'lxc', $time);
    my $archive = $init->{'archive-name'};
    $provider->provider_name();
    $provider->provider_name();
    my $mechanism = $provider->backup_get_mechanism($vmid, 'lxc');
    my $info = { directory => $root, sources => ['./'], 'backup-user-id' => 0, 'firewall-config' => '' };
    $provider->backup_container_prepare($vmid, $info);
    $provider->backup_container($vmid, $pct_conf, [ '/tmp/?*', '/var/tmp/?*', '/var/run/?*.pid' ], $info);
    $plugin->update_volume_attribute($scfg, 'dirbk', "backup/$archive", 'notes', $notes) if defined($notes);
    my $cleanup = $provider->backup_cleanup($vmid, 'lxc', 1, {});
    my $logfile = scratch_dir() . '/lxc.log';
    open(my $fh, '>', $logfile) or die; print $fh "INFO: task log\n"; close($fh);
    $provider->backup_handle_log_file($vmid, $logfile);
    $provider->job_cleanup();
    my $pid = $provider->bp_server_pid();
    undef $provider;
    ok(wait_gone($pid, 10), "job process of backup $archive is gone after the job");
    return { archive => $archive, mechanism => $mechanism, cleanup => $cleanup, lines => $lines };
}

my $first = backup_job(200, 1700000000, "first line\nsecond");
like($first->{archive}, qr{^200/lxc-}, "archive name $first->{archive}");
is($first->{mechanism}, 'directory', 'containers use the directory mechanism');
ok($first->{cleanup}->{stats}->{'archive-size'} > 0, 'backup_cleanup reports archive-size');
ok(scalar(@{ $first->{lines} }) > 0, 'provider log lines reached the log function');
my $second = backup_job(200, 1700003600, "n\xc3\xa4me \xe2\x9c\x93");
my $third = backup_job(200, 1700007200);
my $volid = "dirbk:backup/$first->{archive}";

subtest 'list_volumes' => sub {
    my $all = $plugin->list_volumes('dirbk', $scfg, undef, undef);
    is(scalar(@$all), 3, 'three backups');
    my ($entry) = grep { $_->{volid} eq $volid } @$all;
    is($entry->{vmid}, 200, 'vmid');
    is($entry->{subtype}, 'lxc', 'subtype');
    is($entry->{content}, 'backup', 'content');
    is($entry->{ctime}, 1700000000, 'ctime');
    ok($entry->{size} > 0, 'size');
    is($entry->{notes}, 'first line', 'notes: the first line');
    is($entry->{protected}, 0, 'protected as 0');
    is_deeply($plugin->list_volumes('dirbk', $scfg, 201, undef), [], 'filter by vmid');
    is_deeply($plugin->list_volumes('dirbk', $scfg, undef, [ 'images', 'rootdir' ]), [], 'content types without backup');
    is(scalar(@{ $plugin->list_volumes('dirbk', $scfg, 200, ['backup']) }), 3, 'vmid and content types');
};

subtest 'sizes, names, paths' => sub {
    my $volname = "backup/$first->{archive}";
    my @info = $plugin->volume_size_info($scfg, 'dirbk', $volname, 5);
    is(scalar(@info), 5, 'list context: (size, format, used, parent, ctime)');
    ok($info[0] > 0, 'size');
    is($info[1], 'directory', 'format');
    is($info[4], 1700000000, 'ctime');
    my $size = $plugin->volume_size_info($scfg, 'dirbk', $volname, 5);
    is($size, $info[0], 'scalar context: the size');
    is_deeply([ $plugin->parse_volname($volname) ], [ 'backup', $first->{archive}, 200 ], 'parse_volname');
    eval { $plugin->parse_volname('backup/../etc') };
    like($@, qr/^BP_INVALID_VOLUME_ID: /, 'a bad volume name dies with BP_INVALID_VOLUME_ID');
    my @path = $plugin->path($scfg, $volname, 'dirbk');
    is_deeply([ @path[1, 2] ], [ 200, 'backup' ], 'path: owner and vtype');
    ok(-d $path[0], "path $path[0] is the backup directory");
    eval { $plugin->path($scfg, $volname, 'dirbk', 'snap1') };
    like($@, qr/^BP_NOT_SUPPORTED: /, 'no snapshots');
    eval { $plugin->volume_size_info($scfg, 'dirbk', 'backup/200/lxc-1600000000', 5) };
    like($@, qr/^BP_NOT_FOUND: /, 'a missing backup dies with BP_NOT_FOUND');
};

subtest 'notes and protected' => sub {
    my $volname = "backup/$second->{archive}";
    is($plugin->get_volume_attribute($scfg, 'dirbk', $volname, 'notes'), "n\xc3\xa4me \xe2\x9c\x93", 'notes byte-exact');
    is($plugin->get_volume_attribute($scfg, 'dirbk', $volname, 'protected'), 0, 'not protected');
    $plugin->update_volume_attribute($scfg, 'dirbk', $volname, 'protected', 1);
    is($plugin->get_volume_attribute($scfg, 'dirbk', $volname, 'protected'), 1, 'protected');
    my ($entry) = grep { $_->{volid} eq "dirbk:$volname" } @{ $plugin->list_volumes('dirbk', $scfg, 200) };
    is($entry->{protected}, 1, 'listed as protected');
    eval { $plugin->free_image('dirbk', $scfg, $volname, 0, 'directory') };
    like($@, qr/^BP_PROTECTED: backup \Q$volname\E is protected/, 'free_image refuses a protected backup');
    ok(-d "$store/200/" . (split m{/}, $second->{archive})[1], 'and it is still there');
    is($plugin->get_volume_attribute($scfg, 'dirbk', $volname, 'unknown'), undef, 'unknown attribute: undef');
    eval { $plugin->update_volume_attribute($scfg, 'dirbk', $volname, 'unknown', 1) };
    like($@, qr/^BP_NOT_SUPPORTED: /, 'updating an unknown attribute dies');
};

subtest 'prune_backups' => sub {
    my ($log, $lines) = collector();
    my $dry = $plugin->prune_backups($scfg, 'dirbk', { 'keep-last' => 1 }, 200, 'lxc', 1, $log);
    my %mark = map { $_->{volid} => $_->{mark} } @$dry;
    is($mark{"dirbk:backup/$third->{archive}"}, 'keep', 'newest kept');
    is($mark{"dirbk:backup/$second->{archive}"}, 'protected', 'protected one marked protected');
    is($mark{$volid}, 'remove', 'oldest marked remove');
    is(scalar(@{ $plugin->list_volumes('dirbk', $scfg, 200) }), 3, 'dry run removes nothing');
    my $real = $plugin->prune_backups($scfg, 'dirbk', { 'keep-last' => '1' }, 200, 'lxc', 0, $log);
    is(scalar(grep { $_->{mark} eq 'remove' } @$real), 1, 'one removed');
    ok((grep { $_->[2] =~ /^removing backup '\Q$volid\E'/ } @$lines), 'removal logged through $logfunc');
    my @left = sort map { $_->{volid} } @{ $plugin->list_volumes('dirbk', $scfg, 200) };
    is_deeply(\@left, [ sort "dirbk:backup/$second->{archive}", "dirbk:backup/$third->{archive}" ], 'protected and newest remain');
    is_deeply($plugin->prune_backups($scfg, 'dirbk', { 'keep-last' => 1 }, 200, 'qemu', 1, $log), [], 'other guest type: nothing');
};

subtest 'free_image, status, activate_storage' => sub {
    my $volname = "backup/$third->{archive}";
    $plugin->free_image('dirbk', $scfg, $volname, 0, 'directory');
    is(scalar(@{ $plugin->list_volumes('dirbk', $scfg, 200) }), 1, 'deleted');
    my @status = $plugin->status('dirbk', $scfg, {});
    is(scalar(@status), 4, 'status: (total, avail, used, active)');
    ok($status[0] > 0 && $status[3] == 1, 'active with a size');
    my $missing = { %$scfg, path => "$store/missing" };
    eval { $plugin->activate_storage('dirbk', $missing, {}) };
    like($@, qr/^BP_STORAGE_UNAVAILABLE: unable to activate storage 'dirbk'/, 'activate_storage of a missing path');
    eval { $plugin->status('dirbk', { %$scfg, 'vm-backup-mode' => 'sometimes' }, {}) };
    like($@, qr/^BP_INVALID_CONFIG: .*dirbk.*vm-backup-mode/, 'invalid storage.cfg values die with BP_INVALID_CONFIG');
};

subtest 'pct restore' => sub {
    my $volname = "backup/$second->{archive}";
    my $a = $plugin->new_backup_provider($scfg, 'dirbk', sub {});
    is($a->archive_get_guest_config($volname, 'dirbk'), $pct_conf, 'object A: guest config byte-exact');
    my $b = $plugin->new_backup_provider($scfg, 'dirbk', sub {});
    is_deeply([ $b->restore_get_mechanism($volname, 'dirbk') ], [ 'tar', 'lxc' ], 'object B: (tar, lxc)');
    my $init = $b->restore_container_init($volname, 'dirbk', {});
    ok(-f $init->{'tar-path'}, "tar-path $init->{'tar-path'} is a file");
    my $listing = `tar -tf '$init->{'tar-path'}'`;
    like($listing, qr{^\./sbin/init$}m, 'the archive holds the tree');
    unlike($listing, qr{tmp/skipped}, 'standard excludes applied');
    $b->restore_container_cleanup($volname, 'dirbk', {});
    my $c = $plugin->new_backup_provider($scfg, 'dirbk', sub {});
    my $fw = $c->archive_get_firewall_config($volname, 'dirbk');
    ok(!defined($fw) || $fw eq '', 'object C: empty firewall config');
    my @pids = map { $_->bp_server_pid() } $a, $b, $c;
    undef $_ for $a, $b, $c;
    ok(wait_gone($_, 10), "restore job process $_ gone") for @pids;
};

BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);
done_testing();
