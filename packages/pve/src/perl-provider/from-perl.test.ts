import { describe, expect, it } from 'vitest';
import * as from from './from-perl.js';

// Perl hands back untyped scalars; these are what PVE accepts from a provider, and what it does not.
describe('results of a Perl provider', () => {
  it('accept Perl scalars: numbers as strings, 1/0/"" booleans, undef', () => {
    expect(from.archiveNameOf('m', { 'archive-name': '100/qemu-1' })).toEqual({ archiveName: '100/qemu-1' });
    expect(from.cleanupResultOf('m', { stats: { 'archive-size': '4096' } })).toEqual({ stats: { archiveSize: 4096 } });
    expect(from.cleanupResultOf('m', undefined)).toEqual({});
    expect(from.incrementalOf('m', null)).toBeUndefined();
    expect(from.incrementalOf('m', { 'drive-scsi0': 'use', 'drive-efidisk0': 'none' })).toEqual({ 'drive-scsi0': 'use', 'drive-efidisk0': 'none' });
    expect(from.restoreMechanismOf('m', ['tar', 'lxc'])).toEqual({ mechanism: 'tar', vmtype: 'lxc' });
    expect(from.parsedVolnameOf('m', ['backup', '100/qemu-1', '100'])).toEqual({ vtype: 'backup', name: '100/qemu-1', vmid: 100 });
    expect(from.sizeInfoOf('m', ['10', 'directory', '10', null, '1700000000'])).toEqual({ size: 10, format: 'directory', used: 10, ctime: 1_700_000_000 });
    expect(from.statusOf('m', ['100', '60', '40', ''])).toEqual({ total: 100, available: 60, used: 40, active: false });
    expect(from.containerInitOf('m', { 'archive-directory': '/mnt/x' })).toEqual({ archiveDirectory: '/mnt/x' });
  });

  it('sort list_volumes by volid as PVE does (case-insensitive) and keep only backups', () => {
    const volume = (volid: string) => ({ volid, vmid: '100', format: 'directory', ctime: '1', size: '2', subtype: 'qemu', content: 'backup', protected: '1' });
    const listed = from.volumesOf('m', [volume('s:backup/b'), volume('s:backup/A'), { ...volume('s:iso/x'), content: 'iso' }]);
    expect(listed.map((entry) => entry.volid)).toEqual(['s:backup/A', 's:backup/b']);
    expect(listed[0]).toMatchObject({ vmid: 100, ctime: 1, size: 2, protected: true });
  });

  it('refuse what PVE would refuse, naming the Perl method and what PVE expects', () => {
    expect(() => from.archiveNameOf('P->backup_init', { 'archive-name': '' })).toThrow(/^Perl P->backup_init returned .*; PVE expects a hash with a non-empty 'archive-name'/);
    expect(() => from.mechanismOf('P->backup_get_mechanism', 'block-device')).toThrow(expect.objectContaining({ code: 'BP_PROVIDER_FAILED' }));
    expect(() => from.incrementalOf('P->q', { 'drive-scsi0': 'yes' })).toThrow(/PVE expects undef or a hash of device => 'new' \| 'use' \| 'none'/);
    expect(() => from.restoreMechanismOf('P->r', ['qemu-img', 'lxc'])).toThrow(/\('qemu-img', 'qemu'\)/);
    expect(() => from.guestConfigOf('P->a', '')).toThrow(/non-empty string/);
    expect(() => from.restoreVmInitOf('P->i', { 'drive-scsi0': { size: 0 } })).toThrow(/device => \{ size => bytes \}/);
    expect(() => from.parsedVolnameOf('P->parse_volname', ['images', 'x', '100'])).toThrow(expect.objectContaining({ code: 'BP_INVALID_VOLUME_ID' }));
    expect(() => from.volumesOf('P->list_volumes', [{ volid: 'x', subtype: 'openvz' }])).toThrow(/Perl P->list_volumes returned/);
  });
});
