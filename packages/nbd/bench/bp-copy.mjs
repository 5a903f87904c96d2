// One bp copy in its own process, so wall time and peak RSS are measured like any other tool.
// Usage: node bp-copy.mjs '<json options>' [dist directory]
import { pathToFileURL } from 'node:url';

const dist = process.argv[3] ? pathToFileURL(`${process.argv[3]}/`).href : new URL('../dist/', import.meta.url).href;
const nbd = await import(`${dist}index.js`);
const { allocatedRegions, copyRegions, createNbdTarget, dirtyRegions, NbdClient } = nbd;

const options = JSON.parse(process.argv[2]);
const started = performance.now();
const context = options.bitmap ? `qemu:dirty-bitmap:${options.bitmap}` : 'base:allocation';
const source = await NbdClient.connect(options.source, { metaContexts: [context], connections: options.connections ?? 1 });
let targetClient;
let target;
if (options.target.kind === 'nbd') {
  targetClient = await NbdClient.connect(options.target.uri, { connections: options.connections ?? 1 });
  target = createNbdTarget(targetClient, { zeroInitialized: options.target.zeroInitialized });
} else {
  target = await nbd.createQcow2Target({ path: options.target.path, size: source.size, backingFile: options.target.backingFile });
}
try {
  const stats = await copyRegions({
    source,
    target,
    regions: options.bitmap ? dirtyRegions(source, options.bitmap) : allocatedRegions(source),
    requestSize: options.requestSize,
    inFlight: options.inFlight,
  });
  await target.close();
  await targetClient?.close();
  const copySeconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ stats, copySeconds, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
} finally {
  await target.close();
  await targetClient?.close();
  await source.close();
}
