package PVE::Storage::Plugin;

# COMPATIBILITY LAYER, not Proxmox code, written from the spec (pve-backup-provider.md,
# section 2): the base class a storage plugin derives from, with the defaults a backup-provider
# storage relies on, so an existing provider runs outside PVE. The @bp/pve Perl runner puts this
# directory LAST in @INC: an installed PVE::Storage::Plugin wins.
#
# Defaults: image methods die (a backup storage holds no images), list_images returns [],
# volume_has_feature 0, activate/deactivate_volume succeed (die for snapshots), activate_storage
# checks that `path` is a directory, status is df on `path`, get_volume_attribute returns undef
# (unsupported), update_volume_attribute, prune_backups and free_image die (unsupported).
# parse_volname follows PVE's conventions for backups: `backup/<name>` with the owner from a
# vzdump-style name (`vzdump-<type>-<vmid>-...`), else from a leading `<vmid>/`.
# file_size_info($filename, $timeout, $format, $untrusted) runs `qemu-img info --output=json`.

use strict;
use warnings;

use JSON ();

use PVE::Tools qw(run_command);

sub api { return 11 }

sub type { die "implement me in subclass\n" }

sub plugindata { return {} }

sub properties { return {} }

sub options { return {} }

sub private { return {} }

sub parse_volname {
    my ($class, $volname) = @_;
    if ($volname =~ m!^backup/([^/].*)$!) {
        my $name = $1;
        die "unable to parse volume name '$volname'\n" if $name =~ m!(?:^|/)\.\.(?:/|$)!;
        my ($vmid) = $name =~ m!^vzdump-(?:qemu|lxc|openvz)-(\d+)-! ? ($1) : $name =~ m!^(\d+)/! ? ($1) : (undef);
        return ('backup', $name, $vmid);
    }
    die "unable to parse volume name '$volname'\n";
}

sub filesystem_path {
    my ($class, $scfg, $volname, $snapname) = @_;
    die "volume snapshots are not supported\n" if defined($snapname);
    my ($vtype, $name, $vmid) = $class->parse_volname($volname);
    my $path = "$scfg->{path}/$vtype/$name";
    return wantarray ? ($path, $vmid, $vtype) : $path;
}

sub path {
    my ($class, $scfg, $volname, $storeid, $snapname) = @_;
    return $class->filesystem_path($scfg, $volname, $snapname);
}

sub activate_storage {
    my ($class, $storeid, $scfg, $cache) = @_;
    my $path = $scfg->{path};
    die "unable to activate storage '$storeid' - directory '" . ($path // '') . "' does not exist or is unreachable\n"
        if !defined($path) || !-d $path;
    return 1;
}

sub deactivate_storage { return 1 }

sub check_connection { return 1 }

sub status {
    my ($class, $storeid, $scfg, $cache) = @_;
    my $df = PVE::Tools::df($scfg->{path}, 2);
    my $active = $df->{total} ? 1 : 0;
    return ($df->{total}, $df->{avail}, $df->{used}, $active);
}

sub list_images { return [] }

sub list_volumes { return [] }

sub volume_has_feature { return 0 }

sub activate_volume {
    my ($class, $storeid, $scfg, $volname, $snapname) = @_;
    die "volume snapshot is not possible on backup volumes\n" if $snapname;
    return 1;
}

sub deactivate_volume {
    my ($class, $storeid, $scfg, $volname, $snapname) = @_;
    die "volume snapshot is not possible on backup volumes\n" if $snapname;
    return 1;
}

for my $method (qw(alloc_image clone_image create_base volume_resize volume_snapshot volume_snapshot_rollback volume_snapshot_delete rename_volume)) {
    no strict 'refs';
    *{$method} = sub { die "$method is not supported on a backup storage\n" };
}

sub free_image {
    my ($class, $storeid, $scfg, $volname) = @_;
    die "deleting backups is not implemented by this storage\n";
}

sub get_volume_attribute { return undef }

sub update_volume_attribute {
    my ($class, $scfg, $storeid, $volname, $attribute) = @_;
    die "attribute '$attribute' is not supported by this storage\n";
}

sub prune_backups {
    die "pruning is not implemented by this storage\n";
}

sub volume_size_info {
    my ($class, $scfg, $storeid, $volname, $timeout) = @_;
    my $path = $class->filesystem_path($scfg, $volname);
    return file_size_info($path, $timeout);
}

# qemu-img's view of a file: size (virtual), format, used (bytes allocated), parent (backing
# file); in scalar context the size. With $untrusted, backing files and external data files are
# refused, as PVE does for images it did not create.
sub file_size_info {
    my ($filename, $timeout, $file_format, $untrusted) = @_;
    my @st = stat($filename);
    die "failed to stat '$filename'\n" if !@st;
    if (-d _) {
        return wantarray ? (0, 'subvol', 0, undef, $st[10]) : 1;
    }
    my $json = '';
    my @cmd = ('qemu-img', 'info', '--output=json', $filename);
    splice(@cmd, 2, 0, '-f', $file_format) if defined($file_format);
    eval { run_command(\@cmd, outfunc => sub { $json .= "$_[0]\n" }, errfunc => sub { }, timeout => $timeout // 10) };
    if ($@) {
        die "could not read image info of '$filename' - $@" if $untrusted;
        return wantarray ? (undef, undef, undef, undef, $st[10]) : undef;
    }
    my $info = eval { JSON::decode_json($json) } // {};
    if ($untrusted) {
        die "$filename: backing file is not allowed\n" if defined($info->{'backing-filename'});
        die "$filename: external data file is not allowed\n" if ref($info->{'format-specific'}) eq 'HASH' && ($info->{'format-specific'}->{data}->{'data-file'} // '') ne '';
    }
    my ($size, $format, $used, $parent) = ($info->{'virtual-size'}, $info->{format}, $info->{'actual-size'}, $info->{'backing-filename'});
    return wantarray ? ($size, $format, $used, $parent, $st[10]) : $size;
}

1;
