// Helpers of the benchmark: timing child processes, medians, image facts.
import { execa } from 'execa';

let cancelSignal;
/** Child tools started by {@link timed} are killed when `signal` fires. */
export function setCancelSignal(signal) {
  cancelSignal = signal;
}

/** Runs a command and returns its wall time in seconds plus its stdout. */
export async function timed(command, args, options = {}) {
  const started = performance.now();
  const result = await execa(command, args, { cancelSignal, ...options, reject: false });
  if (result.isCanceled) throw new Error(`${command} was interrupted`);
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
  return { seconds, stdout: result.stdout, stderr: result.stderr };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Throws unless `qemu-img compare` finds both images equal. */
export async function verifyEqual(source, target) {
  const result = await execa('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', source, target], { reject: false });
  if (result.exitCode !== 0) throw new Error(`verification failed for ${target}: ${result.stdout} ${result.stderr}`);
}

/** Bytes a qcow2 stores as data (allocated, not zero) in its top layer. */
export async function allocatedDataBytes(image) {
  const { stdout } = await execa('qemu-img', ['map', '--output=json', '-f', 'qcow2', image]);
  return JSON.parse(stdout)
    .filter((extent) => extent.data && !extent.zero && extent.depth === 0)
    .reduce((sum, extent) => sum + extent.length, 0);
}

export function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text);
  if (!match) throw new Error(`bad size ${text}`);
  return Math.round(Number(match[1]) * 1024 ** ' KMGT'.indexOf((match[2] || ' ').toUpperCase()));
}

export const formatGiB = (bytes) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
export const formatMiB = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
