// Measures the Perl runner's per-call cost (run: npm run bench:perl -w @bp/pve, after a build):
// Node -> runner -> the Perl provider's method -> back, beside the same Perl method called
// in-process by Perl itself (the peer: what PVE's own call costs), on the Perl test provider.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { perlProvider } from '@bp/pve';
import { medianAndP99, timeCalls } from './call-timing.mts';

const root = fileURLToPath(new URL('..', import.meta.url));
const include = join(root, 'test/fixtures/perl');
const module = 'PVE::Storage::Custom::BpTestDirPlugin';
const scratch = mkdtempSync(join(tmpdir(), 'bp-perl-bench-'));
const store = join(scratch, 'store');
mkdirSync(store);
const calls = 2000;
const rows: string[] = [];

function summary(name: string, ms: number[]): void {
  const [median, p99] = medianAndP99([...ms].sort((a, b) => a - b));
  rows.push(`| ${name} | ${ms.length} | ${median} | ${p99} |`);
}

async function timed(name: string, count: number, run: () => unknown): Promise<void> {
  summary(name, await timeCalls(count, run));
}

// The peer: the same methods called by Perl in-process, timed by Perl.
const perl = spawnSync(
  'perl',
  [
    '-I', include, '-I', join(root, 'perl/compat'), '-MTime::HiRes=time', `-M${module}`, '-e',
    `my $s = { path => '${store}', type => 'bp-test-dir' }; for my $m (qw(list_volumes status)) { my @ms; for (1..${calls + 3}) { my $t = time; my @r = $m eq 'status' ? ${module}->status('b', $s, {}) : ${module}->list_volumes('b', $s, undef, ['backup']); push @ms, (time - $t) * 1000 } splice(@ms, 0, 3); print "$m @ms\\n" }`,
  ],
  { encoding: 'utf8' },
);
for (const line of perl.stdout.trim().split('\n')) {
  const [method, ...values] = line.split(' ');
  summary(`in-process Perl ${method} (no runner)`, values.map(Number));
}

const plugin = perlProvider({ module, include: [include] });
const storage = plugin.open('b', { path: store });
await timed('runner storage list_volumes', calls, () => storage.listVolumes());
await timed('runner storage status (df)', calls, () => storage.status());
const provider = storage.newBackupProvider(() => {});
await timed('runner provider_name', calls, () => provider.providerName());
await timed('new runner + new_backup_provider + provider_name', 20, () => storage.newBackupProvider(() => {}).providerName());
let n = 0;
await timed('parse_volname (one-shot runner, per new volname)', 20, () => storage.parseVolname(`backup/100/qemu-${++n}`));
await plugin.close();
rmSync(scratch, { recursive: true, force: true });
console.log(['| call | n | median ms | p99 ms |', '| --- | ---: | ---: | ---: |', ...rows].join('\n'));
