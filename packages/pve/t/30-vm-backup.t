# VM backups of @bp/dir-example through the generated modules with real QEMU snapshot exports:
# vzdump's call sequence (t/lib/BPTest/Vm.pm) against the QEMU stand-in, a full and an
# incremental backup per mechanism, each restored through qmrestore's calls and compared
# byte for byte with the disk as it was when the backup started.
use strict;
use warnings;

use Test::More;

use BPTest qw(scratch_dir collector wait_gone read_file);
use BPTest::Vm qw(vzdump_vm qmrestore qemu_img);
use PVE::Storage;
use PVE::Storage::Custom::BpDirPlugin;

my $plugin = 'PVE::Storage::Custom::BpDirPlugin';
my $bridge = $PVE::Storage::Custom::BpDirPlugin::BRIDGE;
my $store = scratch_dir();
my $scratch = scratch_dir();
my $MiB = 1024 * 1024;

sub qemu_io {
    my ($image, @commands) = @_;
    my $output = `qemu-io -f qcow2 @{[ map { "-c '$_'" } @commands ]} '$image' 2>&1`;
    die "qemu-io failed: $output" if $?;
}

# The disk as of now, as raw bytes: what a restore of a backup taken now must give back.
sub reference {
    my ($image, $name) = @_;
    my $raw = "$scratch/$name.raw";
    qemu_img('convert', '-f', 'qcow2', '-O', 'raw', $image, $raw);
    return $raw;
}

sub same_bytes {
    my ($expected, $actual, $what) = @_;
    my $output = `qemu-img compare -f raw -F raw '$expected' '$actual' 2>&1`;
    is($?, 0, "$what: byte-identical") or diag($output);
}

for my $case ([ nbd => 100 ]) {
    my ($mechanism, $vmid) = @$case;
    subtest "mechanism $mechanism: full and incremental backups restore byte-identical" => sub {
        my $scfg = { type => 'bp-dir', path => $store, content => { backup => 1 }, 'vm-backup-mechanism' => $mechanism, 'vm-backup-mode' => 'incremental' };
        $PVE::Storage::CONFIG = { ids => { dirbk => $scfg } };
        # Two disks; the EFI disk has PVE's odd 528 KiB, data ends in a partial 4 MiB granule.
        my %disks = (scsi0 => [ "$scratch/vm-$vmid-disk-0.qcow2", 24 * $MiB + 64 * 1024 ], efidisk0 => [ "$scratch/vm-$vmid-disk-1.qcow2", 528 * 1024 ]);
        for my $virtdev (sort keys %disks) {
            my ($image, $size) = @{ $disks{$virtdev} };
            qemu_img('create', '-q', '-f', 'qcow2', $image, $size);
        }
        qemu_io($disks{scsi0}->[0], 'write -P 0x11 0 3M', 'write -P 0x22 5M 64k', "write -P 0x33 " . (24 * $MiB) . " 64k");
        qemu_io($disks{efidisk0}->[0], 'write -P 0x44 0 528k');
        my $config = join('', "boot: order=scsi0\nname: vm-g\xc3\xa4st\n",
            "efidisk0: local:$vmid/vm-$vmid-disk-1.qcow2,size=528K\n",
            "scsi0: local:$vmid/vm-$vmid-disk-0.qcow2,size=24640K\n",
            "#qmdump#map:efidisk0:drive-efidisk0:local:qcow2:\n",
            "#qmdump#map:scsi0:drive-scsi0:local:qcow2:\n");
        my $firewall = "[OPTIONS]\nenable: 1\n# \xe2\x9c\x93\n";
        my @guest_disks = map { { virtdev => $_, image => $disks{$_}->[0], format => 'qcow2' } } sort keys %disks;

        my $run = sub {
            my ($time) = @_;
            my ($log, $lines) = collector();
            my %refs = map { $_ => reference($disks{$_}->[0], "$vmid-$time-$_") } keys %disks;
            my $job = vzdump_vm(
                plugin => $plugin, scfg => $scfg, storeid => 'dirbk', scratch => $scratch, bridge => $bridge, log => $log,
                start_time => $time, guests => [ { vmid => $vmid, time => $time, disks => \@guest_disks, config => $config, firewall => $firewall } ],
            );
            ok(wait_gone($job->{pid}, 10), "job process of the backup at $time is gone");
            return ($job, \%refs, $lines);
        };
        my $restore_and_compare = sub {
            my ($archive, $refs, $what) = @_;
            my $target = scratch_dir();
            my $restored = qmrestore(plugin => $plugin, scfg => $scfg, storeid => 'dirbk', volname => "backup/$archive", target_dir => $target);
            is($restored->{config}, $config, "$what: guest config byte-exact");
            is($restored->{early_config}, $config, "$what: early config check on a fresh object with the extra \$storeid");
            is($restored->{firewall}, $firewall, "$what: firewall config byte-exact");
            same_bytes($refs->{$_}, $restored->{disks}->{$_}, "$what $_") for sort keys %disks;
            ok(wait_gone($_, 10), "$what: restore job process $_ is gone") for @{ $restored->{pids} };
        };

        my ($full, $full_refs, $full_lines) = $run->(1700000000 + $vmid * 100);
        my $first = $full->{guests}->[0];
        is($first->{status}, 'ok', 'full backup ok') or diag($first->{error});
        is($first->{mechanism}, $mechanism, "mechanism $mechanism");
        is_deeply($first->{answers}, { 'drive-efidisk0' => 'new', 'drive-scsi0' => 'new' }, 'first backup: new bitmaps');
        ok($first->{size} > 0, 'archive-size reported');
        is_deeply($full->{trace}, [ 'backup_init', 'backup_vm', 'backup_cleanup(1)', 'backup_handle_log_file' ], 'vzdump order');
        $restore_and_compare->($first->{archive}, $full_refs, 'full');

        # Guest writes between the backups: inside and across granules, at the very end.
        qemu_io($disks{scsi0}->[0], 'write -P 0x55 1M 4k', 'write -P 0x66 4092k 8k', 'write -z 5M 64k', "write -P 0x77 " . (24 * $MiB + 60 * 1024) . " 4k");
        qemu_io($disks{efidisk0}->[0], 'write -P 0x88 512 1k');
        my ($incr, $incr_refs, $incr_lines) = $run->(1700000000 + $vmid * 100 + 60);
        my $second = $incr->{guests}->[0];
        is($second->{status}, 'ok', 'incremental backup ok') or diag($second->{error});
        is_deeply($second->{answers}, { 'drive-efidisk0' => 'use', 'drive-scsi0' => 'use' }, 'second backup reuses the bitmaps');
        like($second->{bitmap_status}->{'drive-scsi0'}, qr/OK/, "QEMU reused snapshot-access:dirbk ($second->{bitmap_status}->{'drive-scsi0'})");
        ok((grep { $_->[2] =~ /drive-scsi0: incremental on / } @$incr_lines), 'the provider wrote an incremental image');
        my $image = "$store/$vmid/" . (split(m{/}, $second->{archive}))[1] . '/drive-scsi0.qcow2';
        like(qemu_img('info', '-U', $image), qr/backing file: /, 'with a backing file');
        $restore_and_compare->($second->{archive}, $incr_refs, 'incremental');
        $restore_and_compare->($first->{archive}, $full_refs, 'full again');
    };
}

BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);
done_testing();
