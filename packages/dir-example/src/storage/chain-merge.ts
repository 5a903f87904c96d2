import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { readQcow2Header } from '@bp/nbd/qcow2';
import { FAILED_SUFFIX, GUEST_FILES, PARTIAL_PREFIX } from '../layout/index.js';
import { validateBackingChain } from '../restore/backing-chain.js';
import { isAbandoned, listPartialBackups } from '../state/backup-state.js';
import { forgetPrevious } from '../state/previous-info.js';
import { runTool } from '../util/run-tool.js';
import { updateManifestEntry } from '../verify/manifest.js';
import { deviceImages } from './backup-scan.js';

/** Directory names (`<type>-<time>`) that backups still being written build on (abandoned ones do not count). */
export async function basesInUse(guestDir: string): Promise<Set<string>> {
  const inUse = new Set<string>();
  for (const { state } of await listPartialBackups(guestDir)) {
    if (!isAbandoned(state)) for (const base of Object.values(state.bases)) inUse.add(base.split('/')[0] ?? '');
  }
  return inUse;
}

/** Published backup directories whose images name `victim` as backing: dir name -> devices. */
async function dependantsOf(guestDir: string, victim: string): Promise<Map<string, string[]>> {
  const dependants = new Map<string, string[]>();
  for (const name of await readdir(guestDir)) {
    if (name === victim || name.startsWith(PARTIAL_PREFIX) || name.endsWith(FAILED_SUFFIX)) continue;
    for (const [device, image] of await deviceImages(join(guestDir, name))) {
      const header = await readQcow2Header(join(guestDir, name, image)).catch(() => undefined);
      if (header?.backingFile === `../${victim}/${image}`) dependants.set(name, [...(dependants.get(name) ?? []), device]);
    }
  }
  return dependants;
}

/**
 * Removes the backup directory `victim` of a guest without breaking a chain: every image that
 * builds on it is first rebased (qemu-img rebase, safe mode: copies what the victim provided)
 * onto the victim's own backing, or made standalone. Refuses while a running backup builds on it.
 * previous-info entries pointing at the victim are dropped, so the next backup of that device is
 * full. Call under the guest lock. Returns the dependant directory names that were rewritten.
 */
export async function removeBackupMerging(guestDir: string, victim: string): Promise<string[]> {
  if ((await basesInUse(guestDir)).has(victim)) {
    throw new BpError('BP_LOCKED', `backup ${victim} is the base of a backup in progress; remove it after that backup has finished`);
  }
  const victimDir = join(guestDir, victim);
  const dependants = await dependantsOf(guestDir, victim);
  for (const [name, devices] of dependants) {
    for (const device of devices) {
      const image = join(guestDir, name, `${device}.qcow2`);
      // Validate both chains before qemu-img opens anything.
      await validateBackingChain(image);
      const victimHeader = await readQcow2Header(join(victimDir, `${device}.qcow2`));
      const newBacking = victimHeader.backingFile ?? '';
      const args = ['rebase', '-q', '-f', 'qcow2', '-b', newBacking];
      if (newBacking) args.push('-F', 'qcow2');
      args.push(image);
      await runTool('qemu-img', args, 'BP_QEMU_FAILED', `merge ${victim}/${device}.qcow2 into ${name}/${device}.qcow2`, { cwd: join(guestDir, name) });
      await updateManifestEntry(join(guestDir, name), `${device}.qcow2`);
    }
  }
  await rm(victimDir, { recursive: true, force: true });
  await forgetPrevious(join(guestDir, GUEST_FILES.previousInfo), { dirName: victim });
  return [...dependants.keys()];
}
