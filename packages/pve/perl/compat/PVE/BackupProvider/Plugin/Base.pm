package PVE::BackupProvider::Plugin::Base;

# COMPATIBILITY LAYER, not Proxmox code, written from the spec (pve-backup-provider.md,
# sections 0 and 1): the base class of backup providers, whose every method must be implemented
# by the subclass.

use strict;
use warnings;

for my $method (qw(
    new provider_name job_init job_cleanup backup_init backup_cleanup backup_get_mechanism
    backup_handle_log_file backup_vm_query_incremental backup_vm backup_container_prepare
    backup_container restore_get_mechanism archive_get_guest_config archive_get_firewall_config
    restore_vm_init restore_vm_cleanup restore_vm_volume_init restore_vm_volume_cleanup
    restore_container_init restore_container_cleanup
)) {
    no strict 'refs';
    *{$method} = sub { die "implement me in subclass\n" };
}

1;
