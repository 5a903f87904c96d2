import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { BpError, toolError } from '@bp/api';
import { execa } from 'execa';

function qemuError(error: unknown, what: string): BpError {
  return toolError(error, { code: 'BP_QEMU_FAILED', tool: 'qemu-img', what });
}

/** Creates an empty image of `sizeBytes` rounded up to KiB, as PVE allocates restore volumes (`ceil(size/1024)` KiB). */
export async function createImage(path: string, format: 'raw' | 'qcow2', sizeBytes: number, signal?: AbortSignal): Promise<void> {
  try {
    await execa('qemu-img', ['create', '-q', '-f', format, path, `${Math.ceil(sizeBytes / 1024)}K`], signal ? { cancelSignal: signal } : {});
  } catch (error) {
    throw qemuError(error, `creating ${path}`);
  }
}

/**
 * PVE's untrusted check of a provider's `qemu-img-path` (`file_size_info($path, undef, 'raw', 1)`):
 * the path must `stat()` and be a regular file (FUSE files are) or a block device; it is only ever
 * read as raw, so backing files or qcow2 data files inside it are never followed.
 */
export async function checkUntrustedRawSource(path: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new BpError('BP_UNSAFE_IMAGE', `restore source '${path}' given by the provider does not exist (${(error as Error).message}); the provider must return a filesystem path, not a URI`, { cause: error });
  }
  if (!info.isFile() && !info.isBlockDevice()) {
    throw new BpError('BP_UNSAFE_IMAGE', `restore source '${path}' given by the provider is neither a regular file nor a block device; refusing to read it`);
  }
  try {
    const { stdout } = await execa('qemu-img', ['info', '--output=json', '-f', 'raw', path]);
    return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
  } catch (error) {
    throw qemuError(error, `inspecting restore source ${path}`);
  }
}

/**
 * The check of a provider's NBD export (bp extension): an `nbd+unix://` URI whose socket exists.
 * qemu-img reads it as raw, like a file view, so no image format inside it is ever interpreted.
 */
export async function checkNbdSource(uri: string): Promise<void> {
  const socket = new URL(uri).searchParams.get('socket') ?? '';
  const info = await stat(socket).catch(() => undefined);
  if (!info?.isSocket()) {
    throw new BpError('BP_PROVIDER_FAILED', `restore export '${uri}' given by the provider has no listening socket at '${socket}'; the provider must start the export before returning it`);
  }
}

/** Options of {@link convertRawInto}. */
export interface ConvertOptions {
  /** KiB/s (`qemu-img convert -r <n>K`); 0 or absent = unlimited. */
  bwlimitKiB?: number;
  /** Progress in percent, from `qemu-img -p`. */
  onProgress?: (percent: number) => void;
  /**
   * Out-of-order writes, and O_DIRECT when the target's file system accepts it (`-W`, `-t none`):
   * the fastest durable copy. Off = PVE's exact command.
   */
  fastest?: boolean;
  signal?: AbortSignal;
}

/** True when `path` (an existing file) can be opened with O_DIRECT (not on tmpfs, for one). */
async function acceptsDirectIo(path: string): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECT).catch(() => undefined);
  await handle?.close();
  return handle !== undefined;
}

/**
 * `qemu-img convert -p -n -f raw [-r <bw>K] <source> <target>` into a pre-created, zeroed target
 * (spec 1.4 g): the source is always read as raw.
 */
export async function convertRawInto(source: string, target: string, targetFormat: 'raw' | 'qcow2', options: ConvertOptions = {}): Promise<void> {
  const args = ['convert', '-p', '-n', '--target-is-zero', '-f', 'raw', '-O', targetFormat];
  if (options.fastest) args.push('-W', ...((await acceptsDirectIo(target)) ? ['-t', 'none'] : []));
  if (options.bwlimitKiB !== undefined && options.bwlimitKiB > 0) args.push('-r', `${options.bwlimitKiB}K`);
  args.push(source, target);
  try {
    const child = execa('qemu-img', args, options.signal ? { cancelSignal: options.signal } : {});
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString('utf8').matchAll(/\(([\d.]+)\/100%\)/g)) options.onProgress?.(Number(match[1]));
    });
    await child;
  } catch (error) {
    throw qemuError(error, `copying ${source} into ${target}`);
  }
}
