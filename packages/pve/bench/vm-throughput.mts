// Full-backup throughput through the bridge beside the same backup under bp's own host (run:
// npm run bench:vm -w @bp/pve, after a build). One qcow2 disk of BENCH_SIZE_MIB (default 1024)
// MiB of non-zero data; both sides back it up with @bp/dir-example (full, PVE bitmap naming),
// timed from backupVm's start to its return; mechanisms nbd and file-handle.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirExamplePlugin } from '@bp/dir-example';
import { runBackupJob } from '@bp/host';
import { generatePerlModules, installPerlModules } from '@bp/pve';

const root = fileURLToPath(new URL('..', import.meta.url));
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
const scratch = mkdtempSync(join(tmpdir(), 'bp-pve-vmbench-'));
const runDir = join(scratch, 'run');
await installPerlModules(generatePerlModules(dirExamplePlugin, { server: join(root, 'dist/server.js'), nodeArgs: [], module: '@bp/dir-example', runDir }).files, join(scratch, 'perl5'));

const image = join(scratch, 'disk.qcow2');
execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, `${sizeMiB}M`]);
// Non-zero data everywhere (zero detection would skip zeros), a different byte per 64 MiB.
const writes: string[] = [];
for (let offset = 0; offset < sizeMiB; offset += 64) writes.push('-c', `write -P ${1 + ((offset / 64) % 250)} ${offset}M ${Math.min(64, sizeMiB - offset)}M`);
execFileSync('qemu-io', ['-f', 'qcow2', ...writes, image]);

async function host(mechanism: 'nbd' | 'file-handle', vmid: number): Promise<number> {
  const path = join(scratch, `host-${mechanism}`);
  mkdirSync(path);
  const storage = dirExamplePlugin.open('bench', dirExamplePlugin.configSchema.parse({ path, 'vm-backup-mechanism': mechanism }));
  let start = 0;
  let ms = 0;
  const job = await runBackupJob({
    storage,
    guests: [{ type: 'qemu', vmid, config: 'name: bench\n', source: { kind: 'images', disks: [{ virtdev: 'scsi0', image, format: 'qcow2' }] } }],
    options: { bitmaps: 'pve' },
    onEvent: (event) => {
      if (event.type !== 'phase') return;
      if (event.phase === 'backup-vm') start = performance.now();
      else if (start && !ms) ms = performance.now() - start;
    },
  });
  if (!job.ok) throw new Error(`host backup failed: ${job.guests[0]?.error?.message ?? job.error?.message}`);
  return ms;
}

function bridge(mechanism: 'nbd' | 'file-handle', vmid: number): number {
  const store = join(scratch, `bridge-${mechanism}`);
  mkdirSync(store);
  const work = join(scratch, `w-${mechanism}`);
  mkdirSync(work);
  const result = spawnSync('perl', ['-I', join(scratch, 'perl5'), '-I', join(root, 't/lib'), '-I', join(root, 'perl/compat'), join(root, 'bench/vm-throughput.pl'), store, image, mechanism, String(vmid), work], {
    encoding: 'utf8',
    env: { ...process.env, BP_PVE_RUN_DIR: runDir },
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return Number(result.stdout.trim().split('\t')[2]);
}

const mibs = (ms: number): string => ((sizeMiB * 1000) / ms).toFixed(0);
console.log(`| mechanism | bp host: backupVm ms | MiB/s | PVE bridge: backup_vm ms | MiB/s |\n| --- | ---: | ---: | ---: | ---: |`);
let vmid = 100;
for (const mechanism of ['nbd', 'file-handle'] as const) {
  const hostMs = await host(mechanism, vmid++);
  const bridgeMs = bridge(mechanism, vmid++);
  console.log(`| ${mechanism} | ${hostMs.toFixed(0)} | ${mibs(hostMs)} | ${bridgeMs.toFixed(0)} | ${mibs(bridgeMs)} |`);
}
rmSync(scratch, { recursive: true, force: true });
