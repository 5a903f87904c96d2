import { BpError } from '@bp/api';
import { serveBackup, type NbdListen } from '@bp/host';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, stringValue } from '../args/values.js';
import { usageError } from '../errors/usage-error.js';
import { openBackupContext } from './open-backup-context.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

function parseTcp(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) throw usageError(`--tcp must be HOST:PORT, e.g. 127.0.0.1:10809, got ${JSON.stringify(text)}`);
  return { host: match[1] ?? match[2]!, port };
}

/** `bp serve <volid>`: a restore point as an NBD export until Ctrl-C. */
export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'Serve a VM backup (any generation) read-only over NBD until Ctrl-C',
  usage: '<volid> [--disk <dev>] [--socket <path> | --tcp <host:port>] [--writable <overlay.qcow2>]',
  description:
    'Exports the validated, read-only chain of each disk (export name = the disk, e.g. scsi0), so a VM can boot\n' +
    'from the backup at once: qemu-system-x86_64 -drive file=<uri>,format=raw. With --writable the writes go\n' +
    'to a qcow2 overlay (created if missing); the backup itself is never written. Prints the URIs, then\n' +
    'serves until Ctrl-C.',
  options: [
    { name: 'disk', type: 'string', argument: '<dev>', description: 'serve only this disk (e.g. scsi0)', defaultText: 'every disk' },
    { name: 'socket', type: 'string', argument: '<path>', description: 'listen on this Unix socket', defaultText: 'a private socket' },
    { name: 'tcp', type: 'string', argument: '<host:port>', description: 'listen on TCP instead (no TLS: keep it on a trusted network)' },
    { name: 'writable', type: 'string', argument: '<overlay>', description: 'qcow2 overlay that takes the writes (one disk)' },
  ],
  positionals: { min: 1, max: 1, names: 'a volume ID' },
  examples: [
    'bp serve local:backup/100/qemu-2026-11-26T20:00:00Z --socket /run/vm100.sock',
    'bp serve local:backup/100/qemu-2026-11-26T20:00:00Z --disk scsi0 --writable ./scratch.qcow2',
  ],
  failureCode: 'BP_QEMU_FAILED',
  async run(context) {
    const socket = stringValue(context.values, 'socket');
    const tcp = stringValue(context.values, 'tcp');
    if (socket !== undefined && tcp !== undefined) throw usageError('give --socket or --tcp, not both');
    const listen: NbdListen = socket !== undefined ? { socket: absolutePath(context.io.cwd, socket) } : tcp !== undefined ? { tcp: parseTcp(tcp) } : undefined;
    const overlay = stringValue(context.values, 'writable');
    const disk = stringValue(context.values, 'disk');
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    const volume = await findVolume(target);
    if (volume.subtype !== 'qemu') throw new BpError('BP_NOT_SUPPORTED', `${target.volid} is a container backup; serve works on VM backups — use \`bp files\` or \`bp mount\` for containers`);
    const served = await serveBackup({
      storage: target.storage,
      volid: target.volid,
      ...openBackupContext(context),
      ...(listen ? { listen } : {}),
      ...(overlay !== undefined ? { overlay: absolutePath(context.io.cwd, overlay) } : {}),
      ...(disk !== undefined ? { disk } : {}),
    });
    try {
      const json = { volid: target.volid, exports: served.disks };
      if (context.global.json) context.io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      else {
        const lines = served.disks.map((entry) => `  ${entry.virtdev}  ${entry.uri}  (${entry.writable ? `writable, overlay ${entry.overlay}` : 'read-only'})`);
        context.io.stdout.write(`Serving ${target.volid}:\n${lines.join('\n')}\nPress Ctrl-C to stop.\n`);
      }
      if (!context.signal.aborted) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
    } finally {
      await served.close();
    }
    context.log('export stopped; nothing is left running');
    return { json: undefined, text: '', printed: true, exitCode: 0 };
  },
};
