import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { openBackupFiles } from '@bp/host';
import { execa } from 'execa';
import type { CommandContext } from '../args/command-spec.js';
import { runGuestBackup } from '../commands/backup-job.js';
import { openBackupContext } from '../commands/open-backup-context.js';
import { demoStep, type DemoBackup, type DemoOptions } from './demo-step.js';

/** The file the demo gets back from the VM backup without restoring the disk. */
export const DEMO_FILE = '/etc/motd';
const DEMO_FILE_TEXT = 'Welcome to the bp demo guest — restored on its own, without the disk (ÄÖÜ, 日本).\n';
const DISK_SIZE = 32 * 1024 * 1024;

async function run(tool: string, args: string[], signal: AbortSignal): Promise<void> {
  try {
    await execa(tool, args, { cancelSignal: signal, stdin: 'ignore' });
  } catch (error) {
    if (signal.aborted) throw new BpError('BP_ABORTED', 'demo interrupted', { cause: error });
    throw new BpError('BP_MISSING_TOOLS', `${tool} failed: ${String((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}; run npm run bootstrap`, { cause: error });
  }
}

/**
 * A second VM whose disk holds a real ext4 filesystem (built with `mkfs.ext4 -d`), backed up in
 * full; its proof is a single-file restore through `bp files`' library path: the file comes back
 * byte-identical without restoring the disk.
 */
export async function backupDemoFileVm(context: CommandContext, options: DemoOptions, work: string): Promise<DemoBackup> {
  const tree = join(work, 'guest-fs');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc', 'hostname'), 'demo-guest\n');
  await writeFile(join(tree, DEMO_FILE), DEMO_FILE_TEXT);
  const raw = join(work, 'guest-fs.raw');
  const disk = join(work, 'guest-fs.qcow2');
  await run('mkfs.ext4', ['-q', '-F', '-L', 'demo', '-d', tree, raw, `${DISK_SIZE / 1024}k`], context.signal);
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, disk], context.signal);
  const vmid = options.vmid + 1;
  const label = `vm ${vmid} file ${DEMO_FILE}`;
  context.log(`${label}: an ext4 guest disk, backing up`);
  const storage = await options.openStorage({ 'vm-backup-mode': 'full' });
  const result = await runGuestBackup(
    context,
    storage,
    {
      type: 'qemu',
      vmid,
      config: `name: demo-files\nmemory: 512\nscsi0: ${disk},size=${DISK_SIZE}\n`,
      source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] },
    },
    { values: { notes: `bp demo: ${label}` }, mode: 'full', totalBytes: DISK_SIZE },
  );
  return {
    step: demoStep(label, result),
    verify: async (scratch) => {
      const files = await openBackupFiles({ ...openBackupContext(context), storage, volid: result.volid });
      try {
        await files.restorePaths([DEMO_FILE], scratch);
      } finally {
        await files.close();
      }
      const restored = await readFile(join(scratch, DEMO_FILE), 'utf8').catch(() => undefined);
      return restored === DEMO_FILE_TEXT ? undefined : `${DEMO_FILE} came back ${restored === undefined ? 'missing' : 'different'}`;
    },
  };
}
