package BPTest;

# Helpers of the bridge's Perl tests: scratch directories, collecting log lines, process checks.

use strict;
use warnings;

use File::Temp ();
use Time::HiRes ();

use PVE::Storage;

our @EXPORT_OK = qw(scratch_dir collector alive wait_gone read_file slurp_lines);
use base 'Exporter';

sub scratch_dir {
    my $base = $ENV{BP_PVE_TEST_SCRATCH} // File::Temp::tempdir(CLEANUP => 1);
    return File::Temp::tempdir(DIR => $base, CLEANUP => 1);
}

# A log function recording [time, level, message].
sub collector {
    my @lines;
    my $log = sub { my ($level, $message) = @_; push @lines, [ Time::HiRes::time(), $level, $message ] };
    return ($log, \@lines);
}

sub alive {
    my ($pid) = @_;
    return 0 if !$pid;
    return 0 if !kill(0, $pid);
    # a zombie is gone for our purposes
    open(my $fh, '<', "/proc/$pid/stat") or return 0;
    my $stat = <$fh>;
    return $stat !~ /^\d+ \(.*\) Z /;
}

sub wait_gone {
    my ($pid, $seconds) = @_;
    my $deadline = Time::HiRes::time() + ($seconds // 10);
    while (alive($pid)) {
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
    return 1;
}

sub read_file {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or return undef;
    local $/;
    return <$fh>;
}

sub slurp_lines {
    my ($path) = @_;
    my $text = read_file($path) // '';
    return [ split(/\n/, $text) ];
}

1;
