#!/usr/bin/perl
# The compatibility layer (perl/compat): PVE::Tools, PVE::Storage::Plugin's defaults,
# PVE::Storage::Common::deallocate and PVE::JSONSchema, as documented for PVE's own modules.
use strict;
use warnings;

use File::Temp ();
use Test::More;
use Time::HiRes ();

use PVE::Tools qw(run_command file_get_contents file_set_contents file_read_firstline run_fork_with_timeout lock_file);
use PVE::Storage::Plugin;
use PVE::Storage::Common;
use PVE::JSONSchema qw(get_standard_option parse_property_string);

like($INC{'PVE/Tools.pm'}, qr{/compat/PVE/Tools\.pm$}, 'PVE::Tools comes from the compatibility layer');
my $dir = File::Temp::tempdir(CLEANUP => 1);

# run_command: a word list, a shell string, a pipeline of word lists; outfunc/errfunc per line
my (@out, @err);
run_command(['sh', '-c', 'echo one; echo two >&2; printf three'], outfunc => sub { push @out, $_[0] }, errfunc => sub { push @err, $_[0] });
is_deeply(\@out, [ 'one', 'three' ], 'outfunc gets each stdout line, the last one without newline too');
is_deeply(\@err, ['two'], 'errfunc gets stderr lines');
@out = ();
run_command([ [ 'printf', 'b\na\nc\n' ], ['sort'], [ 'tr', 'a-z', 'A-Z' ] ], outfunc => sub { push @out, $_[0] });
is_deeply(\@out, [ 'A', 'B', 'C' ], 'a list of lists is a pipeline');
@out = ();
run_command('echo "$((6*7))"', outfunc => sub { push @out, $_[0] });
is_deeply(\@out, ['42'], 'a string runs through the shell');
my @log;
run_command(['sh', '-c', 'echo x; echo y >&2'], logfunc => sub { push @log, $_[0] });
is_deeply([ sort @log ], [ 'x', 'y' ], 'logfunc gets both streams when outfunc/errfunc are absent');
@out = ();
run_command(['cat'], input => "in put\n", outfunc => sub { push @out, $_[0] });
is_deeply(\@out, ['in put'], 'input goes to stdin');
eval { run_command(['sh', '-c', 'exit 3'], outfunc => sub { }) };
like($@, qr/^command 'sh -c exit 3' failed: exit code 3$/, 'a failing command dies with its exit code');
is(run_command(['sh', '-c', 'exit 4'], noerr => 1), 4, 'noerr returns the exit code');
eval { run_command([ ['true'], [ 'sh', '-c', 'exit 5' ] ]) };
like($@, qr/exit code 5/, 'a failing pipeline stage fails the pipeline');
eval { run_command(['sh', '-c', 'exit 1'], errmsg => 'my step') };
like($@, qr/^my step: exit code 1$/, 'errmsg replaces the prefix');
my $started = Time::HiRes::time();
eval { run_command(['sleep', '30'], timeout => 1) };
like($@, qr/got timeout/, 'timeout kills the command');
cmp_ok(Time::HiRes::time() - $started, '<', 10, 'and returns at the time limit');

# files
my $file = "$dir/f";
file_set_contents($file, "first\nsecond\n\x{ff}bytes");
is(file_get_contents($file), "first\nsecond\n\x{ff}bytes", 'file_set_contents / file_get_contents are byte-exact');
is(file_read_firstline($file), 'first', 'file_read_firstline drops the newline');
is(file_read_firstline("$dir/missing"), undef, 'file_read_firstline of a missing file is undef');
eval { file_get_contents($file, 3) };
like($@, qr/too long/, 'file_get_contents refuses more than $max bytes');
is_deeply([ glob("$dir/f.tmp.*") ], [], 'file_set_contents leaves no temp file');

# run_fork_with_timeout / lock_file
is_deeply(run_fork_with_timeout(5, sub { return { pid => $$ } })->{pid} != $$ ? 1 : 0, 1, 'run_fork_with_timeout runs the code in a child and returns its result');
eval { run_fork_with_timeout(5, sub { die "inner failure\n" }) };
is($@, "inner failure\n", 'a die in the child is rethrown');
eval { run_fork_with_timeout(1, sub { sleep 30 }) };
like($@, qr/got timeout/, 'a child beyond the timeout is killed');
is(lock_file("$dir/lock", 5, sub { return "locked $_[0]" }, 'x'), 'locked x', 'lock_file returns the code result');
lock_file("$dir/lock", 5, sub { die "in lock\n" });
is($@, "in lock\n", 'lock_file sets $@ like PVE');
if (my $pid = fork()) {
    Time::HiRes::sleep(0.3);
    lock_file("$dir/lock2", 0.5, sub { 1 });
    like($@, qr/got timeout/, 'a held lock times out');
    waitpid($pid, 0);
} else {
    open(my $fh, '>>', "$dir/lock2");
    flock($fh, 2);
    sleep(2);
    POSIX::_exit(0);
}

# PVE::Storage::Plugin defaults
my @parsed = PVE::Storage::Plugin->parse_volname('backup/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst');
is_deeply(\@parsed, [ 'backup', 'vzdump-qemu-100-2025_01_01-00_00_00.vma.zst', 100 ], 'parse_volname: vzdump names give the owner');
is_deeply([ PVE::Storage::Plugin->parse_volname('backup/200/lxc-1') ], [ 'backup', '200/lxc-1', 200 ], 'parse_volname: <vmid>/... gives the owner');
eval { PVE::Storage::Plugin->parse_volname('backup/../etc') };
like($@, qr/unable to parse volume name/, 'parse_volname refuses ..');
eval { PVE::Storage::Plugin->alloc_image('s', {}, 100, 'raw', undef, 1024) };
like($@, qr/not supported/, 'image methods die');
is_deeply(PVE::Storage::Plugin->list_images('s', {}), [], 'list_images is empty');
is(PVE::Storage::Plugin->get_volume_attribute({}, 's', 'backup/x', 'notes'), undef, 'attributes are unsupported by default');
my @status = PVE::Storage::Plugin->status('s', { path => $dir }, {});
ok($status[0] > 0 && $status[3] == 1, 'status is df of path');
ok(PVE::Storage::Plugin->activate_storage('s', { path => $dir }), 'activate_storage of an existing path');
eval { PVE::Storage::Plugin->activate_storage('s', { path => "$dir/none" }) };
like($@, qr/does not exist/, 'activate_storage of a missing path dies');
system('qemu-img', 'create', '-q', '-f', 'qcow2', "$dir/img.qcow2", '3M') == 0 or die;
my ($size, $format, $used, $parent) = PVE::Storage::Plugin::file_size_info("$dir/img.qcow2");
is_deeply([ $size, $format, $parent ], [ 3 * 1024 * 1024, 'qcow2', undef ], 'file_size_info: virtual size and format');
system('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', "$dir/img.qcow2", '-F', 'qcow2', "$dir/top.qcow2") == 0 or die;
eval { PVE::Storage::Plugin::file_size_info("$dir/top.qcow2", 5, 'qcow2', 1) };
like($@, qr/backing file is not allowed/, 'file_size_info refuses a backing file for untrusted images');

# deallocate punches a hole and keeps the size
open(my $fh, '+>', "$dir/sparse") or die;
print {$fh} "\x01" x (1024 * 1024);
close($fh);
open($fh, '+<', "$dir/sparse") or die;
PVE::Storage::Common::deallocate($fh, 0, 512 * 1024);
close($fh);
is(-s "$dir/sparse", 1024 * 1024, 'deallocate keeps the size');
open($fh, '<', "$dir/sparse") or die;
read($fh, my $head, 16);
close($fh);
is($head, "\0" x 16, 'deallocate punched a hole');

# JSONSchema
is(get_standard_option('pve-storage-path', { optional => 1 })->{optional}, 1, 'get_standard_option merges the base');
is_deeply(parse_property_string({ mode => { default_key => 1 } }, 'full,keep-last=3'), { mode => 'full', 'keep-last' => 3 }, 'parse_property_string with a default key');

done_testing();
