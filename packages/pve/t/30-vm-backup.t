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

# Discards of file-handle volumes come back to this process (volume.discard) and are done with
# PVE::Storage::Common::deallocate on PVE's own handle: recorded here, then done as before.
require PVE::Storage::Common;
my $deallocated = "$scratch/deallocated";
{
    no warnings 'redefine';
    my $deallocate = \&PVE::Storage::Common::deallocate;
    *PVE::Storage::Common::deallocate = sub {
        my ($fh, $offset, $length) = @_;
        open(my $out, '>>', $deallocated) or die "$deallocated: $!\n";
        print $out join(' ', fileno($fh), $offset, $length), "\n";
        close($out);
        goto &$deallocate;
    };
}

for my $case ([ nbd => 100 ], [ 'file-handle' => 101 ]) {
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
            my ($time, $hooks) = @_;
            my ($log, $lines) = collector();
            my %refs = map { $_ => reference($disks{$_}->[0], "$vmid-$time-$_") } keys %disks;
            my $job = vzdump_vm(
                plugin => $plugin, scfg => $scfg, storeid => 'dirbk', scratch => $scratch, bridge => $bridge, log => $log,
                start_time => $time, hooks => $hooks // {}, guests => [ { vmid => $vmid, time => $time, disks => \@guest_disks, config => $config, firewall => $firewall } ],
            );
            ok(wait_gone($job->{pid}, 10), "job process of the backup at $time is gone");
            is($job->{error}, undef, 'the job itself did not fail');
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
        my @discards = -e $deallocated ? split(/\n/, read_file($deallocated)) : ();
        unlink($deallocated);
        if ($mechanism eq 'nbd') {
            is(scalar(@discards), 0, 'nbd: discards are NBD trims, nothing reaches deallocate');
        } else {
            ok(@discards > 0, 'file-handle: the provider\'s discards reached deallocate on PVE\'s handle (' . scalar(@discards) . ' calls)');
            my @bad = grep { !/^\d+ \d+ [1-9]\d*$/ || (split / /)[1] + (split / /)[2] > 24 * $MiB + 64 * 1024 } @discards;
            is_deeply(\@bad, [], 'every discard is a byte range inside the disk');
        }
        if ($mechanism eq 'file-handle') {
            ok((grep { $_->[2] =~ m{^drive-scsi0: PVE's file handle \(fd \d+ of process \d+\) opened as /proc/\d+/fd/\d+ with O_RDWR\|O_DIRECT$} } @$incr_lines), "the Node side reopened PVE's handle with O_DIRECT");
            return;
        }
    };
}

subtest 'file-handle: a region stream that ends early or dies fails the backup; nothing is lost' => sub {
    my $vmid = 101;
    my $scfg = $PVE::Storage::CONFIG->{ids}->{dirbk};
    my $image = "$scratch/vm-$vmid-disk-0.qcow2";
    my $efi = "$scratch/vm-$vmid-disk-1.qcow2";
    my @disks = ({ virtdev => 'efidisk0', image => $efi, format => 'qcow2' }, { virtdev => 'scsi0', image => $image, format => 'qcow2' });
    my $config = "name: short\n#qmdump#map:efidisk0:drive-efidisk0:local:qcow2:\n#qmdump#map:scsi0:drive-scsi0:local:qcow2:\n";
    # Dirty: granule 0 and the last one, so the first region is not the whole stream.
    qemu_io($image, 'write -P 0x99 0 4k', "write -P 0x9a " . (24 * $MiB) . " 4k");
    my $job = sub {
        my ($time, $wrap) = @_;
        my ($log, $lines) = collector();
        my $hooks = {};
        $hooks->{volumes} = sub {
            my ($provider, $volumes) = @_;
            $volumes->{'drive-scsi0'}->{'next-dirty-region'} = $wrap->($volumes->{'drive-scsi0'}->{'next-dirty-region'});
        } if $wrap;
        my $result = vzdump_vm(
            plugin => $plugin, scfg => $scfg, storeid => 'dirbk', scratch => $scratch, bridge => $bridge, log => $log,
            start_time => $time, hooks => $hooks, guests => [ { vmid => $vmid, time => $time, disks => \@disks, config => $config } ],
        );
        ok(wait_gone($result->{pid}, 10), "job process of the backup at $time is gone");
        return $result->{guests}->[0];
    };
    my $before = scalar(@{ $plugin->list_volumes('dirbk', $scfg, $vmid) });

    # like nbdinfo killed after its first line: the closure just ends
    my $short = $job->(1700010300, sub { my ($code) = @_; my $calls = 0; sub { return if $calls++; return $code->() } });
    is($short->{status}, 'error', 'a stream that ends early fails the backup');
    like($short->{error}, qr/^BP_BACKUP_FAILED: the dirty regions of drive-scsi0 ended at \d+, but the disk is readable \(dirty\) at 25165824; the region stream \(nbdinfo\) ended early/, 'with BP_BACKUP_FAILED naming the readable granule');

    my $dies = $job->(1700010360, sub { my ($code) = @_; sub { die "nbdinfo: broken pipe\n" } });
    is($dies->{status}, 'error', 'a closure that dies fails the backup');
    like($dies->{error}, qr/^BP_BACKUP_FAILED: next-dirty-region of drive-scsi0 died: nbdinfo: broken pipe/, 'with its message');
    is(scalar(@{ $plugin->list_volumes('dirbk', $scfg, $vmid) }), $before, 'nothing partial is listed');

    my $reference = reference($image, "$vmid-after-short");
    my $ok = $job->(1700010420);
    is($ok->{status}, 'ok', 'the next backup works') or diag($ok->{error});
    is_deeply($ok->{answers}, { 'drive-efidisk0' => 'use', 'drive-scsi0' => 'use' }, 'incremental: the failed backups tore down as failed, the bitmap kept their writes');
    my $target = scratch_dir();
    my $restored = qmrestore(plugin => $plugin, scfg => $scfg, storeid => 'dirbk', volname => "backup/$ok->{archive}", target_dir => $target);
    same_bytes($reference, $restored->{disks}->{scsi0}, 'restore after the failed backups');
};

subtest 'killing the Node process mid-backup fails the job cleanly; the next job works' => sub {
    my $vmid = 100;
    my $scfg = { %{ $PVE::Storage::CONFIG->{ids}->{dirbk} }, 'vm-backup-mechanism' => 'nbd' };
    $PVE::Storage::CONFIG = { ids => { dirbk => $scfg } };
    my $image = "$scratch/vm-$vmid-disk-0.qcow2";
    my @disks = ({ virtdev => 'efidisk0', image => "$scratch/vm-$vmid-disk-1.qcow2", format => 'qcow2' }, { virtdev => 'scsi0', image => $image, format => 'qcow2' });
    my $config = "name: crash\n#qmdump#map:efidisk0:drive-efidisk0:local:qcow2:\n#qmdump#map:scsi0:drive-scsi0:local:qcow2:\n";
    qemu_io($image, 'write -P 0xab 8M 1M');
    my $before = scalar(@{ $plugin->list_volumes('dirbk', $scfg, $vmid) });
    my ($killed, @lines);
    my $kill_log = sub {
        my ($level, $message) = @_;
        push @lines, $message;
        # backup_vm is writing drive-scsi0 right now
        if (!$killed && $message =~ /^drive-scsi0: .*mechanism nbd$/) {
            $killed = $lines[-1] = $PVE::Storage::Custom::BpDirPlugin::KILL_PID;
            kill('KILL', $killed);
        }
    };
    my $crash = vzdump_vm(
        plugin => $plugin, scfg => $scfg, storeid => 'dirbk', scratch => $scratch, bridge => $bridge, log => $kill_log,
        start_time => 1700010500, guests => [ { vmid => $vmid, time => 1700010500, disks => \@disks, config => $config } ],
        hooks => { volumes => sub { $PVE::Storage::Custom::BpDirPlugin::KILL_PID = $_[0]->bp_server_pid() } },
    );
    my $guest = $crash->{guests}->[0];
    ok($killed, "the job process $killed was killed during backup_vm");
    is($guest->{status}, 'error', 'the guest failed');
    like($guest->{error}, qr/^BP_BRIDGE_DIED: the bp job process of storage type 'bp-dir' \(pid $killed\) ended during provider\.backup_vm/, 'with BP_BRIDGE_DIED naming the call');
    is($guest->{cleanup_error}, undef, 'backup_cleanup(0) worked on a fresh process');
    is($crash->{error}, undef, 'the job went on: backup_handle_log_file and job_cleanup');
    ok(wait_gone($killed, 10), 'the killed process is reaped');
    ok(wait_gone($crash->{pid}, 10), 'the fresh process is gone after the job');
    is(scalar(@{ $plugin->list_volumes('dirbk', $scfg, $vmid) }), $before, 'nothing partial is listed');
    is_deeply([ glob("$store/$vmid/.partial-*") ], [], 'no partial backup directory is left');

    my $reference = reference($image, "$vmid-after-crash");
    my ($log) = collector();
    my $next = vzdump_vm(
        plugin => $plugin, scfg => $scfg, storeid => 'dirbk', scratch => $scratch, bridge => $bridge, log => $log,
        start_time => 1700010560, guests => [ { vmid => $vmid, time => 1700010560, disks => \@disks, config => $config } ],
    );
    my $ok = $next->{guests}->[0];
    is($ok->{status}, 'ok', 'the next job works') or diag($ok->{error});
    ok(wait_gone($next->{pid}, 10), 'and its process is gone');
    my $restored = qmrestore(plugin => $plugin, scfg => $scfg, storeid => 'dirbk', volname => "backup/$ok->{archive}", target_dir => scratch_dir());
    same_bytes($reference, $restored->{disks}->{scsi0}, 'its restore');
};

BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);
done_testing();
