// Copy benchmark of @bp/nbd against nbdcopy and qemu-img (see README "Benchmark").
// Env: BP_BENCH_SIZE (4G), BP_BENCH_RUNS (5), BP_BENCH_SEED (1), BP_BENCH_DIR (<tmp>/bp-nbd-bench),
// BP_BENCH_REQUEST_SIZE / BP_BENCH_IN_FLIGHT / BP_BENCH_CONNECTIONS (bp tuning), BP_BENCH_ONLY (full|incremental),
// BP_BENCH_TARGET_CACHE (cache mode of the qemu-nbd targets, default writeback; flushed at the end).
// `--write-results` also writes bench/results.md.
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { generateSource } from './generate-source.mjs';
import { allocatedDataBytes, formatGiB, formatMiB, median, parseSize, setCancelSignal, timed, verifyEqual } from './measure.mjs';

// Run from a private copy of dist/, so a concurrent `turbo build` (tsup cleans dist/) cannot
// pull the code from under a running benchmark.
const snapshot = fileURLToPath(new URL(`./.dist-snapshot-${process.pid}/`, import.meta.url));
await rm(snapshot, { recursive: true, force: true });
await cp(fileURLToPath(new URL('../dist/', import.meta.url)), snapshot, { recursive: true });
const { startQemuNbd } = await import(new URL(`./.dist-snapshot-${process.pid}/qemu.js`, import.meta.url).href);

const env = process.env;
const size = parseSize(env.BP_BENCH_SIZE ?? '4G');
const runs = Number(env.BP_BENCH_RUNS ?? 5);
const seed = Number(env.BP_BENCH_SEED ?? 1);
const only = env.BP_BENCH_ONLY;
const dir = env.BP_BENCH_DIR ?? join(tmpdir(), 'bp-nbd-bench');
const tuning = {
  connections: env.BP_BENCH_CONNECTIONS ? Number(env.BP_BENCH_CONNECTIONS) : undefined,
  requestSize: env.BP_BENCH_REQUEST_SIZE ? parseSize(env.BP_BENCH_REQUEST_SIZE) : undefined,
  inFlight: env.BP_BENCH_IN_FLIGHT ? Number(env.BP_BENCH_IN_FLIGHT) : undefined,
};
const targetCache = env.BP_BENCH_TARGET_CACHE ?? 'writeback';
// Ctrl-C stops child tools and servers, then the finally block below cleans up.
const interrupt = new AbortController();
for (const name of ['SIGINT', 'SIGTERM']) process.once(name, () => interrupt.abort());
setCancelSignal(interrupt.signal);

await mkdir(dir, { recursive: true });
const stem = `${env.BP_BENCH_SIZE ?? '4G'}-${seed}-v2`;
const sourceImage = join(dir, `source-${stem}.qcow2`);
const baseImage = (bitmap) => join(dir, `base-${bitmap}-${stem}.qcow2`);
const work = join(dir, 'work');
await rm(work, { recursive: true, force: true });
await mkdir(work);
console.error(`source: ${sourceImage} (generating if missing)`);
const facts = await generateSource(sourceImage, baseImage, size, seed);
const sourceData = await allocatedDataBytes(sourceImage);
const dirtyText = Object.entries(facts.dirty).map(([bitmap, dirty]) => `${bitmap}: ${formatMiB(dirty.bytes)} dirty in ${dirty.extents} extents`).join(', ');
console.error(`source: ${formatGiB(size)}, ${formatGiB(sourceData)} stored data; ${dirtyText}`);

const source = await startQemuNbd({ image: sourceImage, format: 'qcow2', readOnly: true, bitmaps: ['b0', 'b4'], shared: 16, signal: interrupt.signal });
const results = [];
let peakRssKiB = 0;
/** Copy-engine times of bp runs (copyRegions incl. final flush), as a provider calling it in-process sees them. */
let inProcess = [];
const allocation = [];

/** A fresh target image (optionally an overlay on the base). */
async function freshImage(name, backing) {
  const path = join(work, name);
  await rm(path, { force: true });
  const args = ['create', '-q', '-f', 'qcow2'];
  if (backing) args.push('-b', backing, '-F', 'qcow2');
  await execa('qemu-img', [...args, path, String(size)]);
  return path;
}

/** Serves `image` writable (aio threads; cache per BP_BENCH_TARGET_CACHE). */
function serveTarget(image) {
  return startQemuNbd({ image, format: 'qcow2', cache: targetCache, aio: 'threads', discard: 'unmap', shared: 16, signal: interrupt.signal });
}

/** Runs the `bp-nbd copy` CLI (from the snapshot) under /usr/bin/time; returns wall seconds. */
async function runBp({ bitmap, destination, backing, targetIsZero }) {
  const args = ['-f', '%M', 'node', join(snapshot, 'cli.js'), 'copy', '--json'];
  if (bitmap) args.push('--bitmap', bitmap);
  if (backing) args.push('--backing', backing);
  if (targetIsZero) args.push('--target-is-zero');
  if (tuning.requestSize) args.push('--request-size', String(tuning.requestSize));
  if (tuning.inFlight) args.push('--requests', String(tuning.inFlight));
  if (tuning.connections) args.push('--connections', String(tuning.connections));
  const { seconds, stdout, stderr } = await timed('/usr/bin/time', [...args, source.uri, destination]);
  const stats = JSON.parse(stdout.trim().split('\n').at(-1));
  peakRssKiB = Math.max(peakRssKiB, Number(stderr.trim().split('\n').at(-1)));
  inProcess.push(stats.durationMs / 1000);
  return seconds;
}

const tools = {
  full: [
    {
      name: 'bp → qemu-nbd target',
      bp: true,
      async run(target) {
        const server = await serveTarget(target);
        try {
          return await runBp({ destination: server.uri, targetIsZero: true });
        } finally {
          await server.stop();
        }
      },
    },
    {
      name: 'bp → qcow2 file (direct writer)',
      bp: true,
      fresh: false,
      run: (target) => runBp({ destination: target }),
    },
    {
      name: 'nbdcopy --flush → qemu-nbd target',
      async run(target) {
        const server = await serveTarget(target);
        try {
          return (await timed('nbdcopy', ['--flush', '--target-is-zero', source.uri, server.uri])).seconds;
        } finally {
          await server.stop();
        }
      },
    },
    {
      // The fastest durable peer on these machines: O_DIRECT writes, out of order.
      name: 'qemu-img convert -t none -W',
      fresh: false,
      durablePeer: true,
      run: async (target) => (await timed('qemu-img', ['convert', '-t', 'none', '-W', '-f', 'raw', source.uri, '-O', 'qcow2', target])).seconds,
    },
    {
      name: 'qemu-img convert -t writeback',
      fresh: false,
      run: async (target) => (await timed('qemu-img', ['convert', '-t', 'writeback', '-f', 'raw', source.uri, '-O', 'qcow2', target])).seconds,
    },
  ].filter(Boolean),
  ...Object.fromEntries(Object.keys(facts.dirty).map((bitmap) => [`incremental ${bitmap}`, incrementalTools(bitmap, baseImage(bitmap))])),
};

/** Copies of the dirty extents of `bitmap` into an overlay on `base`. */
function incrementalTools(bitmap, base) {
  return [
    {
      name: 'bp → qemu-nbd overlay',
      bp: true,
      base,
      async run(target) {
        const server = await serveTarget(target);
        try {
          return await runBp({ bitmap, destination: server.uri });
        } finally {
          await server.stop();
        }
      },
    },
    {
      name: 'bp → qcow2 overlay file (direct writer)',
      bp: true,
      base,
      fresh: false,
      run: (target) => runBp({ bitmap, destination: target, backing: base }),
    },
    {
      // The best peer built from stock tools: the dirty map as an nbdkit extent list, so one
      // nbdcopy reads only dirty extents and writes nothing else into the overlay.
      name: 'nbdinfo --map + nbdcopy (extentlist)',
      base,
      async run(target) {
        const server = await serveTarget(target);
        try {
          const started = performance.now();
          const { stdout } = await execa('nbdinfo', [`--map=qemu:dirty-bitmap:${bitmap}`, '--json', source.uri], { cancelSignal: interrupt.signal });
          const list = join(work, 'extents.txt');
          await writeFile(list, JSON.parse(stdout).filter((extent) => extent.type & 1).map((extent) => `${extent.offset} ${extent.length}\n`).join(''));
          const socket = source.socketPath;
          await timed('nbdcopy', ['--flush', '--target-is-zero', '--', '[', 'nbdkit', '--exit-with-parent', '--filter=extentlist', 'nbd', `socket=${socket}`, 'export=disk', `extentlist=${list}`, ']', server.uri]);
          return (performance.now() - started) / 1000;
        } finally {
          await server.stop();
        }
      },
    },
  ].filter(Boolean);
}

// Tools take turns inside each repetition, so load changes on a shared machine hit all alike.
const samples = new Map();
try {
  for (let run = 0; run < runs; run++) {
    for (const [kind, list] of Object.entries(tools)) {
      if (only && !kind.startsWith(only)) continue;
      for (const tool of list) {
        const name = `${kind}-${run}.qcow2`;
        const backing = tool.base;
        let target = join(work, name);
        await rm(target, { force: true });
        if (tool.fresh !== false) target = await freshImage(name, backing);
        await execa('sync');
        inProcess = [];
        const seconds = await tool.run(target);
        await verifyEqual(sourceImage, target);
        if (tool.bp && kind === 'full' && run === 0) allocation.push({ tool: tool.name, bytes: await allocatedDataBytes(target) });
        await rm(target, { force: true });
        const sample = samples.get(tool) ?? { kind, times: [], inProcess: [] };
        sample.times.push(seconds);
        sample.inProcess.push(...inProcess);
        samples.set(tool, sample);
        console.error(`${kind.padEnd(11)} ${tool.name.padEnd(42)} run ${run + 1}/${runs}: ${seconds.toFixed(2)} s (verified)`);
      }
    }
  }
  for (const [tool, { kind, times, inProcess: copies }] of samples) {
    results.push({
      kind,
      tool: tool.name,
      bp: Boolean(tool.bp),
      durablePeer: Boolean(tool.durablePeer),
      median: median(times),
      inProcess: copies.length ? median(copies) : undefined,
      min: Math.min(...times),
      max: Math.max(...times),
    });
  }
} finally {
  await source.stop();
  await rm(work, { recursive: true, force: true });
  await rm(snapshot, { recursive: true, force: true });
}

const lines = [
  `# @bp/nbd copy benchmark`,
  '',
  `${new Date().toISOString().slice(0, 10)}, ${formatGiB(size)} source (seed ${seed}): ${formatGiB(sourceData)} stored data; ` +
    `${dirtyText}; ${runs} runs each, tools interleaved, every result verified with qemu-img compare. ` +
    `bp: requestSize ${tuning.requestSize ?? 'default'}, inFlight ${tuning.inFlight ?? 'default'}, connections ${tuning.connections ?? 1}. qemu-nbd targets: cache=${targetCache}, flushed at the end.`,
  '',
  '| copy | tool | median s | min s | max s | vs best peer | bp in-process s | in-process vs best peer |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const kind of Object.keys(tools)) {
  const rows = results.filter((row) => row.kind === kind);
  const peers = rows.filter((row) => !row.bp);
  if (rows.length === 0) continue;
  const best = Math.min(...peers.map((row) => row.median));
  for (const row of rows) {
    lines.push(`| ${kind} | ${row.tool}${row.durablePeer ? ' (durable peer)' : ''} | ${row.median.toFixed(2)} | ${row.min.toFixed(2)} | ${row.max.toFixed(2)} | ${(row.median / best).toFixed(2)}× | ${row.inProcess?.toFixed(2) ?? ''} | ${row.inProcess ? `${(row.inProcess / best).toFixed(2)}×` : ''} |`);
  }
}
lines.push('', 'Times are wall times of whole processes (bp: the `bp-nbd copy` CLI). "bp in-process" is the copy engine\'s own time inside that process (copyRegions including the final flush), as a provider calling it in-process sees it; the difference is Node start-up and module loading.');
lines.push('', `Peak RSS of a bp-nbd copy process: ${formatMiB(peakRssKiB * 1024)}.`);
for (const entry of allocation) lines.push(`Target data allocation, ${entry.tool}: ${formatMiB(entry.bytes)} = ${(entry.bytes / sourceData).toFixed(3)}× the source's stored data.`);
const table = `${lines.join('\n')}\n`;
process.stdout.write(table);
if (process.argv.includes('--write-results') || env.BP_BENCH_WRITE_RESULTS === '1') {
  await writeFile(new URL('./results.md', import.meta.url), table);
}
