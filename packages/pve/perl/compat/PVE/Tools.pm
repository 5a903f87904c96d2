package PVE::Tools;

# COMPATIBILITY LAYER, not Proxmox code: the parts of PVE::Tools that backup providers commonly
# use, written from their documented behaviour so an existing provider runs outside PVE (the
# @bp/pve Perl runner puts this directory LAST in @INC: an installed PVE::Tools wins).
#
#   run_command($cmd, %opts)   $cmd: a string (run by /bin/sh -c), a list of words, or a list of
#                              lists (a pipeline, each stage's stdout into the next one's stdin).
#                              outfunc/errfunc get each line without its newline; logfunc gets
#                              both when outfunc/errfunc are absent; input => string for stdin;
#                              timeout => seconds (the whole pipeline is killed, dies "got timeout");
#                              noerr => 1 returns the exit code instead of dying; quiet => 1 drops
#                              output; errmsg => prefix of the die message. Returns the exit code.
#   file_get_contents($file, $max)            dies if unreadable or longer than $max
#   file_set_contents($file, $data, $perm)    atomic (temp file + rename)
#   file_read_firstline($file)                first line without newline, undef if unreadable
#   run_fork_with_timeout($timeout, $code)    runs $code in a child, returns its result (a
#                                             scalar or reference, passed back as JSON); dies with
#                                             the child's die message or "got timeout"
#   lock_file($file, $timeout, $code, @args)  flock on $file around $code; sets $@ like PVE
#   df($path, $timeout)                       { total, avail, used } in bytes

use strict;
use warnings;

use Fcntl qw(:flock O_WRONLY O_CREAT O_EXCL);
use IO::Select;
use JSON ();
use POSIX ();
use Time::HiRes ();

use base 'Exporter';
our @EXPORT_OK = qw(run_command file_get_contents file_set_contents file_read_firstline run_fork_with_timeout lock_file df);

sub _stage_pids_kill {
    my ($pids) = @_;
    kill('KILL', @$pids) if @$pids;
    waitpid($_, 0) for @$pids;
}

sub run_command {
    my ($cmd, %param) = @_;
    my @stages;
    if (ref($cmd) eq 'ARRAY' && @$cmd && ref($cmd->[0]) eq 'ARRAY') {
        @stages = @$cmd;
    } elsif (ref($cmd) eq 'ARRAY') {
        @stages = ($cmd);
    } else {
        @stages = (['/bin/sh', '-c', $cmd]);
    }
    my $cmdstr = join(' | ', map { join(' ', @$_) } @stages);
    my $outfunc = $param{outfunc};
    my $errfunc = $param{errfunc};
    my $logfunc = $param{logfunc};
    $outfunc //= $logfunc;
    $errfunc //= $logfunc;
    my $timeout = $param{timeout};

    pipe(my $in_r, my $in_w) or die "pipe: $!\n";
    pipe(my $err_r, my $err_w) or die "pipe: $!\n";
    my @pids;
    my $prev_r = $in_r;
    my $out_r;
    for my $i (0 .. $#stages) {
        my ($next_r, $next_w);
        pipe($next_r, $next_w) or die "pipe: $!\n";
        my $pid = fork();
        die "fork failed: $!\n" if !defined($pid);
        if (!$pid) {
            eval {
                POSIX::dup2(fileno($prev_r), 0);
                POSIX::dup2(fileno($next_w), 1);
                POSIX::dup2(fileno($err_w), 2);
                chdir($param{cwd}) or die "chdir $param{cwd}: $!\n" if defined($param{cwd});
                exec { $stages[$i]->[0] } @{ $stages[$i] } or die "exec $stages[$i]->[0]: $!\n";
            };
            print STDERR $@ if $@;
            POSIX::_exit(-1);
        }
        push @pids, $pid;
        close($prev_r) if $i > 0;
        close($next_w);
        $prev_r = $next_r;
    }
    $out_r = $prev_r;
    close($in_r);
    close($err_w);
    if (defined($param{input})) {
        local $SIG{PIPE} = 'IGNORE';
        print {$in_w} $param{input};
    }
    close($in_w);

    my $select = IO::Select->new($out_r, $err_r);
    my %buf = (fileno($out_r) => '', fileno($err_r) => '');
    my $deadline = defined($timeout) ? Time::HiRes::time() + $timeout : undef;
    my $emit = sub {
        my ($fh, $line) = @_;
        my $func = fileno($fh) == fileno($out_r) ? $outfunc : $errfunc;
        if ($func) {
            $func->($line);
        } elsif (!$param{quiet}) {
            print { fileno($fh) == fileno($out_r) ? \*STDOUT : \*STDERR } "$line\n";
        }
    };
    while ($select->count()) {
        my $wait = defined($deadline) ? $deadline - Time::HiRes::time() : undef;
        if (defined($wait) && $wait <= 0) {
            _stage_pids_kill(\@pids);
            die "command '$cmdstr' failed: got timeout\n";
        }
        my @ready = $select->can_read($wait);
        for my $fh (@ready) {
            my $got = sysread($fh, my $chunk, 65536);
            if (!$got) {
                $select->remove($fh);
                my $rest = $buf{ fileno($fh) };
                $emit->($fh, $rest) if length($rest);
                next;
            }
            $buf{ fileno($fh) } .= $chunk;
            while ($buf{ fileno($fh) } =~ s/^([^\n]*)\n//) {
                $emit->($fh, $1);
            }
        }
    }
    my $status = 0;
    my $failed;
    for my $pid (@pids) {
        waitpid($pid, 0);
        my $code = $? >> 8;
        my $signal = $? & 127;
        $failed //= $signal ? "got signal $signal" : $code ? "exit code $code" : undef;
        $status = $code if $code;
    }
    if ($failed) {
        return $status if $param{noerr};
        my $prefix = $param{errmsg} // "command '$cmdstr' failed";
        die "$prefix: $failed\n";
    }
    return 0;
}

sub file_get_contents {
    my ($filename, $max) = @_;
    open(my $fh, '<', $filename) or die "can't open '$filename' - $!\n";
    binmode($fh);
    local $/;
    my $content = <$fh> // '';
    close($fh);
    die "file '$filename' too long - aborting\n" if defined($max) && length($content) > $max;
    return $content;
}

sub file_set_contents {
    my ($filename, $data, $perm, $force_utf8) = @_;
    $perm //= 0644;
    my $tmp = "$filename.tmp.$$";
    sysopen(my $fh, $tmp, O_WRONLY | O_CREAT | O_EXCL, $perm) or die "unable to open file '$tmp' - $!\n";
    binmode($fh, $force_utf8 ? ':utf8' : ':raw');
    my $ok = print {$fh} $data;
    $ok = close($fh) && $ok;
    if (!$ok || !rename($tmp, $filename)) {
        my $err = $!;
        unlink($tmp);
        die "unable to write file '$filename' - $err\n";
    }
}

sub file_read_firstline {
    my ($filename) = @_;
    open(my $fh, '<', $filename) or return undef;
    my $line = <$fh>;
    close($fh);
    return undef if !defined($line);
    chomp($line);
    return $line;
}

sub run_fork_with_timeout {
    my ($timeout, $code, @param) = @_;
    pipe(my $r, my $w) or die "pipe: $!\n";
    my $pid = fork();
    die "fork failed: $!\n" if !defined($pid);
    if (!$pid) {
        close($r);
        my $result = eval { $code->(@param) };
        my $reply = $@ ? { error => "$@" } : { result => $result };
        print {$w} JSON->new->allow_nonref->allow_unknown->encode($reply);
        close($w);
        POSIX::_exit(0);
    }
    close($w);
    my $select = IO::Select->new($r);
    my $data = '';
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $wait = $deadline - Time::HiRes::time();
        if ($wait <= 0) {
            kill('KILL', $pid);
            waitpid($pid, 0);
            die "got timeout\n";
        }
        next if !$select->can_read($wait);    # the deadline check above ends it
        my $got = sysread($r, my $chunk, 65536);
        last if !$got;
        $data .= $chunk;
    }
    waitpid($pid, 0);
    my $reply = eval { JSON->new->allow_nonref->decode($data) } // {};
    die $reply->{error} if defined($reply->{error});
    return $reply->{result};
}

sub lock_file {
    my ($filename, $timeout, $code, @param) = @_;
    $timeout //= 10;
    my $res;
    eval {
        open(my $fh, '>>', $filename) or die "can't open file '$filename' - $!\n";
        my $deadline = Time::HiRes::time() + $timeout;
        while (!flock($fh, LOCK_EX | LOCK_NB)) {
            die "can't lock file '$filename' - got timeout\n" if Time::HiRes::time() > $deadline;
            Time::HiRes::sleep(0.05);
        }
        $res = eval { $code->(@param) };
        my $err = $@;
        close($fh);
        die $err if $err;
    };
    return $res;    # like PVE: the caller checks $@
}

sub df {
    my ($path, $timeout) = @_;
    my $out = '';
    eval {
        run_command(['df', '-P', '-B1', $path], outfunc => sub { $out .= "$_[0]\n" }, errfunc => sub { }, timeout => $timeout // 2);
    };
    my (undef, $line) = split(/\n/, $out);
    my (undef, $total, $used, $avail) = split(/\s+/, $line // '');
    return { total => ($total // 0) + 0, used => ($used // 0) + 0, avail => ($avail // 0) + 0 };
}

1;
