// Benchmark of @bp/archive against plain GNU tar and mksquashfs on the same tree, same run.
// Env: BP_BENCH_SIZE_MIB (2048), BP_BENCH_RUNS (5), BP_BENCH_RATE_MIB (50), BP_BENCH_DIR (<tmp>/bp-archive-bench),
// BP_BENCH_SQUASHFS_COMP (lz4: keeps the run short on 2 cores; both sides use the same). `--write-results` also writes bench/results.md.
import { createWriteStream } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { generateTree } from './generate-tree.mjs';

// Run from a private copy of dist/, so a concurrent build (tsup cleans dist/) cannot pull the
// code from under a running benchmark.
const snapshot = fileURLToPath(new URL('./.dist-snapshot/', import.meta.url));
await rm(snapshot, { recursive: true, force: true });
await cp(fileURLToPath(new URL('../dist/', import.meta.url)), snapshot, { recursive: true });
const archive = await import(new URL('./.dist-snapshot/index.js', import.meta.url).href);

const MiB = 1024 * 1024;
const env = process.env;
const sizeMiB = Number(env.BP_BENCH_SIZE_MIB ?? 2048);
const runs = Number(env.BP_BENCH_RUNS ?? 5);
const rateMiB = Number(env.BP_BENCH_RATE_MIB ?? 50);
const squashfsCompression = env.BP_BENCH_SQUASHFS_COMP ?? 'lz4';
const dir = env.BP_BENCH_DIR ?? join(tmpdir(), 'bp-archive-bench');
const root = join(dir, 'tree');
const out = join(dir, 'out');

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const timed = async (fn) => {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
};
const fresh = async () => {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
};

console.error(`tree: ${root} (${sizeMiB} MiB, generating if missing)`);
const facts = await generateTree(root, sizeMiB * MiB);
console.error(`tree: ${facts.files} files, ${(facts.bytes / MiB).toFixed(0)} MiB`);
const exclusions = archive.compileExclusions([]);

const cases = [
  {
    name: 'tar create (no compression)',
    peerName: 'GNU tar',
    // bp flushes an archive to disk before publishing it; the peer gets the same fsync.
    peer: async () => {
      await execa('tar', ['cpf', join(out, 'peer.tar'), '--totals', ...archive.CREATE_TAR_FLAGS, `--directory=${root}`, ...exclusions.tarArguments, './']);
      await execa('sync', [join(out, 'peer.tar')]);
    },
    bp: () => archive.createTarArchive({ directory: root, output: join(out, 'bp.tar') }),
  },
  {
    name: `squashfs create (${squashfsCompression})`,
    peerName: 'mksquashfs',
    peer: async () => {
      await execa('mksquashfs', [root, join(out, 'peer.sqfs'), '-noappend', '-no-recovery', '-no-progress', '-quiet', '-exit-on-error', '-one-file-system', '-xattrs', '-comp', squashfsCompression, ...(await exclusions.squashfsArguments(root))]);
      await execa('sync', [join(out, 'peer.sqfs')]);
    },
    bp: () => archive.createSquashfsArchive({ directory: root, output: join(out, 'bp.sqfs'), compression: squashfsCompression }),
  },
];

// Extraction of one archive made up front: bp scans every member header first (untrusted input).
const extractArchive = join(dir, 'extract-source.tar');
const extractTarget = join(out, 'target');
cases.push({
  name: 'tar extract (scan + extract)',
  peerName: 'GNU tar',
  setup: async () => {
    await rm(extractArchive, { force: true });
    await archive.createTarArchive({ directory: root, output: extractArchive });
  },
  prepare: () => mkdir(extractTarget),
  peer: () => execa('tar', ['xpf', extractArchive, '--totals', ...archive.EXTRACT_TAR_FLAGS, '-C', extractTarget]),
  bp: () => archive.extractTarArchive({ archive: extractArchive, target: extractTarget }),
  teardown: () => rm(extractArchive, { force: true }),
});

const rows = [];
for (const benchCase of cases) {
  await benchCase.setup?.();
  const peerTimes = [];
  const bpTimes = [];
  // Warm the page cache once so the first measured run is not the only cold one.
  await fresh();
  await benchCase.prepare?.();
  await benchCase.peer();
  for (let run = 0; run < runs; run++) {
    // Alternate the order so drift on the shared machine hits both sides alike.
    const order = run % 2 === 0 ? ['peer', 'bp'] : ['bp', 'peer'];
    for (const side of order) {
      await fresh();
      await benchCase.prepare?.();
      const seconds = await timed(benchCase[side]);
      (side === 'peer' ? peerTimes : bpTimes).push(seconds);
      console.error(`${benchCase.name}: ${side} run ${run + 1}: ${seconds.toFixed(2)} s`);
    }
  }
  await benchCase.teardown?.();
  const peer = median(peerTimes);
  const bp = median(bpTimes);
  rows.push({ name: benchCase.name, peerName: benchCase.peerName, peer, bp, overhead: ((bp - peer) / peer) * 100 });
}

// Rate limit accuracy on one large file. tar: the limited stream goes to /dev/null so the
// figure is the limiter's alone. squashfs: measured between the first and last progress sample
// (mksquashfs' read counter), i.e. without process start and the final fsync.
const limit = rateMiB * MiB;
const rateRows = [];
{
  await fresh();
  let bytes = 0;
  const seconds = await timed(async () => {
    const result = await archive.createTarArchive({ directory: root, sources: [`./${facts.rateFile}`], output: createWriteStream('/dev/null'), bandwidthLimit: limit });
    bytes = result.bytes;
  });
  rateRows.push({ name: 'tar (tar stream bytes, whole call)', bytes, seconds });
}
{
  await fresh();
  const samples = [];
  const seconds = await timed(() =>
    archive.createSquashfsArchive({
      directory: root,
      sources: [`./${facts.rateFile}`],
      output: join(out, 'rate.sqfs'),
      bandwidthLimit: limit,
      compression: squashfsCompression,
      onProgress: ({ bytes }) => samples.push({ bytes, at: performance.now() }),
    }),
  );
  const first = samples.find((sample) => sample.bytes > 0) ?? samples[0];
  const last = samples.at(-1);
  rateRows.push({ name: 'squashfs (bytes mksquashfs read, sampled)', bytes: last.bytes - first.bytes, seconds: (last.at - first.at) / 1000 });
  rateRows.push({ name: 'squashfs (source file bytes, whole call)', bytes: facts.rateBytes, seconds });
}
await rm(out, { recursive: true, force: true });

const sourceMiB = facts.bytes / MiB;
const lines = [
  `# @bp/archive benchmark`,
  '',
  `Tree: ${facts.files} files, ${sourceMiB.toFixed(0)} MiB (3 large files + many 1-64 KiB files, random content), page cache warm.`,
  `Medians of ${runs} alternating runs each, same machine, same run (${new Date().toISOString()}).`,
  '',
  '| case | peer | peer s | peer MiB/s | bp s | bp MiB/s | bp overhead |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((row) => `| ${row.name} | ${row.peerName} | ${row.peer.toFixed(2)} | ${(sourceMiB / row.peer).toFixed(0)} | ${row.bp.toFixed(2)} | ${(sourceMiB / row.bp).toFixed(0)} | ${row.overhead >= 0 ? '+' : ''}${row.overhead.toFixed(1)} % |`),
  '',
  `Rate limit ${rateMiB} MiB/s on one ${(facts.rateBytes / MiB).toFixed(0)} MiB file:`,
  '',
  '| archive | bytes | seconds | achieved MiB/s | error |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rateRows.map((row) => {
    const achieved = row.bytes / MiB / row.seconds;
    const error = ((achieved - rateMiB) / rateMiB) * 100;
    return `| ${row.name} | ${row.bytes} | ${row.seconds.toFixed(2)} | ${achieved.toFixed(1)} | ${error >= 0 ? '+' : ''}${error.toFixed(1)} % |`;
  }),
  '',
];
const text = lines.join('\n');
console.log(text);
if (process.argv.includes('--write-results')) await writeFile(fileURLToPath(new URL('./results.md', import.meta.url)), text);
await rm(snapshot, { recursive: true, force: true });
