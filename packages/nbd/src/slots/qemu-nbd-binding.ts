import { BpError } from '@bp/api/errors';
import { execa } from 'execa';
import type { NbdConnectResult } from './nbd-slot.js';

/** The qemu-nbd message that means the kernel device is already taken by someone else. */
const DEVICE_TAKEN = 'Failed to set NBD socket';

/** `connect`/`disconnect` for {@link reserveNbdSlot} that bind the device with `qemu-nbd -c`. */
export interface QemuNbdDeviceBinding {
  connect(devicePath: string): Promise<NbdConnectResult>;
  disconnect(devicePath: string): Promise<void>;
}

/** True when qemu-nbd's stderr says the device was taken in the meantime (try the next one). */
export function isDeviceTakenMessage(stderr: string): boolean {
  return stderr.includes(DEVICE_TAKEN);
}

/**
 * Binds a reserved device with `qemu-nbd -c <device> ...args` (e.g. `['--format=qcow2', image]`)
 * and unbinds it with `qemu-nbd -d`. "Failed to set NBD socket" reports `'busy'` so the allocator
 * tries the next device, as Proxmox's example does; any other failure is `BP_QEMU_FAILED`.
 */
export function qemuNbdDeviceBinding(args: readonly string[]): QemuNbdDeviceBinding {
  return {
    async connect(devicePath) {
      const result = await execa('qemu-nbd', ['-c', devicePath, ...args], { reject: false, stdin: 'ignore' });
      if (result.exitCode === 0) return undefined;
      const stderr = String(result.stderr);
      if (isDeviceTakenMessage(stderr)) return 'busy';
      throw new BpError('BP_QEMU_FAILED', `qemu-nbd -c ${devicePath} failed: ${stderr.trim() || result.shortMessage}`, {
        details: { devicePath, args, exitCode: result.exitCode, stderr },
      });
    },
    async disconnect(devicePath) {
      const result = await execa('qemu-nbd', ['-d', devicePath], { reject: false, stdin: 'ignore' });
      if (result.exitCode !== 0) {
        throw new BpError('BP_QEMU_FAILED', `qemu-nbd -d ${devicePath} failed: ${String(result.stderr).trim() || result.shortMessage}`, {
          details: { devicePath, exitCode: result.exitCode, stderr: result.stderr },
        });
      }
    },
  };
}
