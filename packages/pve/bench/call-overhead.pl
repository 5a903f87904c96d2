# Per-call cost of the bridge, seen from Perl: median and p99 of N calls each.
use strict;
use warnings;

use Time::HiRes ();
use PVE::Storage;
use PVE::Storage::Custom::BpProbePlugin;
use PVE::Storage::Custom::BpDirPlugin;

my ($store, $n) = @ARGV;
$n //= 1000;
my $probe = 'PVE::Storage::Custom::BpProbePlugin';
my $dir = 'PVE::Storage::Custom::BpDirPlugin';
my $pscfg = { type => 'bp-probe', path => $store };
my $dscfg = { type => 'bp-dir', path => $store };

sub measure {
    my ($name, $count, $code) = @_;
    $code->() for 1 .. 3; # warm up (starts the processes)
    my @ms;
    for (1 .. $count) {
        my $t = Time::HiRes::time();
        $code->();
        push @ms, (Time::HiRes::time() - $t) * 1000;
    }
    @ms = sort { $a <=> $b } @ms;
    printf "%s\t%d\t%.3f\t%.3f\n", $name, $count, $ms[int($#ms / 2)], $ms[int($#ms * 0.99)];
}

measure('storage status (probe, no I/O)', $n, sub { $probe->status('p1', $pscfg) });
measure('storage status (dir-example, statfs)', $n, sub { $dir->status('d1', $dscfg) });
measure('storage list_volumes (dir-example, empty)', $n, sub { $dir->list_volumes('d1', $dscfg) });
my $provider = $probe->new_backup_provider($pscfg, 'p1', sub {});
measure('job call provider_name (probe)', $n, sub { $provider->provider_name() });
measure('new job process + provider_name (probe)', 20, sub { my $p = $probe->new_backup_provider($pscfg, 'p1', sub {}); $p->provider_name() });
measure('new job process + provider_name (dir-example)', 20, sub { my $p = $dir->new_backup_provider($dscfg, 'd1', sub {}); $p->provider_name() });
BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpProbePlugin::BRIDGE);
BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);
