// The main job of bp measured as a user runs it (whole `bp` processes) beside the best plain peer,
// in the same run, printed as one table with ratios. `npm run bench` (root) runs this; the
// packages' own benchmarks stay in `npm run bench:packages`.
// Env: BP_BENCH_SIZE (4G: the source disk of the full, restore and first incremental rows),
// BP_BENCH_RUNS (3), BP_BENCH_TREE_MIB (1024), BP_BENCH_DIR (<tmp>/bp-bench),
// BP_BENCH_ONLY (vm | inc | ct: vm = all VM rows, inc = only the incremental VM rows, ct = the container rows).
// The incremental peer runs tooling/bench-incremental-peer.py with /usr/bin/python3 (python3-libnbd).
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { generateTree } from '../packages/archive/bench/generate-tree.mjs';
import { generateSource } from '../packages/nbd/bench/generate-source.mjs';
import { parseSize } from '../packages/nbd/bench/measure.mjs';
import { applyWrites, GRANULE, peerCommand, runPeer, scatteredWrites, stopLeftovers } from './bench-incremental.mjs';

const env = process.env;
const size = parseSize(env.BP_BENCH_SIZE ?? '4G');
const runs = Number(env.BP_BENCH_RUNS ?? 3);
const treeMiB = Number(env.BP_BENCH_TREE_MIB ?? 1024);
const dir = env.BP_BENCH_DIR ?? join(tmpdir(), 'bp-bench');
const CLI = fileURLToPath(new URL('../apps/cli/dist/cli.js', import.meta.url));
const work = join(dir, 'work');
const home = join(work, 'home');
const bpEnv = { ...env, BP_HOME: home, CI: '1' };
const only = env.BP_BENCH_ONLY;
if (only !== undefined && !['vm', 'inc', 'ct'].includes(only)) throw new Error(`BP_BENCH_ONLY must be vm, inc or ct, got ${only}`);
/** Whether the rows of `part` (vm, inc, ct) run: vm includes the incremental rows. */
const want = (part) => only === undefined || only === part || (only === 'vm' && part === 'inc');

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const seconds = async (file, args, options = {}) => {
  const started = performance.now();
  await execa(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return (performance.now() - started) / 1000;
};
const bp = (args) => seconds('node', [CLI, ...args], { env: bpEnv });
const bpJson = async (args) => JSON.parse((await execa('node', [CLI, ...args, '--json', '--no-progress'], { env: bpEnv })).stdout);
const fresh = async () => {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
};
/** Reads `files` once so both sides of a comparison find them in the page cache. */
const warm = async (files) => {
  for (const file of files) await execa('cat', [file], { stdout: 'ignore' });
};
const filesUnder = async (root) => {
  const found = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) if (entry.isFile()) found.push(join(entry.parentPath ?? entry.path, entry.name));
  return found;
};

await mkdir(dir, { recursive: true });
const source = join(dir, `source-${env.BP_BENCH_SIZE ?? '4G'}.qcow2`);
console.error(`source: ${source} (generating if missing)`);
const facts = await generateSource(source, (bitmap) => join(dir, `base-${bitmap}.qcow2`), size, 1);
const tree = join(dir, 'tree');
if (want('ct')) {
  await generateTree(tree, treeMiB * 1024 * 1024);
  // bp restore checks that a container archive looks like a root file system.
  await mkdir(join(tree, 'sbin'), { recursive: true });
}

/**
 * Rows: [what, bp seconds (median), peer name, peer seconds (median)]. `what` and `peerName` may be
 * functions, read after the runs (for facts the runs find out, such as the bytes each side copied).
 */
const rows = [];
async function compare(what, peerName, setup, bpRun, peerRun) {
  const text = (label) => (typeof label === 'function' ? label() : label);
  const bpTimes = [];
  const peerTimes = [];
  for (let run = 0; run < runs; run++) {
    // Interleaved, so a load change on the shared machine hits both sides alike.
    const context = await setup();
    bpTimes.push(await bpRun(context));
    peerTimes.push(await peerRun(context));
    console.error(`${text(what)}: run ${run + 1}: bp ${bpTimes.at(-1).toFixed(2)} s, ${text(peerName)} ${peerTimes.at(-1).toFixed(2)} s`);
  }
  rows.push([text(what), median(bpTimes), text(peerName), median(peerTimes)]);
}

// The fixed cost of every bp process (Node start-up and loading bp), beside Node starting alone.
await compare('start-up: bp --version', "node -e ''", async () => undefined, () => bp(['--version']), () => seconds('node', ['-e', '']));

const disk = join(dir, 'disk.qcow2');
if (want('vm')) {
const convertPeer = async () => seconds('qemu-img', ['convert', '-t', 'none', '-W', '-f', 'qcow2', source, '-O', 'qcow2', join(work, 'peer.qcow2')]);
for (const mechanism of ['nbd', 'file-handle']) {
  await compare(`backup vm, full, ${mechanism} (${(facts.dataBytes / 2 ** 30).toFixed(2)} GiB data)`, 'qemu-img convert -t none -W', fresh,
    () => bp(['backup', 'vm', '100', '--disk', `scsi0=${source}`, '--mode', 'full', '--mechanism', mechanism, '--no-progress']), convertPeer);
}

// Restore of a full + 2 incrementals (the disk gets ~2 % scattered writes between backups).
let chainTop;
await compare('restore vm, full + 2 incrementals', 'qemu-img convert -t none -W (chain top)', async () => {
  await fresh();
  await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', source, disk]);
  await execa('qemu-img', ['bitmap', '--remove', disk, 'b0']).catch(() => undefined);
  await execa('qemu-img', ['bitmap', '--remove', disk, 'b4']).catch(() => undefined);
  let volid;
  for (let generation = 0; generation < 3; generation++) {
    if (generation > 0) {
      const writes = [];
      for (let index = 0; index < 40; index++) {
        const offset = Math.floor(((index * 7919) % 1000) / 1000 * (size - 2 ** 20) / 65536) * 65536;
        writes.push('-c', `write -P ${generation + index} ${offset} ${65536 * (1 + (index % 16))}`);
      }
      await execa('qemu-io', ['-f', 'qcow2', ...writes, disk]);
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    volid = (await bpJson(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'incremental'])).volid;
  }
  const show = await bpJson(['show', volid]);
  chainTop = join(home, 'storages', 'local', volid.replace(/^local:backup\//, ''), 'drive-scsi0.qcow2');
  const images = (await filesUnder(join(home, 'storages', 'local', '100'))).filter((file) => file.endsWith('.qcow2'));
  return { volid, chain: show.chain, images };
}, async ({ volid, images }) => {
  // The backups were just written with O_DIRECT (not cached); whoever read them first would pay
  // for the disk and leave the other side a warm cache. Both sides start warm (not timed).
  await warm(images);
  return bp(['restore', volid, '--to', join(work, 'restored'), '--format', 'qcow2', '--no-progress']);
}, async ({ images }) => {
  await warm(images);
  return seconds('qemu-img', ['convert', '-t', 'none', '-W', '-f', 'qcow2', chainTop, '-O', 'qcow2', join(work, 'peer-restore.qcow2')]);
});

// Verify of everything stored so far against sha256sum of the same files.
const stored = join(home, 'storages', 'local');
await compare('verify (all backups of the chain)', 'sha256sum', async () => ({ files: (await filesUnder(stored)).filter((file) => !file.endsWith('backup.log')) }),
  () => bp(['verify', '--no-progress']), ({ files }) => seconds('sha256sum', files));

}

// Incremental backups: bp's persistent bitmap (64 KiB granules in standalone mode) against a
// libnbd script that copies the dirty extents of a `qemu-nbd -B` export into a qcow2 overlay
// (tooling/bench-incremental-peer.py; its servers' start-up is in its time). Both sides see the
// same disk and the same writes: bp's full backup creates bp's bitmap, `qemu-img bitmap --add`
// the peer's, then the writes dirty both. The first run of each row checks the results with
// qemu-img compare (not timed).
if (want('inc')) {
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const sum = (writes) => writes.reduce((total, { length }) => total + length, 0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const chainTop = (volid) => join(home, 'storages', 'local', volid.replace(/^local:backup\//, ''), 'drive-scsi0.qcow2');
const sameImages = (a, b) => execa('qemu-img', ['compare', '-q', '-f', 'qcow2', '-F', 'qcow2', a, b]);
const incremental = (image, vmid) => bpJson(['backup', 'vm', String(vmid), '--disk', `scsi0=${image}`, '--mode', 'incremental', '--mechanism', 'nbd']);
/** A timed `bp backup vm --mode incremental` that must really be incremental; checks the chain top against `image` when `check`. */
const timedIncremental = async (image, vmid, check) => {
  const started = performance.now();
  const result = await incremental(image, vmid);
  const seconds = (performance.now() - started) / 1000;
  const full = result.disks.filter((disk) => disk.kind !== 'incremental');
  if (full.length > 0) throw new Error(`bp backup vm ${vmid} was not incremental: ${JSON.stringify(full)}`);
  if (check) {
    await sameImages(chainTop(result.volid), image);
    console.error(`checked: bp's chain top of VM ${vmid} equals its disk (qemu-img compare)`);
  }
  return { seconds, bytes: result.bytesCopied };
};
/** A qcow2 (a copy of `from`, or empty of `size`) with a full bp backup, with `peer` the peer's bitmap and full copy, then `writes`. */
const prepare = async (image, vmid, { from, size: virtualSize, peer = true }, writes) => {
  if (from) await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', from, image]);
  else await execa('qemu-img', ['create', '-q', '-f', 'qcow2', image, String(virtualSize)]);
  await incremental(image, vmid); // the first is full and creates bp's bitmap
  if (!peer) {
    await applyWrites(image, writes, work);
    return { disk: image };
  }
  const backing = `${image}.peer-full.qcow2`;
  await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', image, backing]);
  await execa('qemu-img', ['bitmap', '--add', '-g', String(GRANULE), image, 'peer']);
  await applyWrites(image, writes, work);
  return { disk: image, bitmap: 'peer', backing, overlay: `${image}.peer-overlay.qcow2` };
};
const sweep = async () => {
  const stopped = await stopLeftovers(work);
  if (stopped.length > 0) console.error(`stopped servers left running:\n  ${stopped.join('\n  ')}`);
};
try {
  // ~2 % of the source disk in scattered 64 KiB–1 MiB writes.
  const writes = scatteredWrites(size, size * 0.02, 12);
  const copied = {};
  let checked = { bp: false, peer: false };
  await compare(
    () => `backup vm, incremental, nbd (${mib(sum(writes))} in ${writes.length} scattered 64 KiB–1 MiB writes; copied: bp ${mib(copied.bp)}, peer ${mib(copied.peer)})`,
    'qemu-nbd -B + libnbd async copy to a qcow2 overlay',
    async () => {
      await fresh();
      const context = await prepare(join(work, 'inc.qcow2'), 100, { from: source }, writes);
      await sleep(1100); // backup IDs are whole seconds
      return context;
    },
    async ({ disk }) => {
      const { seconds, bytes } = await timedIncremental(disk, 100, !checked.bp);
      checked.bp = true;
      copied.bp = bytes;
      return seconds;
    },
    async (context) => {
      try {
        if (!checked.peer) console.error(`peer: ${peerCommand(context).join(' ')}`);
        const { seconds, dirtyBytes } = await runPeer(context);
        if (!checked.peer) {
          await sameImages(context.overlay, context.disk);
          console.error("checked: the peer's overlay equals the disk (qemu-img compare)");
        }
        checked.peer = true;
        copied.peer = dirtyBytes;
        return seconds;
      } finally {
        await sweep();
      }
    },
  );

  // Cost grows with dirty bytes, not disk size: the same 64 MiB of writes in the first 4 GiB of an
  // empty 4 GiB and an empty 256 GiB disk (sparse: neither costs space or time to create).
  const small = 4 * 2 ** 30;
  const large = 256 * 2 ** 30;
  const writes64 = scatteredWrites(small, 64 * 2 ** 20, 13);
  const bytesOf = {};
  checked = { bp: false, peer: false };
  await compare(
    () => `backup vm, incremental, nbd, 256 GiB sparse disk (${mib(sum(writes64))} in ${writes64.length} writes in its first 4 GiB; copied ${mib(bytesOf.large)})`,
    () => `bp, the same on a 4 GiB disk (copied ${mib(bytesOf.small)})`,
    async () => {
      await fresh();
      const disks = { small: await prepare(join(work, 'inc-4g.qcow2'), 101, { size: small, peer: false }, writes64), large: await prepare(join(work, 'inc-256g.qcow2'), 102, { size: large, peer: false }, writes64) };
      await sleep(1100);
      return disks;
    },
    async ({ large: { disk } }) => {
      const { seconds, bytes } = await timedIncremental(disk, 102, !checked.bp);
      checked.bp = true;
      bytesOf.large = bytes;
      return seconds;
    },
    async ({ small: { disk } }) => {
      const { seconds, bytes } = await timedIncremental(disk, 101, !checked.peer);
      checked.peer = true;
      bytesOf.small = bytes;
      return seconds;
    },
  );
} finally {
  await sweep();
}
}

// Container tar: bp backup ct / bp restore against GNU tar with the same flags.
const tarFlags = ['--one-file-system', '--sparse', '--numeric-owner', '--acls', '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.capability', '--warning=no-file-ignored', '--warning=no-xattr-write'];
let ctVolid;
if (want('ct')) {
await compare(`backup ct, tar (${treeMiB} MiB tree)`, 'GNU tar c, same flags', fresh,
  async () => {
    const started = performance.now();
    ctVolid = (await bpJson(['backup', 'ct', '200', '--rootfs', tree, '--uid-map', '0:0:65536'])).volid;
    return (performance.now() - started) / 1000;
  },
  async () => {
    const started = performance.now();
    await execa('tar', ['cpf', join(work, 'peer.tar'), ...tarFlags, '.'], { cwd: tree });
    await execa('sync', ['-f', join(work, 'peer.tar')]);
    return (performance.now() - started) / 1000;
  });
await compare('restore ct, tar', 'GNU tar x, same flags', async () => {
  await rm(join(work, 'ct-restored'), { recursive: true, force: true });
  await rm(join(work, 'peer-x'), { recursive: true, force: true });
  await mkdir(join(work, 'peer-x'));
  if (!(await stat(join(work, 'peer.tar')).catch(() => undefined))) await execa('tar', ['cpf', join(work, 'peer.tar'), ...tarFlags, '.'], { cwd: tree });
  return {};
}, () => bp(['restore', ctVolid, '--to', join(work, 'ct-restored'), '--uid-map', '0:100000:65536', '--no-progress']),
  () => seconds('tar', ['xpf', join(work, 'peer.tar'), ...tarFlags, '-C', join(work, 'peer-x')]));
}

await rm(work, { recursive: true, force: true });
const table = [
  `bp beside its peers, ${new Date().toISOString().slice(0, 10)}, medians of ${runs} interleaved runs (source ${(size / 2 ** 30).toFixed(0)} GiB, ${(facts.dataBytes / 2 ** 30).toFixed(2)} GiB data, ${(facts.zeroBytes / 2 ** 30).toFixed(2)} GiB zeroes)`,
  '',
  '| what | bp | peer | peer time | ratio |',
  '| --- | ---: | --- | ---: | ---: |',
  ...rows.map(([what, bpTime, peerName, peerTime]) => `| ${what} | ${bpTime.toFixed(2)} s | ${peerName} | ${peerTime.toFixed(2)} s | ${(bpTime / peerTime).toFixed(2)}× |`),
];
console.log(table.join('\n'));
