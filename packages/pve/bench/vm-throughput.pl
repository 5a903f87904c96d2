# One full VM backup through the generated modules (vzdump's calls, QEMU stand-in), timed from
# the backup_vm call to its return. Prints "<mechanism>\t<bytes>\t<ms>".
use strict;
use warnings;

use Time::HiRes ();
use BPTest::Vm qw(vzdump_vm);
use PVE::Storage;
use PVE::Storage::Custom::BpDirPlugin;

my ($store, $image, $mechanism, $vmid, $scratch) = @ARGV;
my $plugin = 'PVE::Storage::Custom::BpDirPlugin';
my $scfg = { type => 'bp-dir', path => $store, content => { backup => 1 }, 'vm-backup-mechanism' => $mechanism };
$PVE::Storage::CONFIG = { ids => { bench => $scfg } };
my ($start, $ms, $bytes);
my $job = vzdump_vm(
    plugin => $plugin, scfg => $scfg, storeid => 'bench', scratch => $scratch, bridge => $PVE::Storage::Custom::BpDirPlugin::BRIDGE,
    log => sub {}, start_time => time(),
    guests => [ { vmid => $vmid, time => time(), config => "name: bench\n#qmdump#map:scsi0:drive-scsi0:local:qcow2:\n", disks => [ { virtdev => 'scsi0', image => $image, format => 'qcow2' } ] } ],
    hooks => {
        volumes => sub { $bytes = $_[1]->{'drive-scsi0'}->{size}; $start = Time::HiRes::time() },
        after_backup_vm => sub { $ms = (Time::HiRes::time() - $start) * 1000 },
    },
);
my $guest = $job->{guests}->[0];
die "backup failed: $guest->{error}" if $guest->{status} ne 'ok';
printf "%s\t%d\t%.0f\n", $mechanism, $bytes, $ms;
BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);
