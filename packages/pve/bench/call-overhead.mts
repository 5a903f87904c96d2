// Measures the bridge's per-call overhead (run: npm run bench -w @bp/pve, after a build):
// Perl -> generated module -> Node -> plugin -> back, beside the same call made in-process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirExamplePlugin } from '@bp/dir-example';
import { generatePerlModules, installPerlModules } from '@bp/pve';
import { medianAndP99, timeCalls } from './call-timing.mts';

const root = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'bp-pve-bench-'));
const store = join(scratch, 'store');
spawnSync('mkdir', ['-p', store]);
const server = { server: join(root, 'dist/server.js'), nodeArgs: [], runDir: join(scratch, 'run') };
const probeModule = join(root, 't/fixtures/probe-plugin.mjs');
const { probePlugin } = (await import(probeModule)) as { probePlugin: typeof dirExamplePlugin };
await installPerlModules(
  [...generatePerlModules(dirExamplePlugin, { ...server, module: '@bp/dir-example' }).files, ...generatePerlModules(probePlugin, { ...server, module: probeModule }).files],
  join(scratch, 'perl5'),
);

const calls = 2000;
const rows: string[] = [];
async function inProcess(name: string, count: number, run: () => Promise<unknown>): Promise<void> {
  const [median, p99] = medianAndP99(await timeCalls(count, run));
  rows.push(`${name}\t${count}\t${median}\t${p99}`);
}
const dir = dirExamplePlugin.open('d1', dirExamplePlugin.configSchema.parse({ path: store }));
await inProcess('in-process status (dir-example, no bridge)', calls, () => dir.status());
await inProcess('in-process list_volumes (dir-example, no bridge)', calls, () => dir.listVolumes());

const perl = spawnSync('perl', ['-I', join(scratch, 'perl5'), '-I', join(root, 't/lib'), '-I', join(root, 'perl/compat'), join(root, 'bench/call-overhead.pl'), store, String(calls)], {
  encoding: 'utf8',
  env: { ...process.env, BP_PVE_RUN_DIR: join(scratch, 'run') },
});
if (perl.status !== 0) throw new Error(perl.stderr);
console.log('| call | n | median ms | p99 ms |\n| --- | ---: | ---: | ---: |');
for (const line of [...perl.stdout.trim().split('\n'), ...rows]) console.log(`| ${line.split('\t').join(' | ')} |`);
rmSync(scratch, { recursive: true, force: true });
