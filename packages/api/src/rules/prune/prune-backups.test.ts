import { describe, expect, it } from 'vitest';
import { backupGroupKey, groupForPrune, pruneBackups, type PruneBackupEntry } from './prune-backups.js';

// A storage listing as list_volumes would return it (ctime ascending within each guest).
const listing: PruneBackupEntry[] = [
  { volid: 's1:backup/100/qemu-1000', vmid: 100, type: 'qemu', ctime: 1000 },
  { volid: 's1:backup/100/qemu-2000', vmid: 100, type: 'qemu', ctime: 2000 },
  { volid: 's1:backup/100/lxc-1500', vmid: 100, type: 'lxc', ctime: 1500 },
  { volid: 's1:backup/100/lxc-2500', vmid: 100, type: 'lxc', ctime: 2500 },
  { volid: 's1:backup/101/qemu-1100', vmid: 101, type: 'qemu', ctime: 1100 },
  { volid: 's1:backup/101/qemu-2100', vmid: 101, type: 'qemu', ctime: 2100, protected: true },
  { volid: 's1:backup/101/qemu-3100', vmid: 101, type: 'qemu', ctime: 3100 },
  { volid: 's1:backup/odd-name', vmid: 101, type: 'unknown', ctime: 9000, mark: 'renamed' },
];

function marksOf(result: Array<{ volid: string; mark: string }>): Record<string, string> {
  return Object.fromEntries(result.map((entry) => [entry.volid, entry.mark]));
}

describe('groupForPrune', () => {
  it('groups by <type>/<vmid> in input order', () => {
    const groups = groupForPrune(listing);
    expect([...groups.keys()]).toEqual(['qemu/100', 'lxc/100', 'qemu/101', 'unknown/101']);
    expect(groups.get('qemu/101')?.map((entry) => entry.ctime)).toEqual([1100, 2100, 3100]);
    expect(backupGroupKey({ type: 'lxc', vmid: 7 })).toBe('lxc/7');
  });
});

describe('pruneBackups', () => {
  it('marks each guest and type separately; protected and renamed stay', () => {
    expect(marksOf(pruneBackups(listing, { 'keep-last': 1 }))).toEqual({
      's1:backup/100/qemu-1000': 'remove',
      's1:backup/100/qemu-2000': 'keep',
      's1:backup/100/lxc-1500': 'remove',
      's1:backup/100/lxc-2500': 'keep',
      's1:backup/101/qemu-1100': 'remove',
      's1:backup/101/qemu-2100': 'protected',
      's1:backup/101/qemu-3100': 'keep',
      's1:backup/odd-name': 'renamed',
    });
  });

  it('with keep-last=2 the protected backup does not use up a slot', () => {
    const result = marksOf(pruneBackups(listing, 'keep-last=2', { vmid: 101, type: 'qemu' }));
    expect(result).toEqual({
      's1:backup/101/qemu-1100': 'keep',
      's1:backup/101/qemu-2100': 'protected',
      's1:backup/101/qemu-3100': 'keep',
    });
  });

  it('leaves entries outside the vmid/type filter out of the result', () => {
    expect(pruneBackups(listing, { 'keep-last': 1 }, { vmid: 100 }).map((entry) => entry.volid)).toEqual([
      's1:backup/100/qemu-1000',
      's1:backup/100/qemu-2000',
      's1:backup/100/lxc-1500',
      's1:backup/100/lxc-2500',
    ]);
    expect(pruneBackups(listing, { 'keep-last': 1 }, { type: 'lxc' }).map((entry) => [entry.volid, entry.mark])).toEqual([
      ['s1:backup/100/lxc-1500', 'remove'],
      ['s1:backup/100/lxc-2500', 'keep'],
    ]);
  });

  it('keeps everything for keep-all', () => {
    const result = pruneBackups(listing, 'keep-all=1');
    expect(new Set(result.map((entry) => entry.mark))).toEqual(new Set(['keep', 'protected', 'renamed']));
  });

  it('passes the time zone to the periods', () => {
    // 2026-12-31 23:30 UTC is 2027 in Vienna but 2026 in UTC.
    const turnOfYear: PruneBackupEntry[] = [
      { volid: 's:backup/100/qemu-a', vmid: 100, type: 'qemu', ctime: Date.UTC(2026, 11, 31, 12) / 1000 },
      { volid: 's:backup/100/qemu-b', vmid: 100, type: 'qemu', ctime: Date.UTC(2026, 11, 31, 23, 30) / 1000 },
    ];
    expect(pruneBackups(turnOfYear, { 'keep-yearly': 5 }, { timeZone: 'Europe/Vienna' }).map((entry) => entry.mark)).toEqual(['keep', 'keep']);
    expect(pruneBackups(turnOfYear, { 'keep-yearly': 5 }, { timeZone: 'UTC' }).map((entry) => entry.mark)).toEqual(['remove', 'keep']);
  });
});
