package BP::PVE::Bridge;

# The Perl half of the @bp/pve bridge, shared by every generated storage plugin and provider
# module. It starts the plugin's Node process, speaks the bridge protocol with it (JSON-RPC 2.0,
# one JSON object per line, on a Unix stream socket; see docs/protocol.md of @bp/pve) and turns
# replies back into what PVE expects: results, or a die "BP_CODE: message\n".
#
# Two kinds of Node process:
#   job      one per provider object, on a socketpair; it holds the TypeScript provider between
#            calls and ends with the object or the process that owns it;
#   storage  one per storage type, on <run_dir>/<type>.sock, shared by all PVE processes, so
#            pvestatd's polling costs one round trip instead of a Node start.
#
# This file is part of @bp/pve (MIT). Only Debian's perl and libjson-perl are needed.

use strict;
use warnings;

use Fcntl qw(:flock F_SETFD);
use File::Path ();
use IO::Socket::UNIX;
use JSON ();
use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC MSG_NOSIGNAL);
use Time::HiRes ();

our $PROTOCOL = 3;

my $JSON = JSON->new->utf8->canonical->allow_nonref->allow_blessed->convert_blessed->allow_unknown;

# --- configuration -----------------------------------------------------------------------------

# $cfg (from the generated module) with the environment overrides tests and operators use.
sub settings {
    my ($cfg) = @_;
    return {
        %$cfg,
        node => $ENV{BP_PVE_NODE} // $cfg->{node},
        run_dir => $ENV{BP_PVE_RUN_DIR} // $cfg->{run_dir},
        idle_seconds => $ENV{BP_PVE_IDLE_SECONDS} // $cfg->{idle_seconds} // 300,
    };
}

sub _run_dir {
    my ($cfg) = @_;
    my $dir = $cfg->{run_dir};
    File::Path::make_path($dir, { mode => 0700 }) if !-d $dir;
    return $dir;
}

# --- strings -----------------------------------------------------------------------------------
# PVE hands over byte strings (file contents, config values). JSON wants characters: valid UTF-8
# bytes are decoded on the way out and results are encoded back, so configs and notes cross the
# bridge byte-exact. Invalid UTF-8 travels as Latin-1 characters.

sub _chars {
    my ($value) = @_;
    my $ref = ref($value);
    if (!$ref) {
        return $value if !defined($value) || utf8::is_utf8($value) || $value !~ /[\x80-\xff]/;
        my $copy = "$value";
        utf8::decode($copy);
        return $copy;
    }
    return [ map { _chars($_) } @$value ] if $ref eq 'ARRAY';
    return { map { $_ => _chars($value->{$_}) } keys %$value } if $ref eq 'HASH';
    return undef if $ref eq 'CODE' || $ref eq 'GLOB' || $ref =~ /^IO::/;
    return $value;
}

sub _bytes {
    my ($value) = @_;
    my $ref = ref($value);
    if (!$ref) {
        return $value if !defined($value) || !utf8::is_utf8($value);
        my $copy = $value;
        utf8::encode($copy);
        return $copy;
    }
    return [ map { _bytes($_) } @$value ] if $ref eq 'ARRAY';
    return { map { _bytes($_) => _bytes($value->{$_}) } keys %$value } if $ref eq 'HASH';
    return $value ? 1 : 0 if JSON::is_bool($value);
    return $value;
}

# --- framing -----------------------------------------------------------------------------------

sub _conn {
    my ($fh, $what, $pid, $errlog) = @_;
    return { fh => $fh, buf => '', next_id => 0, what => $what, pid => $pid, errlog => $errlog, owner => $$ };
}

sub _send {
    my ($conn, $message) = @_;
    my $line = $JSON->encode($message) . "\n";
    my $offset = 0;
    while ($offset < length($line)) {
        # send() with MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE for the PVE process.
        my $sent = send($conn->{fh}, substr($line, $offset), MSG_NOSIGNAL);
        if (!defined($sent)) {
            next if $!{EINTR};
            $conn->{dead} = 1;
            die "BP_BRIDGE_DIED: cannot write to $conn->{what}: $!" . _tail($conn) . "\n";
        }
        $offset += $sent;
    }
}

# The next message, or undef at end of stream.
sub _read {
    my ($conn) = @_;
    while (1) {
        my $newline = index($conn->{buf}, "\n");
        if ($newline >= 0) {
            my $line = substr($conn->{buf}, 0, $newline + 1, '');
            next if $line !~ /\S/;
            my $message = eval { $JSON->decode($line) };
            die "BP_BRIDGE_PROTOCOL: $conn->{what} sent a line that is not JSON\n" if ref($message) ne 'HASH';
            return $message;
        }
        my $got = sysread($conn->{fh}, $conn->{buf}, 65536, length($conn->{buf}));
        if (!defined($got)) {
            next if $!{EINTR};
            return undef;
        }
        return undef if $got == 0;
    }
}

sub _tail {
    my ($conn) = @_;
    my $file = $conn->{errlog} or return '';
    open(my $fh, '<', $file) or return '';
    my @lines = <$fh>;
    close($fh);
    @lines = grep { /\S/ } @lines;
    return '' if !@lines;
    @lines = @lines[-5 .. -1] if @lines > 5;
    chomp(@lines);
    return "; its last output: " . join(' | ', @lines);
}

sub _deliver_log {
    my ($log, $params) = @_;
    return if ref($params) ne 'HASH';
    my $level = $params->{level} // 'info';
    my $message = _bytes($params->{message} // '');
    if ($log) {
        $log->($level, $message);
    } elsif ($level ne 'info') {
        warn "$level: $message\n";
    }
}

# Answers a request the Node side sends while call $id runs (protocol 2: regions.next) from
# $requests (method => sub (params) -> result). A die in the handler goes back as an error reply.
sub _answer {
    my ($conn, $message, $requests, $id) = @_;
    my $params = ref($message->{params}) eq 'HASH' ? $message->{params} : {};
    my $handler = $requests && ($params->{call} // '') eq $id ? $requests->{ $message->{method} } : undef;
    my $result = eval {
        die "BP_BRIDGE_PROTOCOL: no request $message->{method} is open for call " . ($params->{call} // '?') . "\n" if !$handler;
        $handler->($params);
    };
    if (my $err = $@) {
        my ($code, $text) = $err =~ /^(BP_[A-Z_]+): (.*?)\n*\z/s ? ($1, $2) : ('BP_BACKUP_FAILED', $err);
        $text =~ s/\n+\z//;
        _send($conn, { jsonrpc => '2.0', id => $message->{id}, error => { code => -32000, message => _chars($text), data => { bpCode => $code } } });
        return;
    }
    _send($conn, { jsonrpc => '2.0', id => $message->{id}, result => _chars($result) });
}

# One call: sends the request, relays log notifications while it runs, answers the Node side's
# requests ($requests, see _answer), returns the result or dies "BP_CODE: message\n". A die while
# waiting (a signal handler, the log function) cancels the call on the Node side before it
# propagates.
sub _call {
    my ($conn, $method, $params, $log, $requests) = @_;
    my $id = ++$conn->{next_id};
    _send($conn, { jsonrpc => '2.0', id => $id, method => $method, params => _chars($params) });
    my $reply = eval {
        while (1) {
            my $message = _read($conn);
            if (!defined($message)) {
                $conn->{dead} = 1;
                my $pid = $conn->{pid} ? " (pid $conn->{pid})" : '';
                die "BP_BRIDGE_DIED: $conn->{what}$pid ended during $method" . _tail($conn) . "\n";
            }
            if (defined($message->{method})) {
                if ($message->{method} eq 'log') {
                    _deliver_log($log, $message->{params});
                } elsif (defined($message->{id})) {
                    _answer($conn, $message, $requests, $id);
                }
                next;
            }
            next if !defined($message->{id}) || $message->{id} ne $id; # the reply to a cancelled call
            return $message;
        }
    };
    if (my $err = $@) {
        if (!$conn->{dead}) {
            eval { _send($conn, { jsonrpc => '2.0', method => 'cancel', params => { id => $id } }) };
        }
        die $err;
    }
    if (my $error = $reply->{error}) {
        my $code = (ref($error->{data}) eq 'HASH' && $error->{data}->{bpCode}) || 'BP_BRIDGE_PROTOCOL';
        my $text = _bytes($error->{message} // 'unknown error');
        $text =~ s/\n+\z//;
        die "$code: $text\n";
    }
    return _bytes($reply->{result});
}

sub _hello {
    my ($conn, $cfg, $role) = @_;
    return _call($conn, 'bp.hello', { protocol => $PROTOCOL, role => $role, type => $cfg->{type}, pid => $$ });
}

sub _server_args {
    my ($cfg, @mode) = @_;
    return ($cfg->{node}, @{ $cfg->{node_args} // [] }, $cfg->{server}, @mode, '--module', $cfg->{module}, '--export', $cfg->{export});
}

# In a child about to exec: stdin from /dev/null, stdout and stderr to $errlog (or /dev/null).
sub _child_stdio {
    my ($errlog) = @_;
    open(STDIN, '<', '/dev/null');
    if (!defined($errlog) || !open(STDOUT, '>>', $errlog)) {
        open(STDOUT, '>', '/dev/null');
    }
    open(STDERR, '>&', \*STDOUT);
}

# --- job processes -----------------------------------------------------------------------------

package BP::PVE::Bridge::Job;

use strict;
use warnings;

use Fcntl qw(F_SETFD);
use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use Time::HiRes ();

# A provider object's Node process, started on the first call.
sub new {
    my ($class, $cfg, $scfg, $storeid, $log_function) = @_;
    return bless {
        cfg => BP::PVE::Bridge::settings($cfg),
        scfg => $scfg,
        storeid => $storeid,
        log => $log_function,
        owner => $$,
    }, $class;
}

sub call {
    my ($self, $method, $args) = @_;
    my $requests;
    ($args, $requests) = _file_handle_volumes($args) if $method eq 'backup_vm';
    my $conn = $self->_connection();
    return BP::PVE::Bridge::_call($conn, "provider.$method", { args => $args }, $self->{log}, $requests);
}

# backup_vm's $volumes of mechanism file-handle hold a Perl file handle and a code ref; neither
# crosses a socket as JSON. The handle travels as its descriptor number in this process (the Node
# process opens /proc/<pid>/fd/<fd>), the closure as a stream token the Node side drains with
# regions.next requests while backup_vm runs. Discards come back as volume.discard requests and
# are done here on PVE's own handle with PVE::Storage::Common::deallocate (Node has no fallocate).
# Returns the translated args and the handlers.
sub _file_handle_volumes {
    my ($args) = @_;
    my ($vmid, $config, $volumes, @rest) = @$args;
    return ($args, undef) if ref($volumes) ne 'HASH';
    my (%copy, %streams, %done, %handles);
    for my $device (keys %$volumes) {
        my $entry = $volumes->{$device};
        if (ref($entry) ne 'HASH') {
            $copy{$device} = $entry;
            next;
        }
        my %translated = %$entry;
        if (defined(my $fh = $entry->{'file-handle'})) {
            my $fd = ref($fh) || ref(\$fh) eq 'GLOB' ? fileno($fh) : undef;
            die "BP_INVALID_ARGUMENT: the file-handle of $device is not an open file\n" if !defined($fd);
            $translated{'file-handle'} = { pid => $$, fd => $fd };
            $handles{$device} = $fh;
        }
        if (ref($entry->{'next-dirty-region'}) eq 'CODE') {
            $streams{$device} = $entry->{'next-dirty-region'};
            $translated{'next-dirty-region'} = { stream => $device };
        }
        $copy{$device} = \%translated;
    }
    my $next = sub {
        my ($params) = @_;
        my $stream = $params->{stream} // '';
        my $code = $streams{$stream} or die "BP_BRIDGE_PROTOCOL: no region stream '$stream' in this backup_vm call\n";
        my $max = $params->{max} && $params->{max} =~ /^\d+$/ ? $params->{max} : 256;
        my @regions;
        while (!$done{$stream} && @regions < $max) {
            my @region = eval { $code->() };
            die "BP_BACKUP_FAILED: next-dirty-region of $stream died: $@" if $@;
            if (!@region || !defined($region[0])) {
                $done{$stream} = 1;
                last;
            }
            push @regions, [ $region[0] + 0, ($region[1] // 0) + 0 ];
        }
        return { regions => \@regions, done => $done{$stream} ? JSON::true : JSON::false };
    };
    my $discard = sub {
        my ($params) = @_;
        my $device = $params->{stream} // '';
        my $fh = $handles{$device} or die "BP_BRIDGE_PROTOCOL: no file handle '$device' in this backup_vm call\n";
        my ($offset, $length) = ($params->{offset} // '', $params->{length} // '');
        die "BP_BRIDGE_PROTOCOL: volume.discard of $device needs a byte offset and length, got '$offset' and '$length'\n"
            if $offset !~ /^\d+$/ || $length !~ /^[1-9]\d*$/;
        require PVE::Storage::Common;
        eval { PVE::Storage::Common::deallocate($fh, $offset + 0, $length + 0) };
        die "BP_NBD_IO: could not discard $length bytes at $offset of $device: $@" if $@;
        return {};
    };
    return ([ $vmid, $config, \%copy, @rest ], { 'regions.next' => $next, 'volume.discard' => $discard });
}

# The Node process id (0 if none is running).
sub server_pid {
    my ($self) = @_;
    return $self->{conn} && !$self->{conn}->{dead} ? $self->{conn}->{pid} : 0;
}

sub _connection {
    my ($self) = @_;
    if ($self->{owner} != $$) {
        # A forked child (vzdump's backup_container): the parent's process is not ours to use or
        # stop. Forget it and start a fresh one from here, inside the child's namespaces.
        delete $self->{conn};
        $self->{owner} = $$;
    }
    my $conn = $self->{conn};
    return $conn if $conn && !$conn->{dead};
    $self->_reap() if $conn;
    $conn = $self->_spawn();
    $self->{conn} = $conn;
    eval {
        BP::PVE::Bridge::_hello($conn, $self->{cfg}, 'job');
        BP::PVE::Bridge::_call($conn, 'job.open', { storeid => $self->{storeid}, scfg => $self->{scfg} }, $self->{log});
    };
    if (my $err = $@) {
        $self->finish();
        die $err;
    }
    return $conn;
}

sub _spawn {
    my ($self) = @_;
    my $cfg = $self->{cfg};
    socketpair(my $mine, my $theirs, AF_UNIX, SOCK_STREAM, PF_UNSPEC)
        or die "BP_BRIDGE_DIED: cannot create the job socket: $!\n";
    my $errlog = eval {
        my $dir = BP::PVE::Bridge::_run_dir($cfg);
        "$dir/job-$cfg->{type}-$$-" . int(Time::HiRes::time() * 1000) . ".log";
    };
    my $pid = fork();
    die "BP_BRIDGE_DIED: cannot fork the job process: $!\n" if !defined($pid);
    if (!$pid) {
        eval {
            POSIX::setpgid(0, 0); # terminal signals go to PVE, which cancels the call
            my $fd = fileno($theirs);
            POSIX::dup2($fd, 3) if $fd != 3;
            open(my $three, '+<&=', 3) or die "fd 3: $!";
            fcntl($three, F_SETFD, 0) or die "fd 3: $!";
            BP::PVE::Bridge::_child_stdio($errlog);
            exec { $cfg->{node} } BP::PVE::Bridge::_server_args($cfg, '--mode', 'job', '--fd', '3');
        };
        POSIX::_exit(127);
    }
    close($theirs);
    return BP::PVE::Bridge::_conn($mine, "the bp job process of storage type '$cfg->{type}'", $pid, $errlog);
}

sub _reap {
    my ($self, $grace) = @_;
    my $conn = delete $self->{conn} or return;
    close($conn->{fh}) if $conn->{fh};
    my $pid = $conn->{pid};
    if ($pid) {
        my $deadline = Time::HiRes::time() + ($grace // 10);
        my $signal = 'TERM';
        while (waitpid($pid, POSIX::WNOHANG()) == 0) {
            if (Time::HiRes::time() > $deadline) {
                kill($signal, $pid);
                last if $signal eq 'KILL';
                $signal = 'KILL';
                $deadline = Time::HiRes::time() + 2;
            }
            Time::HiRes::sleep(0.005);
        }
    }
    unlink($conn->{errlog}) if $conn->{errlog};
}

# Ends the job process: closing the socket tells it the job is over; it exits once its calls
# have settled.
sub finish {
    my ($self) = @_;
    return if $self->{owner} != $$;
    $self->_reap();
}

sub DESTROY {
    my ($self) = @_;
    local ($., $@, $!, $^E, $?);
    $self->finish();
}

# --- the storage process -----------------------------------------------------------------------

package BP::PVE::Bridge;

my %STORAGE_CONN;

sub _socket_path {
    my ($cfg) = @_;
    return _run_dir($cfg) . "/$cfg->{type}.sock";
}

sub _connect {
    my ($path) = @_;
    return IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path);
}

# Starts the storage process detached (its own session, not a child of this PVE process); returns
# its pid so the caller can notice an early death.
sub _spawn_storage {
    my ($cfg, $path) = @_;
    my $errlog = _run_dir($cfg) . "/$cfg->{type}.log";
    pipe(my $read, my $write) or die "BP_BRIDGE_DIED: pipe: $!\n";
    my $pid = fork();
    die "BP_BRIDGE_DIED: cannot fork the storage process: $!\n" if !defined($pid);
    if (!$pid) {
        eval {
            close($read);
            POSIX::setsid();
            my $grandchild = fork();
            POSIX::_exit(1) if !defined($grandchild);
            if ($grandchild) {
                syswrite($write, "$grandchild\n");
                POSIX::_exit(0);
            }
            close($write);
            _child_stdio($errlog);
            exec { $cfg->{node} } _server_args($cfg, '--mode', 'storage', '--socket', $path, '--idle-seconds', $cfg->{idle_seconds});
        };
        POSIX::_exit(127);
    }
    close($write);
    my $line = <$read> // '';
    close($read);
    waitpid($pid, 0);
    chomp($line);
    return ($line =~ /^(\d+)$/ ? $1 : 0, $errlog);
}

sub _storage_connection {
    my ($cfg) = @_;
    my $conn = eval { _storage_connect($cfg) };
    my $err = $@ or return $conn;
    die $err if $err !~ /^BP_BRIDGE_PROTOCOL:/;
    # A storage process of another bridge version (left over from an upgrade): replace it once.
    storage_shutdown($cfg);
    my $path = _socket_path($cfg);
    my $deadline = Time::HiRes::time() + 5;
    Time::HiRes::sleep(0.01) while -e $path && Time::HiRes::time() < $deadline;
    return _storage_connect($cfg);
}

sub _storage_connect {
    my ($cfg) = @_;
    my $key = "$cfg->{type}\0$cfg->{run_dir}";
    my $conn = $STORAGE_CONN{$key};
    return $conn if $conn && !$conn->{dead} && $conn->{owner} == $$;
    delete $STORAGE_CONN{$key};
    my $path = _socket_path($cfg);
    my $errlog = _run_dir($cfg) . "/$cfg->{type}.log";
    my $fh = _connect($path);
    if (!$fh) {
        open(my $lock, '>>', "$path.lock") or die "BP_BRIDGE_DIED: cannot open $path.lock: $!\n";
        flock($lock, LOCK_EX) or die "BP_BRIDGE_DIED: cannot lock $path.lock: $!\n";
        $fh = _connect($path);
        if (!$fh) {
            my ($pid) = _spawn_storage($cfg, $path);
            my $deadline = Time::HiRes::time() + 30;
            while (!($fh = _connect($path))) {
                my $gone = !$pid || !kill(0, $pid);
                if ($gone || Time::HiRes::time() > $deadline) {
                    my $dummy = _conn(undef, 'the bp storage process', $pid, $errlog);
                    die "BP_BRIDGE_DIED: the bp storage process of type '$cfg->{type}' did not start" . _tail($dummy) . "\n";
                }
                Time::HiRes::sleep(0.01);
            }
        }
        close($lock);
    }
    $conn = _conn($fh, "the bp storage process of type '$cfg->{type}'", undef, $errlog);
    my $hello = _hello($conn, $cfg, 'storage');
    $conn->{pid} = $hello->{pid};
    $STORAGE_CONN{$key} = $conn;
    return $conn;
}

# A storage plugin call. Read-only calls are retried once on a fresh connection when the
# process went away before answering (it may have just ended after being idle).
sub storage_call {
    my ($cfg, $method, $params, $log, $read_only) = @_;
    $cfg = settings($cfg);
    for my $attempt (1 .. 2) {
        my $conn = _storage_connection($cfg);
        my $result = eval { _call($conn, "storage.$method", $params, $log) };
        my $err = $@;
        return $result if !$err;
        die $err if !$conn->{dead} || !$read_only || $attempt == 2;
    }
}

# The pid of the storage process (starting it if needed).
sub storage_server_pid {
    my ($cfg) = @_;
    return _storage_connection(settings($cfg))->{pid};
}

# Asks the storage process to exit (tests, package removal); no-op when none runs.
sub storage_shutdown {
    my ($cfg) = @_;
    $cfg = settings($cfg);
    my $key = "$cfg->{type}\0$cfg->{run_dir}";
    my $conn = delete $STORAGE_CONN{$key};
    if (!$conn || $conn->{dead}) {
        my $fh = _connect(_socket_path($cfg)) or return;
        $conn = _conn($fh, 'the bp storage process');
    }
    eval { _call($conn, 'bp.shutdown', {}) };
    close($conn->{fh});
}

# parse_volname gets no storage ID from PVE: any configured storage of this type binds the
# plugin (volume names do not depend on the config). Results are cached per process.
my %VOLNAME_CACHE;

sub any_storage_of_type {
    my ($type) = @_;
    my $config_of = PVE::Storage->can('config')
        or die "BP_INVALID_CONFIG: PVE::Storage is not loaded; cannot find a storage of type '$type'\n";
    my $config = $config_of->();
    my $ids = $config->{ids} // {};
    for my $storeid (sort keys %$ids) {
        return ($storeid, $ids->{$storeid}) if ($ids->{$storeid}->{type} // '') eq $type;
    }
    die "BP_INVALID_CONFIG: no storage of type '$type' is configured in storage.cfg\n";
}

sub parse_volname {
    my ($cfg, $volname) = @_;
    my $key = "$cfg->{type}\0$volname";
    my $cached = $VOLNAME_CACHE{$key};
    return @$cached if $cached;
    my ($storeid, $scfg) = any_storage_of_type($cfg->{type});
    my $result = storage_call($cfg, 'parse_volname', { storeid => $storeid, scfg => $scfg, volname => $volname }, undef, 1);
    %VOLNAME_CACHE = () if keys(%VOLNAME_CACHE) > 10000;
    $VOLNAME_CACHE{$key} = $result;
    return @$result;
}

1;
