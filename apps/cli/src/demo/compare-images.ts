import { BpError } from '@bp/api';
import { execa } from 'execa';

interface ImageInfo {
  format: string;
  'virtual-size': number;
}

async function info(path: string): Promise<ImageInfo> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', '-U', path]);
  return JSON.parse(stdout) as ImageInfo;
}

/**
 * Compares the guest-visible content of two images byte for byte (`qemu-img compare`, which reads
 * both through QEMU's block layer, so qcow2 vs raw is fine). Resolves to undefined when identical,
 * else to what differs.
 */
export async function compareImages(expectedRaw: string, actual: string, signal: AbortSignal): Promise<string | undefined> {
  const [expectedInfo, actualInfo] = await Promise.all([info(expectedRaw), info(actual)]);
  if (expectedInfo['virtual-size'] !== actualInfo['virtual-size']) {
    return `size differs: expected ${expectedInfo['virtual-size']} bytes, restored ${actualInfo['virtual-size']}`;
  }
  const result = await execa('qemu-img', ['compare', '-f', 'raw', '-F', actualInfo.format, expectedRaw, actual], { reject: false, cancelSignal: signal });
  if (signal.aborted) throw new BpError('BP_ABORTED', 'demo interrupted');
  if (result.exitCode === 0) return undefined;
  if (result.exitCode === 1) return result.stdout.trim() || 'content differs';
  throw new BpError('BP_QEMU_FAILED', `qemu-img compare failed: ${result.stderr.trim()}`);
}
