import { BpError, markBackupGroup, parsePruneOptions, type BackupStorage, type BackupVolume } from '@bp/api';
import type { Scenario } from '../kit/scenario.js';
import { needsGuests, smallBackup, smallBackupType } from './guests.js';

const DAY = 86_400;

/** The storage as PVE's next API call sees it: opened anew from the plugin with the same ID and config. */
function reopen(storage: BackupStorage): BackupStorage {
  return storage.plugin.open(storage.storeId, storage.config);
}
/** A fixed past time (2024-03-15T12:00:00Z) so prune buckets do not depend on today. */
const HISTORY_START = 1_710_504_000;

const listedOnlyAfterSuccess: Scenario = {
  id: 'storage.listed-after-success',
  title: 'listVolumes shows a backup only after backupCleanup(success), with its fields',
  kind: 'backup',
  axis: 'none',
  requires: needsGuests,
  async run(context) {
    const storage = await context.open();
    const vmid = 300;
    const startTime = HISTORY_START;
    const backup = await smallBackup(context, storage, vmid, startTime, {
      beforeCleanup: async (volid) => {
        const early = (await storage.listVolumes()).map((volume) => volume.volid);
        context.verify.that(!early.includes(volid), `backup ${volid} was listed before backupCleanup(success); listings must never show partial backups`);
      },
    });
    const listed = (await storage.listVolumes({ vmid })).find((volume) => volume.volid === backup.volid);
    context.verify.that(listed !== undefined, `backup ${backup.volid} is not listed after backupCleanup(success)`);
    const volume = listed as BackupVolume;
    context.verify.equal(
      { vmid: volume.vmid, subtype: volume.subtype, content: volume.content, ctime: volume.ctime },
      { vmid, subtype: smallBackupType(context), content: 'backup', ctime: startTime },
      `listVolumes entry of ${backup.volid} has wrong vmid/subtype/content/ctime (ctime must be the backupInit start time)`,
    );
    context.verify.that(volume.size > 0, `listVolumes reports size ${volume.size} for ${backup.volid}`);
    context.verify.that(typeof volume.format === 'string' && volume.format.length > 0, `listVolumes entry of ${backup.volid} has no format`);
    const other = await storage.listVolumes({ vmid: vmid + 1 });
    context.verify.equal(other, [], `listVolumes({ vmid: ${vmid + 1} }) returned backups of other guests`);
    // A guest whose ID starts with this one's digits: the filter compares IDs, not text.
    const longer = await smallBackup(context, storage, vmid * 10, startTime);
    context.verify.equal((await storage.listVolumes({ vmid })).map((entry) => entry.volid), [backup.volid], `listVolumes({ vmid: ${vmid} }) must return only guest ${vmid}'s backup, not ${longer.volid} of guest ${vmid * 10}`);
    context.verify.equal((await storage.listVolumes({ vmid: vmid * 10 })).map((entry) => entry.volid), [longer.volid], `listVolumes({ vmid: ${vmid * 10} }) must return only guest ${vmid * 10}'s backup`);
    const parsed = storage.parseVolname(backup.volname);
    context.verify.equal({ vtype: parsed.vtype, vmid: parsed.vmid }, { vtype: 'backup', vmid }, `parseVolname(${backup.volname}) returned the wrong owner`);
    const size = await context.verify.succeeds(storage.volumeSizeInfo(backup.volname), `volumeSizeInfo(${backup.volname}) threw`);
    context.verify.equal({ size: size.size, ctime: size.ctime }, { size: volume.size, ctime: volume.ctime }, `volumeSizeInfo(${backup.volname}) disagrees with listVolumes on size/ctime`);
  },
};

const pruneHistory: Scenario = {
  id: 'storage.prune',
  title: 'pruneBackups follows PVE keep-* semantics on a synthetic history',
  kind: 'backup',
  axis: 'none',
  requires: (supports) => needsGuests(supports) ?? (supports.prune ? undefined : 'the provider does not declare prune'),
  async run(context) {
    const storage = await context.open();
    const vmid = 301;
    // Two backups on day 0, one per day for days 1..4, one on day 40.
    const times = [0, 3600, DAY, 2 * DAY, 3 * DAY, 4 * DAY, 40 * DAY].map((offset) => HISTORY_START + offset);
    for (const time of times) await smallBackup(context, storage, vmid, time);
    await smallBackup(context, storage, vmid + 1, HISTORY_START);
    const keep = 'keep-last=2,keep-daily=3,keep-monthly=2';
    const listed = await storage.listVolumes({ vmid });
    const volids = listed.map((volume) => volume.volid);
    context.verify.equal(volids, [...volids].sort(), 'listVolumes must return backups sorted by volid (PVE list_volumes)');
    const expected = markBackupGroup(
      listed.map((volume) => ({ id: volume.volid, ctime: volume.ctime })),
      parsePruneOptions(keep),
    );
    const expectedMarks = Object.fromEntries(expected.map((entry) => [entry.id, entry.mark]));
    const dry = await context.verify.succeeds(storage.pruneBackups(keep, { vmid, type: smallBackupType(context), dryRun: true }), `pruneBackups('${keep}', dryRun) threw`);
    context.verify.equal(Object.fromEntries(dry.map((entry) => [entry.volid, entry.mark])), expectedMarks, `pruneBackups('${keep}') marked backups differently from PVE's prune_mark_backup_group`);
    context.verify.equal((await storage.listVolumes({ vmid })).length, times.length, 'pruneBackups with dryRun removed backups');
    await storage.pruneBackups(keep, { vmid, type: smallBackupType(context) });
    const kept = (await storage.listVolumes({ vmid })).map((volume) => volume.volid).sort();
    const shouldKeep = Object.entries(expectedMarks).filter(([, mark]) => mark !== 'remove').map(([volid]) => volid).sort();
    context.verify.equal(kept, shouldKeep, `after pruneBackups('${keep}') the storage must list exactly the kept backups`);
    context.verify.equal((await storage.listVolumes({ vmid: vmid + 1 })).length, 1, `pruneBackups({ vmid: ${vmid} }) removed another guest's backup`);
  },
};

const protectedBackups: Scenario = {
  id: 'storage.protected',
  title: 'a protected backup survives delete and prune',
  kind: 'backup',
  axis: 'none',
  requires: (supports) => needsGuests(supports) ?? (supports.protected ? undefined : 'the provider does not declare protected'),
  async run(context) {
    const storage = await context.open();
    const vmid = 302;
    const old = await smallBackup(context, storage, vmid, HISTORY_START);
    await smallBackup(context, storage, vmid, HISTORY_START + DAY);
    await context.verify.succeeds(storage.updateVolumeAttribute(old.volname, 'protected', true), `updateVolumeAttribute(${old.volname}, 'protected', true) threw`);
    context.verify.equal(await storage.getVolumeAttribute(old.volname, 'protected'), true, `getVolumeAttribute(${old.volname}, 'protected') does not return true after protecting it`);
    const listed = (await storage.listVolumes({ vmid })).find((volume) => volume.volid === old.volid);
    context.verify.equal(listed?.protected, true, `listVolumes does not show ${old.volid} as protected`);
    // PVE opens the storage anew for every API call: protection must live with the backup.
    const reopened = reopen(storage);
    context.verify.equal(await reopened.getVolumeAttribute(old.volname, 'protected'), true, `after reopening the storage (plugin.open with the same config), ${old.volname} is no longer protected; protection must be stored with the backup`);
    if (context.supports.delete) {
      const error = await context.verify.fails(storage.freeImage(old.volname), `freeImage(${old.volname}) deleted a protected backup`);
      context.verify.that(BpError.hasCode(error, 'BP_PROTECTED'), `freeImage of a protected backup must throw BP_PROTECTED, got ${String(error)}`);
    }
    if (context.supports.prune) {
      const marks = await storage.pruneBackups('keep-last=1', { vmid, type: smallBackupType(context) });
      context.verify.equal(marks.find((entry) => entry.volid === old.volid)?.mark, 'protected', `pruneBackups must mark protected backup ${old.volid} 'protected'`);
    }
    context.verify.that((await storage.listVolumes({ vmid })).some((volume) => volume.volid === old.volid), `protected backup ${old.volid} was removed`);
    await storage.updateVolumeAttribute(old.volname, 'protected', false);
    if (context.supports.delete) {
      await context.verify.succeeds(storage.freeImage(old.volname), `freeImage(${old.volname}) after unprotecting it threw`);
      context.verify.that(!(await storage.listVolumes({ vmid })).some((volume) => volume.volid === old.volid), `freeImage(${old.volname}) did not remove the backup from the listing`);
    }
  },
};

const notes: Scenario = {
  id: 'storage.notes',
  title: 'notes round trip through the storage',
  kind: 'backup',
  axis: 'none',
  requires: (supports) => needsGuests(supports) ?? (supports.notes ? undefined : 'the provider does not declare notes'),
  async run(context) {
    const storage = await context.open();
    const backup = await smallBackup(context, storage, 303);
    const text = '  conformance notes – ünïcode 🗄️\n\tsecond line with {{braces}} and trailing space \n\n';
    await context.verify.succeeds(storage.updateVolumeAttribute(backup.volname, 'notes', text), `updateVolumeAttribute(${backup.volname}, 'notes') threw`);
    context.verify.equal(await storage.getVolumeAttribute(backup.volname, 'notes'), text, `getVolumeAttribute(${backup.volname}, 'notes') did not return the notes verbatim`);
    context.verify.equal(await reopen(storage).getVolumeAttribute(backup.volname, 'notes'), text, `after reopening the storage (plugin.open with the same config), getVolumeAttribute(${backup.volname}, 'notes') did not return the notes verbatim; notes must be stored with the backup`);
    const listed = (await storage.listVolumes({ vmid: 303 })).find((volume) => volume.volid === backup.volid);
    context.verify.that(listed?.notes !== undefined && text.startsWith(listed.notes.split('\n')[0] ?? '\u0000'), `listVolumes does not show the notes (at least their first line) of ${backup.volid}`);
  },
};

const undeclaredRefused: Scenario = {
  id: 'storage.undeclared-refused',
  title: 'operations the declaration leaves out throw BP_NOT_SUPPORTED',
  kind: 'backup',
  axis: 'none',
  requires: (supports) =>
    needsGuests(supports) ?? (supports.notes && supports.protected && supports.prune && supports.delete ? 'the provider declares every storage operation' : undefined),
  async run(context) {
    const storage = await context.open();
    const backup = await smallBackup(context, storage, 304);
    const calls: Array<[boolean, string, () => Promise<unknown>]> = [
      [context.supports.notes, 'updateVolumeAttribute(notes)', () => storage.updateVolumeAttribute(backup.volname, 'notes', 'x')],
      [context.supports.protected, 'updateVolumeAttribute(protected)', () => storage.updateVolumeAttribute(backup.volname, 'protected', true)],
      [context.supports.prune, 'pruneBackups', () => storage.pruneBackups('keep-last=1', { vmid: 304 })],
      [context.supports.delete, 'freeImage', () => storage.freeImage(backup.volname)],
    ];
    for (const [declared, name, call] of calls) {
      if (declared) continue;
      const error = await context.verify.fails(call, `${name} succeeded although the provider does not declare it`);
      context.verify.that(BpError.hasCode(error, 'BP_NOT_SUPPORTED'), `${name} is not declared and must throw BP_NOT_SUPPORTED, got ${String(error)}`);
    }
    context.verify.that((await storage.listVolumes({ vmid: 304 })).length === 1, 'an undeclared operation changed the storage');
  },
};

/** Listing, prune, protection, notes and declaration consistency. */
export const storageScenarios: readonly Scenario[] = [listedOnlyAfterSuccess, pruneHistory, protectedBackups, notes, undeclaredRefused];
