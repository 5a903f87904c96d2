package PVE::Storage::Common;

# COMPATIBILITY LAYER, not Proxmox code, written from the documented behaviour: `deallocate`
# frees a byte range of an open file (fallocate PUNCH_HOLE | KEEP_SIZE), which is how providers
# discard what they stored from a `file-handle` volume. Under the @bp/pve Perl runner a handle
# that came from the Node side is discarded there (`volume.discard`), where the volume knows how.

use strict;
use warnings;

my $SYS_FALLOCATE = 285;    # x86_64
my $FALLOC_FL_KEEP_SIZE = 0x01;
my $FALLOC_FL_PUNCH_HOLE = 0x02;

sub deallocate {
    my ($file_handle, $offset, $length) = @_;
    my $runner = $BP::PVE::Runner::CURRENT;
    if ($runner && defined(my $device = $runner->bridged_handle_device($file_handle))) {
        $runner->request('volume.discard', { stream => $device, offset => $offset + 0, length => $length + 0 });
        return;
    }
    my $res = syscall($SYS_FALLOCATE, fileno($file_handle), $FALLOC_FL_PUNCH_HOLE | $FALLOC_FL_KEEP_SIZE, $offset + 0, $length + 0);
    die "fallocate: punch hole failed (offset $offset, length $length) - $!\n" if $res != 0;
}

1;
