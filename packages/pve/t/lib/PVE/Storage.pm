package PVE::Storage;

# STAND-IN, not Proxmox code, written from the spec (pve-backup-provider.md, sections 0 and 2):
# the storage API version constants a custom plugin negotiates against, the storage.cfg contents
# (set by the tests), and the load-time check PVE applies to every module in
# PVE/Storage/Custom/: derived from PVE::Storage::Plugin, has api(), version between
# APIVER - APIAGE and APIVER, a warning when it is not APIVER.

use strict;
use warnings;

use constant APIVER => 15;
use constant APIAGE => 6;

# storage.cfg as PVE parses it: { ids => { <storeid> => $scfg } }.
our $CONFIG = { ids => {} };

sub config {
    return $CONFIG;
}

sub storage_config {
    my ($cfg, $storeid) = @_;
    return $cfg->{ids}->{$storeid} // die "storage '$storeid' does not exist\n";
}

# Returns the warning text ('' if none) and dies with PVE's reasons.
sub check_custom_plugin {
    my ($modname) = @_;
    die "not derived from PVE::Storage::Plugin\n" if !$modname->isa('PVE::Storage::Plugin');
    die "does not provide an api() method\n" if !$modname->can('api');
    my $apiver = PVE::Storage->can('APIVER')->();
    my $apiage = PVE::Storage->can('APIAGE')->();
    my $version = $modname->api();
    die "implements an API version newer than current ($version > $apiver)\n" if $version > $apiver;
    my $min = $apiver - $apiage;
    die "API version too old, please update the plugin ($version < $min)\n" if $version < $min;
    return $version != $apiver ? "Plugin \"$modname\" is implementing an older storage API\n" : '';
}

1;
