# The generated modules load as PVE loads custom storage plugins, negotiate the storage API
# version against the host's, declare the backup-provider feature and describe the plugin's
# configSchema as PVE properties/options.
use strict;
use warnings;

use Test::More;

use PVE::Storage;
use PVE::Storage::Custom::BpDirPlugin;
use PVE::Storage::Custom::BpProbePlugin;

my $dir = 'PVE::Storage::Custom::BpDirPlugin';
my $probe = 'PVE::Storage::Custom::BpProbePlugin';

for my $module ($dir, $probe) {
    is(PVE::Storage::check_custom_plugin($module), '', "$module passes PVE's load check without a warning");
    ok($module->isa('PVE::Storage::Plugin'), "$module is a storage plugin");
}

subtest 'api() follows the host from 11 up' => sub {
    no warnings 'redefine';
    for my $host (11, 12, 15, 17) {
        local *PVE::Storage::APIVER = sub () { $host };
        is($dir->api(), $host, "host APIVER $host");
        is(PVE::Storage::check_custom_plugin($dir), '', "no load warning on APIVER $host");
    }
    local *PVE::Storage::APIVER = sub () { 10 };
    is($dir->api(), 11, 'never below 11 (the first API with backup providers)');
    eval { PVE::Storage::check_custom_plugin($dir) };
    like($@, qr/newer than current \(11 > 10\)/, 'so a host without backup providers refuses it');
};

is($dir->type(), 'bp-dir', 'type');
is($probe->type(), 'bp-probe', 'type of the probe');
is_deeply($dir->plugindata()->{features}, { 'backup-provider' => 1 }, 'backup-provider feature');
is_deeply($dir->plugindata()->{content}, [ { backup => 1, none => 1 }, { backup => 1 } ], 'backup content, default backup');

subtest 'properties and options from configSchema' => sub {
    my $props = $probe->properties();
    is_deeply([ sort keys %$props ], [ 'probe-flag', 'probe-level', 'probe-mode' ], "only the plugin's own keys; PVE defines path, nodes, disable");
    is($props->{'probe-level'}->{type}, 'integer', 'integer');
    is($props->{'probe-level'}->{minimum}, 0, 'minimum');
    is($props->{'probe-level'}->{maximum}, 9, 'maximum');
    is($props->{'probe-flag'}->{type}, 'boolean', 'boolean');
    is_deeply($props->{'probe-mode'}->{enum}, [ 'calm', 'busy' ], 'enum');
    is($props->{'probe-mode'}->{default}, 'calm', 'default');
    ok($props->{$_}->{description}, "$_ has a description") for keys %$props;
    my $opts = $probe->options();
    is_deeply($opts->{path}, { fixed => 1 }, 'path is fixed');
    is_deeply($opts->{$_}, { optional => 1 }, "$_ optional") for qw(probe-level probe-flag probe-mode nodes disable);

    my $dirprops = $dir->properties();
    # The dir-example grows options (chain policy, ...): check the spec's ones and the rule, not the whole list.
    my $diropts = $dir->options();
    ok(exists $dirprops->{$_}, "dir-example property $_") for qw(lxc-backup-mode vm-backup-mechanism vm-backup-mode);
    ok(!exists $dirprops->{$_}, "no property $_ (PVE defines it)") for qw(path nodes disable prune-backups max-protected-backups);
    ok(exists $diropts->{$_}, "dir-example option $_") for qw(path lxc-backup-mode vm-backup-mechanism vm-backup-mode prune-backups max-protected-backups disable nodes);
    ok(exists $diropts->{$_}, "property $_ is an option") for sort keys %$dirprops;
};

subtest 'provider module' => sub {
    my $provider = $dir->new_backup_provider({ type => 'bp-dir', path => '/nonexistent' }, 'store1', sub {});
    isa_ok($provider, 'PVE::BackupProvider::Plugin::Base');
    isa_ok($provider, 'PVE::BackupProvider::Plugin::BpDir');
    for my $method (qw(provider_name job_init job_cleanup backup_init backup_cleanup backup_get_mechanism
        backup_handle_log_file backup_vm_query_incremental backup_vm backup_container_prepare backup_container
        restore_get_mechanism archive_get_guest_config archive_get_firewall_config restore_vm_init
        restore_vm_cleanup restore_vm_volume_init restore_vm_volume_cleanup restore_container_init
        restore_container_cleanup)) {
        ok($provider->can($method) != PVE::BackupProvider::Plugin::Base->can($method), "$method is forwarded");
    }
    is($provider->bp_server_pid(), 0, 'no Node process before the first call');
};

subtest 'image methods are refused' => sub {
    for my $method (qw(alloc_image clone_image create_base volume_resize volume_snapshot)) {
        eval { $dir->$method('store1', {}) };
        like($@, qr/^BP_NOT_SUPPORTED: /, "$method dies with BP_NOT_SUPPORTED");
    }
    is_deeply($dir->list_images('store1', {}), [], 'list_images is empty');
    ok(!$dir->volume_has_feature({}, 'snapshot', 'store1', 'backup/1/qemu-1'), 'no volume features');
};

done_testing();
