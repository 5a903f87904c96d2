package BP::PVE::Runner;

# The Perl runner: the bridge protocol of BP::PVE::Bridge, run the other way. A Node process (the
# @bp/pve `perlProvider` plugin, and through it @bp/host and the conformance kit) starts this
# runner, which loads an existing Perl storage plugin (`PVE::Storage::Custom::*`, and through
# its `new_backup_provider` the provider class) and answers `storage.<name>` and
# `provider.<name>` requests by calling the Perl methods with the arguments PVE would pass.
#
# The Node side translates values into Perl's shapes (hyphenated keys, 1/0, undef) and back.
# This side only provides what JSON cannot carry: the log function, `file-handle` volumes as real
# file handles (the Node process's descriptor reopened through /proc/<pid>/fd/<n>, with its
# access mode and O_DIRECT), `next-dirty-region` as a closure that asks the Node side for the
# next regions (`regions.next`), and PVE::Storage::Common::deallocate on such a handle forwarded
# as `volume.discard`. See docs/protocol.md of @bp/pve, section "The Perl runner".
#
# The protocol never uses the provider's STDOUT: it travels on its own descriptors, and STDOUT
# is reopened onto STDERR before the plugin is loaded, so a provider that prints cannot corrupt it.
#
# This file is part of @bp/pve (MIT).

use strict;
use warnings;

use Fcntl ();
use JSON ();
use POSIX ();

use BP::PVE::Bridge ();

my $JSON = JSON->new->utf8->canonical->allow_nonref->allow_blessed->convert_blessed->allow_unknown;

# Methods whose result PVE takes in list context.
my %LIST_CONTEXT = map { $_ => 1 } qw(restore_get_mechanism parse_volname path volume_size_info status);

# Positional arguments of the storage plugin methods (after $class), by the names the Node side
# uses for them. `logfunc` is the call's log function.
my %STORAGE_ARGS = (
    parse_volname => [qw(volname)],
    path => [qw(scfg volname storeid snapname)],
    list_volumes => [qw(storeid scfg vmid content-types)],
    volume_size_info => [qw(scfg storeid volname timeout)],
    status => [qw(storeid scfg cache)],
    activate_storage => [qw(storeid scfg cache)],
    deactivate_storage => [qw(storeid scfg cache)],
    check_connection => [qw(storeid scfg)],
    prune_backups => [qw(scfg storeid keep vmid type dryrun logfunc)],
    free_image => [qw(storeid scfg volname isBase format)],
    get_volume_attribute => [qw(scfg storeid volname attribute)],
    update_volume_attribute => [qw(scfg storeid volname attribute value)],
);

my $O_ACCMODE = 3;

sub new {
    my ($class, %opts) = @_;
    return bless {
        module => $opts{module},
        conn => BP::PVE::Bridge::_conn($opts{in}, 'the Node side'),
        out => $opts{out},
        next_request => 0,
        provider => undef,
        current => undef,
        streams => {},
        handles => {},
    }, $class;
}

# --- framing (BP::PVE::Bridge's reader; writes with syswrite, which works on pipes too) --------

sub _write {
    my ($self, $message) = @_;
    my $line = $JSON->encode($message) . "\n";
    my $offset = 0;
    while ($offset < length($line)) {
        my $written = syswrite($self->{out}, $line, length($line) - $offset, $offset);
        if (!defined($written)) {
            next if $!{EINTR};
            POSIX::_exit(0); # the Node side is gone: nobody is left to answer
        }
        $offset += $written;
    }
}

sub _log {
    my ($self, $level, $message) = @_;
    $level = 'info' if !defined($level) || $level !~ /^(?:info|warn|err)$/;
    my $text = BP::PVE::Bridge::_chars(defined($message) ? "$message" : '');
    $text =~ s/\n+\z//;
    my $params = { level => $level, message => $text };
    $params->{id} = $self->{current} if defined($self->{current});
    $self->_write({ jsonrpc => '2.0', method => 'log', params => $params });
}

sub log_function {
    my ($self) = @_;
    return sub { $self->_log(@_) };
}

# Asks the Node side something while a call runs (regions.next, volume.discard); dies with the
# Node side's BP code on an error reply.
sub request {
    my ($self, $method, $params) = @_;
    my $id = 'p' . ++$self->{next_request};
    $self->_write({ jsonrpc => '2.0', id => $id, method => $method, params => { %$params, call => $self->{current} } });
    while (1) {
        my $message = BP::PVE::Bridge::_read($self->{conn});
        POSIX::_exit(0) if !defined($message);
        next if defined($message->{method}); # nothing else is expected while a request is open
        next if !defined($message->{id}) || $message->{id} ne $id;
        if (my $error = $message->{error}) {
            my $code = (ref($error->{data}) eq 'HASH' && $error->{data}->{bpCode}) || 'BP_BRIDGE_PROTOCOL';
            die "$code: " . BP::PVE::Bridge::_bytes($error->{message} // 'the Node side failed the request') . "\n";
        }
        return BP::PVE::Bridge::_bytes($message->{result});
    }
}

# --- file-handle volumes -----------------------------------------------------------------------

# The Node process's descriptor as a Perl handle of this process: /proc/<pid>/fd/<fd> opened
# anew with the original's access mode and O_DIRECT (PVE hands providers an O_RDWR|O_DIRECT
# handle of the nbdfuse file).
sub _open_foreign_fd {
    my ($device, $pid, $fd) = @_;
    die "BP_INVALID_ARGUMENT: file-handle of $device is not a descriptor\n" if ($pid // '') !~ /^\d+$/ || ($fd // '') !~ /^\d+$/;
    open(my $info, '<', "/proc/$pid/fdinfo/$fd") or die "BP_BACKUP_FAILED: cannot read /proc/$pid/fdinfo/$fd for $device: $!\n";
    my ($flags) = map { /^flags:\s*([0-7]+)/ ? oct($1) : () } <$info>;
    close($info);
    die "BP_BACKUP_FAILED: no flags in /proc/$pid/fdinfo/$fd\n" if !defined($flags);
    my $direct = eval { Fcntl::O_DIRECT() } // 0;
    my $mode = ($flags & $O_ACCMODE) | ($flags & $direct);
    sysopen(my $fh, "/proc/$pid/fd/$fd", $mode) or die "BP_BACKUP_FAILED: cannot open the file handle of $device (/proc/$pid/fd/$fd): $!\n";
    binmode($fh);
    return $fh;
}

# backup_vm's $volumes as PVE passes them: `file-handle` {pid, fd} becomes a handle, and
# `next-dirty-region` {stream} a closure returning (offset, length) or () after the last region.
sub _vm_volumes {
    my ($self, $volumes) = @_;
    return $volumes if ref($volumes) ne 'HASH';
    my %out;
    for my $device (sort keys %$volumes) {
        my $entry = $volumes->{$device};
        my %copy = ref($entry) eq 'HASH' ? %$entry : ();
        if (ref($copy{'file-handle'}) eq 'HASH') {
            my $fh = _open_foreign_fd($device, $copy{'file-handle'}->{pid}, $copy{'file-handle'}->{fd});
            $self->{handles}->{ fileno($fh) } = $device;
            $copy{'file-handle'} = $fh;
        }
        if (ref($copy{'next-dirty-region'}) eq 'HASH') {
            my $stream = $copy{'next-dirty-region'}->{stream} // $device;
            my @queue;
            my $done = 0;
            $copy{'next-dirty-region'} = sub {
                while (!@queue && !$done) {
                    my $batch = $self->request('regions.next', { stream => $stream, max => 256 });
                    push @queue, @{ $batch->{regions} // [] };
                    $done = 1 if $batch->{done} || !@{ $batch->{regions} // [] };
                }
                my $region = shift(@queue) or return;
                return ($region->[0], $region->[1]);
            };
        }
        $out{$device} = \%copy;
    }
    return \%out;
}

# The device a handle passed to PVE::Storage::Common::deallocate belongs to, if it came from
# the Node side (the compat layer forwards the discard there, where the volume knows how).
sub bridged_handle_device {
    my ($self, $fh) = @_;
    my $fd = eval { fileno($fh) };
    return undef if !defined($fd);
    return $self->{handles}->{$fd};
}

our $CURRENT; # the runner serving this process (for the compat layer)

# --- calls -------------------------------------------------------------------------------------

sub _call_method {
    my ($self, $invocant, $name, @args) = @_;
    die "BP_NOT_SUPPORTED: $self->{module} has no method $name\n" if !$invocant->can($name);
    if ($LIST_CONTEXT{$name}) {
        my @result = $invocant->$name(@args);
        return \@result;
    }
    my $result = $invocant->$name(@args);
    return $result;
}

sub _storage {
    my ($self, $name, $params) = @_;
    my $order = $STORAGE_ARGS{$name} or die "BP_NOT_SUPPORTED: storage method $name is not served by the runner\n";
    my @args = map { $_ eq 'logfunc' ? $self->log_function() : $params->{$_} } @$order;
    return $self->_call_method($self->{module}, $name, @args);
}

sub _provider {
    my ($self, $name, $params) = @_;
    my $provider = $self->{provider} or die "BP_BRIDGE_PROTOCOL: job.open must come before provider calls\n";
    my @args = ref($params->{args}) eq 'ARRAY' ? @{ $params->{args} } : ();
    if ($name eq 'backup_vm') {
        $args[2] = $self->_vm_volumes($args[2]);
    }
    return $self->_call_method($provider, $name, @args);
}

# What the Node side needs to know about the plugin before it opens a storage.
sub describe {
    my ($self) = @_;
    my $module = $self->{module};
    my %own;
    for my $method (qw(parse_volname path list_volumes volume_size_info status activate_storage prune_backups free_image get_volume_attribute update_volume_attribute new_backup_provider)) {
        my $mine = $module->can($method);
        my $base = PVE::Storage::Plugin->can($method);
        $own{$method} = $mine && (!$base || $mine != $base) ? JSON::true : JSON::false;
    }
    my $plugindata = $module->can('plugindata') ? $module->plugindata() : {};
    my $properties = $module->can('properties') ? $module->properties() : {};
    my %props;
    for my $key (keys %{ $properties // {} }) {
        my $p = $properties->{$key};
        next if ref($p) ne 'HASH';
        $props{$key} = { map { defined($p->{$_}) ? ($_ => $p->{$_}) : () } qw(type enum default description) };
    }
    return {
        module => $module,
        type => scalar(eval { $module->type() }),
        api => scalar(eval { $module->api() }),
        features => ref($plugindata) eq 'HASH' ? ($plugindata->{features} // {}) : {},
        properties => \%props,
        methods => \%own,
        compat => $INC{'PVE/Tools.pm'} && $INC{'PVE/Tools.pm'} =~ m{/compat/PVE/Tools\.pm$} ? JSON::true : JSON::false,
    };
}

sub dispatch {
    my ($self, $method, $params) = @_;
    if ($method eq 'bp.hello') {
        die "BP_BRIDGE_PROTOCOL: the Node side speaks protocol " . ($params->{protocol} // '?') . ", this runner $BP::PVE::Bridge::PROTOCOL\n"
            if ($params->{protocol} // '') ne $BP::PVE::Bridge::PROTOCOL;
        my $type = eval { $self->{module}->type() };
        return { protocol => $BP::PVE::Bridge::PROTOCOL + 0, role => 'runner', type => $type, pid => $$ };
    }
    return $self->describe() if $method eq 'runner.describe';
    if ($method eq 'job.open') {
        die "BP_NOT_SUPPORTED: $self->{module} has no new_backup_provider; it is not a backup provider storage\n"
            if !$self->{module}->can('new_backup_provider');
        my $provider = $self->{module}->new_backup_provider($params->{scfg}, $params->{storeid}, $self->log_function());
        die "BP_PROVIDER_FAILED: $self->{module}->new_backup_provider returned no object\n" if !ref($provider);
        $self->{provider} = $provider;
        return undef;
    }
    return $self->_storage($1, $params) if $method =~ /^storage\.([a-z_]+)$/;
    return $self->_provider($1, $params) if $method =~ /^provider\.([a-z_]+)$/;
    die "BP_BRIDGE_PROTOCOL: unknown method $method\n";
}

# `Class->method` of a request, for error messages.
sub _perl_method {
    my ($self, $method) = @_;
    return "$self->{module}->$1" if $method =~ /^storage\.([a-z_]+)$/;
    return (ref($self->{provider}) || 'provider') . "->$1" if $method =~ /^provider\.([a-z_]+)$/;
    return "$self->{module}->new_backup_provider" if $method eq 'job.open';
    return undef;
}

sub _error_of {
    my ($err, $perl_method) = @_;
    $err = "$err" if ref($err);
    my ($code, $text) = $err =~ /^(BP_[A-Z0-9_]+): (.*?)\s*\z/s ? ($1, $2) : ('BP_PROVIDER_FAILED', $err);
    $text =~ s/\s+\z//;
    my $data = { bpCode => $code };
    $data->{details} = { perlMethod => $perl_method } if defined($perl_method);
    return { code => -32000, message => BP::PVE::Bridge::_chars($text), data => $data };
}

# Serves requests until the Node side closes its end.
sub serve {
    my ($self) = @_;
    local $CURRENT = $self;
    while (defined(my $message = BP::PVE::Bridge::_read($self->{conn}))) {
        next if !defined($message->{method});     # a stray reply
        next if !defined($message->{id});         # notifications (cancel): calls run one at a time
        my $params = ref($message->{params}) eq 'HASH' ? BP::PVE::Bridge::_bytes($message->{params}) : {};
        local $self->{current} = $message->{id};
        my $result = eval { $self->dispatch($message->{method}, $params) };
        if (my $err = $@) {
            $self->_write({ jsonrpc => '2.0', id => $message->{id}, error => _error_of($err, $self->_perl_method($message->{method})) });
        } else {
            $self->_write({ jsonrpc => '2.0', id => $message->{id}, result => BP::PVE::Bridge::_chars($result) });
        }
        %{ $self->{handles} } = () if $message->{method} eq 'provider.backup_vm';
        last if $message->{method} eq 'bp.shutdown';
    }
}

# Entry of bp-perl-runner: `--module NAME --in FD --out FD` (include directories are set up by
# the script before this module loads).
sub main {
    my (@argv) = @_;
    my %opts = (in => 3, out => 3);
    while (@argv) {
        my $flag = shift(@argv);
        if ($flag =~ /^--(module|in|out)$/) {
            $opts{$1} = shift(@argv);
        } else {
            die "bp-perl-runner: unknown argument $flag\n";
        }
    }
    die "bp-perl-runner: --module is required\n" if !$opts{module} || $opts{module} !~ /^\w+(?:::\w+)*$/;
    $SIG{PIPE} = 'IGNORE';
    my ($in, $out);
    if ($opts{out} eq $opts{in}) {
        open($in, '+<&=', $opts{in}) or die "bp-perl-runner: fd $opts{in}: $!\n";
        $out = $in;
    } else {
        open($in, '<&=', $opts{in}) or die "bp-perl-runner: fd $opts{in}: $!\n";
        open($out, '>&=', $opts{out}) or die "bp-perl-runner: fd $opts{out}: $!\n";
    }
    binmode($in);
    binmode($out);
    # Commands the provider runs must not inherit the protocol descriptors.
    for my $fh ($in, $out) {
        fcntl($fh, Fcntl::F_SETFD(), Fcntl::FD_CLOEXEC()) or die "bp-perl-runner: close-on-exec: $!\n";
    }
    # The provider's prints must never reach the protocol: STDOUT becomes a copy of STDERR.
    open(STDOUT, '>&', \*STDERR) or die "bp-perl-runner: cannot redirect STDOUT: $!\n";
    STDERR->autoflush(1);
    STDOUT->autoflush(1);
    my $self = BP::PVE::Runner->new(%opts, in => $in, out => $out);
    # Load the plugin after the redirect; a failure is reported to every request.
    (my $file = "$opts{module}.pm") =~ s{::}{/}g;
    my $loaded = eval { require PVE::Storage::Plugin; require $file; 1 };
    if (!$loaded) {
        my $err = $@;
        $err =~ s/\s+\z//;
        $err =~ s/ \(\@INC (?:contains|entries checked): [^)]*\)//;
        if ($err !~ /^BP_[A-Z0-9_]+: /) {
            my $missing = $err =~ /^Can't locate \Q$file\E in \@INC/;
            my $hint = $missing ? '; give the directory that holds it with --include' : '';
            $err = ($missing ? 'BP_NOT_FOUND' : 'BP_INVALID_CONFIG') . ": cannot load Perl module $opts{module}: $err$hint";
        }
        local $CURRENT = $self;
        while (defined(my $message = BP::PVE::Bridge::_read($self->{conn}))) {
            next if !defined($message->{id}) || !defined($message->{method});
            $self->_write({ jsonrpc => '2.0', id => $message->{id}, error => _error_of($err) });
        }
        return 0;
    }
    $self->serve();
    return 0;
}

1;
