import { readFile } from 'node:fs/promises';
import { BpError, vmBackupMechanismSchema, vmBackupModeSchema } from '@bp/api';
import type { VmSource } from '@bp/host';
import type { CommandContext, CommandSpec } from '../args/command-spec.js';
import { absolutePath, oneOf, parseVmid, stringValue, stringValues } from '../args/values.js';
import { openStorage } from '../config/storage-registry.js';
import { usageError } from '../errors/usage-error.js';
import { BACKUP_JOB_OPTIONS, backupText, jobOptionsFrom, runGuestBackup } from './backup-job.js';
import { checkUniqueDevices, parseDiskArgument } from './disk-argument.js';
import { disksFromQmp } from './qmp-disks.js';
import { imageVirtualSize } from './image-info.js';

/** A qemu-server.conf for disks given on the command line (PVE stores the config with the backup). */
function generatedVmConfig(vmid: number, disks: readonly { virtdev: string; image?: string; size?: number }[]): string {
  const lines = [`name: vm${vmid}`, 'memory: 512', 'ostype: l26'];
  for (const disk of disks) lines.push(`${disk.virtdev}: ${disk.image ?? disk.virtdev}${disk.size === undefined ? '' : `,size=${disk.size}`}`);
  return `${lines.join('\n')}\n`;
}

async function readConfigOption(context: CommandContext): Promise<string | undefined> {
  const path = stringValue(context.values, 'config');
  if (path === undefined) return undefined;
  try {
    return await readFile(absolutePath(context.io.cwd, path), 'utf8');
  } catch (error) {
    throw new BpError('BP_NOT_FOUND', `cannot read --config ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path`, { cause: error });
  }
}

/** The VM's disk source from --disk or --qmp, plus the bytes a full copy would read. */
async function vmSource(context: CommandContext): Promise<{ source: VmSource; totalBytes: number; disks: { virtdev: string; image?: string; size?: number }[] }> {
  const diskTexts = stringValues(context.values, 'disk');
  const qmp = stringValue(context.values, 'qmp');
  if (qmp !== undefined) {
    const socketPath = absolutePath(context.io.cwd, qmp);
    const overrides = diskTexts.map((text) => {
      const [virtdev = '', nodeName = ''] = text.split('=', 2);
      if (!virtdev || !nodeName) throw usageError(`with --qmp, --disk must look like scsi0=<block-node-name>, got ${JSON.stringify(text)}`);
      return { virtdev, nodeName };
    });
    const disks = overrides.length > 0 ? overrides : await disksFromQmp(socketPath);
    checkUniqueDevices(disks);
    return { source: { kind: 'qmp', socketPath, disks }, totalBytes: 0, disks };
  }
  if (diskTexts.length === 0) throw usageError('give the disks with --disk scsi0=<image> (repeatable) or a running QEMU with --qmp <socket>');
  const disks = await Promise.all(diskTexts.map((text) => parseDiskArgument(text, context.io.cwd)));
  checkUniqueDevices(disks);
  const sized = await Promise.all(disks.map(async (disk) => ({ ...disk, size: await imageVirtualSize(disk.image, disk.format) })));
  return { source: { kind: 'images', disks }, totalBytes: sized.reduce((sum, disk) => sum + disk.size, 0), disks: sized };
}

/** `bp backup vm`. */
export const backupVmCommand: CommandSpec = {
  name: 'backup vm',
  summary: "Back up a VM's disk images, or a running QEMU over QMP",
  usage: '<vmid> (--disk <dev>=<image>... | --qmp <socket>) [options]',
  description:
    'Offline images (qcow2 or raw) are opened in qemu-storage-daemon; qcow2 images keep a persistent dirty\n' +
    'bitmap so the next --mode incremental backup copies only what changed. With --qmp the disks come from\n' +
    "the running QEMU's block graph (devices named drive-<key> or <key>).",
  options: [
    { name: 'disk', type: 'string', multiple: true, argument: '<dev>=<image>', description: 'a disk: PVE drive key and image path, optionally ,format=qcow2|raw (repeatable)' },
    { name: 'qmp', type: 'string', argument: '<socket>', description: 'QMP socket of a running QEMU instead of --disk images' },
    { name: 'mode', type: 'string', argument: '<full|incremental>', description: 'incremental: only what changed since the last backup (the first is full);\nfull: everything, and no bitmap is kept for a next incremental (as in PVE)', defaultText: "the storage's vm-backup-mode" },
    { name: 'mechanism', type: 'string', argument: '<nbd|file-handle>', description: 'how the provider reads the disks', defaultText: "the storage's" },
    ...BACKUP_JOB_OPTIONS,
  ],
  positionals: { min: 1, max: 1, names: 'a vmid' },
  examples: [
    'bp backup vm 100 --disk scsi0=./disk.qcow2',
    'bp backup vm 100 --disk scsi0=./disk.qcow2 --mode incremental --notes "nightly {{vmid}}"',
    'bp backup vm 101 --qmp /run/qemu/101.qmp --mechanism nbd --bwlimit 50M --prune keep-last=3',
  ],
  failureCode: 'BP_BACKUP_FAILED',
  async run(context) {
    const vmid = parseVmid(context.positionals[0]);
    const mode = oneOf(stringValue(context.values, 'mode'), vmBackupModeSchema.options, '--mode');
    const mechanism = oneOf(stringValue(context.values, 'mechanism'), vmBackupMechanismSchema.options, '--mechanism');
    if (stringValue(context.values, 'qmp') !== undefined && stringValues(context.values, 'disk').some((text) => /[./]/.test(text.split('=')[1] ?? ''))) {
      throw usageError('--qmp takes the disks from the running QEMU; --disk with it names block nodes (scsi0=<node-name>), not image files');
    }
    jobOptionsFrom(context.values);
    const storage = await openStorage(context.paths, context.global.storage, {
      ...(mode === undefined ? {} : { 'vm-backup-mode': mode }),
      ...(mechanism === undefined ? {} : { 'vm-backup-mechanism': mechanism }),
    });
    const config = storage.config as Record<string, unknown>;
    const supports = storage.plugin.supports;
    const effectiveMechanism = String(config['vm-backup-mechanism'] ?? mechanism ?? '');
    const effectiveMode = String(config['vm-backup-mode'] ?? mode ?? 'full');
    if (supports.vmMechanisms.length === 0) throw new BpError('BP_NOT_SUPPORTED', `storage ${storage.storeId} does not take VM backups`);
    if (effectiveMechanism && !supports.vmMechanisms.includes(effectiveMechanism as never)) {
      throw new BpError('BP_NOT_SUPPORTED', `storage ${storage.storeId} supports --mechanism ${supports.vmMechanisms.join(' or ')}, not ${effectiveMechanism}`);
    }
    if (effectiveMode === 'incremental' && !supports.incremental) throw new BpError('BP_NOT_SUPPORTED', `storage ${storage.storeId} cannot do incremental VM backups; use --mode full`);
    const { source, totalBytes, disks } = await vmSource(context);
    const guestConfig = (await readConfigOption(context)) ?? generatedVmConfig(vmid, disks);
    const json = await runGuestBackup(context, storage, { type: 'qemu', vmid, config: guestConfig, source }, { values: context.values, mode: effectiveMode, totalBytes });
    return { json, text: backupText(json) };
  },
};
