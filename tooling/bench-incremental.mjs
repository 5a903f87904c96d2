// Helpers of the incremental rows of tooling/bench.mjs: the scattered writes both sides back up,
// the libnbd peer (bench-incremental-peer.py), and a sweep for servers a failed run left behind.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { scatteredExtents } from '../packages/nbd/bench/generate-source.mjs';

const KiB = 1024;
/** The bitmap granularity of both sides (bp's standalone default; the peer's `qemu-img bitmap -g`). */
export const GRANULE = 64 * KiB;
const PEER = fileURLToPath(new URL('./bench-incremental-peer.py', import.meta.url));
// Debian's interpreter: python3-libnbd is installed for it, not for a pyenv python3 on PATH.
const PYTHON = '/usr/bin/python3';

/**
 * Non-overlapping writes of 64 KiB–1 MiB (log-uniform, granule-aligned, at least one clean granule
 * apart) inside the first `span` bytes, `total` bytes in all: [{ offset, length }] by offset.
 */
export function scatteredWrites(span, total, seed) {
  return scatteredExtents(span, total, seed, GRANULE, 1024 * KiB);
}

/** Writes incompressible data at `writes` into the qcow2 `image` (one qemu-io; its bitmaps track them). */
export async function applyWrites(image, writes, workDir) {
  const pattern = join(workDir, 'write-pattern');
  await writeFile(pattern, randomBytes(1024 * KiB));
  await execa('qemu-io', ['-f', 'qcow2', ...writes.flatMap(({ offset, length }) => ['-c', `write -s ${pattern} ${offset} ${length}`]), image]);
}

/** The peer's command line (see bench-incremental-peer.py for the servers it starts). */
export function peerCommand({ disk, bitmap, backing, overlay }) {
  return [PYTHON, PEER, '--source', disk, '--bitmap', bitmap, '--backing', backing, '--overlay', overlay];
}

/** Runs the peer; { seconds, dirtyBytes, extents, requests }. A failed request fails the run. */
export async function runPeer(options) {
  const [file, ...args] = peerCommand(options);
  const started = performance.now();
  const { stdout } = await execa(file, args);
  return { seconds: (performance.now() - started) / 1000, ...JSON.parse(stdout) };
}

/**
 * Stops qemu-nbd / qemu-storage-daemon processes whose command line names a path under `root`
 * (left by a failed run: the peer's servers end with its handles, bp stops its own). Returns the
 * command lines it stopped, so the caller can say so.
 */
export async function stopLeftovers(root) {
  const stopped = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    const name = argv[0]?.split('/').at(-1);
    if ((name !== 'qemu-nbd' && name !== 'qemu-storage-daemon') || !argv.some((arg) => arg.includes(root))) continue;
    try {
      process.kill(Number(entry), 'SIGTERM');
      stopped.push(argv.join(' '));
    } catch {
      // Gone meanwhile.
    }
  }
  return stopped;
}
