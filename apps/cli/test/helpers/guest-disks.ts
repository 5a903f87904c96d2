import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { treeManifest, type TreeEntry } from '../../src/demo/tree-manifest.js';

/** One filesystem of a test disk. */
export interface TestVolume {
  /** `part<N>` or `disk`. */
  name: string;
  fs: 'ext4' | 'xfs' | 'vfat';
  /** Byte offset and size inside the disk. */
  offset: number;
  size: number;
}

const MiB = 1024 * 1024;

/** The three guest-like layouts of the tests (tens of MiB, sparse). */
export const LAYOUTS = {
  gpt: {
    sizeMiB: 64,
    table: ['sgdisk', ['-n1:2048:+16M', '-t1:8300', '-n2:0:+8M', '-t2:ef00', '-n3:0:0', '-t3:8300']],
    volumes: [
      { name: 'part1', fs: 'ext4', offset: 1 * MiB, size: 16 * MiB },
      { name: 'part2', fs: 'vfat', offset: 17 * MiB, size: 8 * MiB },
      // sgdisk leaves the backup GPT (33 sectors) at the end.
      { name: 'part3', fs: 'xfs', offset: 25 * MiB, size: 64 * MiB - 25 * MiB - 34 * 512 },
    ],
  },
  // MBR: a primary ext4, an extended partition and a logical ext4 (part5).
  mbr: {
    sizeMiB: 40,
    table: ['sfdisk', 'label: dos\nstart=2048, size=16MiB, type=83\nstart=34816, type=5\nstart=36864, size=12MiB, type=83\n'],
    volumes: [
      { name: 'part1', fs: 'ext4', offset: 1 * MiB, size: 16 * MiB },
      { name: 'part5', fs: 'ext4', offset: 18 * MiB, size: 12 * MiB },
    ],
  },
  bare: { sizeMiB: 24, table: undefined, volumes: [{ name: 'disk', fs: 'ext4', offset: 0, size: 24 * MiB }] },
} as const satisfies Record<string, { sizeMiB: number; table: readonly [string, unknown] | undefined; volumes: readonly TestVolume[] }>;

export type LayoutName = keyof typeof LAYOUTS;

/** A qcow2 exposed writable as a raw file through qemu-storage-daemon (writes reach its dirty bitmaps). */
async function withRawView<T>(image: string, work: string, body: (raw: string) => Promise<T>): Promise<T> {
  const dir = join(work, `edit-${Date.now()}`);
  await mkdir(dir);
  const raw = join(dir, 'disk.raw');
  await writeFile(raw, '');
  const pidFile = join(dir, 'qsd.pid');
  await execa('qemu-storage-daemon', [
    '--blockdev', JSON.stringify({ driver: 'qcow2', 'node-name': 'disk', file: { driver: 'file', filename: image } }),
    '--export', `type=fuse,id=edit,node-name=disk,mountpoint=${raw},writable=on`,
    '--daemonize', '--pidfile', pidFile,
  ]);
  try {
    return await body(raw);
  } finally {
    const pid = Number((await execa('cat', [pidFile])).stdout.trim());
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } catch {
        break;
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `body` with every ext4/xfs volume mounted read-write (loop with offset) and FAT reachable with mtools. */
export async function editDisk(
  image: string,
  layout: LayoutName,
  work: string,
  body: (volumes: Map<string, { volume: TestVolume; mount?: string; mtoolsImage?: string }>) => Promise<void>,
): Promise<void> {
  await withRawView(image, work, async (raw) => {
    const mounted = new Map<string, { volume: TestVolume; mount?: string; mtoolsImage?: string }>();
    try {
      for (const volume of LAYOUTS[layout].volumes) {
        if (volume.fs === 'vfat') {
          mounted.set(volume.name, { volume, mtoolsImage: `${raw}@@${volume.offset}` });
          continue;
        }
        const mount = join(work, `mnt-${layout}-${volume.name}`);
        await mkdir(mount, { recursive: true });
        await execa('mount', ['-t', volume.fs, '-o', `loop,offset=${volume.offset},sizelimit=${volume.size}${volume.fs === 'xfs' ? ',nouuid' : ''}`, raw, mount]);
        mounted.set(volume.name, { volume, mount });
      }
      await body(mounted);
    } finally {
      for (const entry of mounted.values()) if (entry.mount) await execa('umount', [entry.mount], { reject: false });
    }
  });
}

/** Creates the qcow2 disk with its partition table and empty filesystems. */
export async function createGuestDisk(image: string, layout: LayoutName, work: string): Promise<void> {
  const spec = LAYOUTS[layout];
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', image, `${spec.sizeMiB}M`]);
  await withRawView(image, work, async (raw) => {
    if (spec.table?.[0] === 'sgdisk') await execa('sgdisk', [...(spec.table[1] as readonly string[]), raw]);
    if (spec.table?.[0] === 'sfdisk') await execa('sfdisk', ['--no-reread', '--no-tell-kernel', raw], { input: spec.table[1] as string });
    for (const volume of spec.volumes) {
      const loop = (await execa('losetup', ['--find', '--show', '--offset', String(volume.offset), '--sizelimit', String(volume.size), raw])).stdout.trim();
      try {
        // xfsprogs refuses filesystems under 300 MiB unless run as in its own test suite.
        if (volume.fs === 'xfs') await execa('mkfs.xfs', ['-q', '-f', loop], { env: { TEST_DIR: '1', TEST_DEV: '1', QA_CHECK_FS: '1' } });
        else if (volume.fs === 'vfat') await execa('mkfs.vfat', [loop]);
        else await execa('mkfs.ext4', ['-q', '-F', loop]);
      } finally {
        await execa('losetup', ['--detach', loop]);
      }
    }
  });
}

/** The manifest of every mounted volume (for comparison with a restore). */
export async function manifests(volumes: Map<string, { mount?: string }>): Promise<Map<string, TreeEntry[]>> {
  const result = new Map<string, TreeEntry[]>();
  for (const [name, entry] of volumes) if (entry.mount) result.set(name, await treeManifest(entry.mount));
  return result;
}
