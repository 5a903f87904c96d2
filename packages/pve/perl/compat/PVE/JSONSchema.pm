package PVE::JSONSchema;

# COMPATIBILITY LAYER, not Proxmox code: enough of PVE::JSONSchema for a storage plugin's
# properties() and options() to load outside PVE: standard options by name, registered formats
# and property strings ("key=value,key2=value2", a default key for a bare value).

use strict;
use warnings;

use base 'Exporter';
our @EXPORT_OK = qw(get_standard_option register_standard_option register_format parse_property_string);

my %STANDARD = (
    'pve-storage-id' => { type => 'string', format => 'pve-storage-id', description => 'The storage identifier.' },
    'pve-storage-path' => { type => 'string', format => 'pve-storage-path', description => 'File system path.' },
    'pve-vmid' => { type => 'integer', format => 'pve-vmid', minimum => 100, description => 'The (unique) ID of the VM.' },
    'pve-node' => { type => 'string', format => 'pve-node', description => 'The cluster node name.' },
    'prune-backups' => { type => 'string', format => 'prune-backups', optional => 1, description => 'The retention options.' },
);
my %FORMATS;

sub register_standard_option {
    my ($name, $schema) = @_;
    $STANDARD{$name} = $schema;
}

sub get_standard_option {
    my ($name, $base) = @_;
    my $schema = $STANDARD{$name} // die "no such standard option '$name'\n";
    return { %$schema, %{ $base // {} } };
}

sub register_format {
    my ($name, $format, $verify) = @_;
    $FORMATS{$name} = $verify // $format;
}

sub get_format {
    my ($name) = @_;
    return $FORMATS{$name};
}

sub parse_property_string {
    my ($format, $data) = @_;
    my %res;
    my $default_key = ref($format) eq 'HASH' ? (grep { ref($format->{$_}) eq 'HASH' && $format->{$_}->{default_key} } keys %$format)[0] : undef;
    for my $part (split(/,/, $data // '')) {
        next if $part eq '';
        if ($part =~ /^([^=]+)=(.*)$/) {
            $res{$1} = $2;
        } elsif (defined($default_key)) {
            $res{$default_key} = $part;
        } else {
            die "value without key, but schema does not define a default key\n";
        }
    }
    return \%res;
}

1;
