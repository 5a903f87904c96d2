import { describe, expect, it } from 'vitest';
import { isValidStorageId } from './storage-id.js';
import { formatVolname, formatVolumeId, parseVolname, parseVolumeId } from './volume-id.js';
import { errorCodeOf } from './testing/error-code-of.js';

describe('isValidStorageId (pve-storage-id)', () => {
  it.each(['local', 'backup-dir', 'my_store.1', 'ab', 'Local', 'NAS2'])('accepts %s', (id) => {
    expect(isValidStorageId(id)).toBe(true);
  });
  it.each(['', 'a', '1abc', '-abc', 'abc-', 'abc_', 'ab c', 'ab:c', 'ab/c', 'äb', 'ab\n'])('rejects %j', (id) => {
    expect(isValidStorageId(id)).toBe(false);
  });
});

describe('parseVolumeId', () => {
  it('splits at the first colon; colons in the archive name stay', () => {
    expect(parseVolumeId('bp-dir:backup/100/qemu-2026-11-26T19:18:28Z')).toEqual({
      storeId: 'bp-dir',
      volname: 'backup/100/qemu-2026-11-26T19:18:28Z',
      vtype: 'backup',
      archiveName: '100/qemu-2026-11-26T19:18:28Z',
    });
    expect(parseVolumeId('local:backup/100/qemu-1732648708').archiveName).toBe('100/qemu-1732648708');
  });

  it.each([
    ['empty', ''],
    ['no colon', 'local'],
    ['no storage', ':backup/100/qemu-1'],
    ['bad storage id', '1local:backup/100/qemu-1'],
    ['one-letter storage id', 'l:backup/100/qemu-1'],
    ['storage id with space', 'lo cal:backup/100/qemu-1'],
    ['not a backup volume', 'local:iso/x.iso'],
    ['images volume', 'local:100/vm-100-disk-0.qcow2'],
    ['empty archive name', 'local:backup/'],
    ['backup without slash', 'local:backup'],
    ['traversal', 'local:backup/../../etc/shadow'],
    ['traversal in the middle', 'local:backup/100/../101/qemu-1'],
    ['absolute archive', 'local:backup//etc/passwd'],
    ['trailing slash', 'local:backup/100/'],
    ['NUL', 'local:backup/100\u0000/qemu-1'],
    ['newline', 'local:backup/100/qemu-1\n'],
    ['unicode', 'local:backup/100/qemü-1'],
    ['overlong', `local:backup/${'x'.repeat(256)}`],
  ])('rejects %s with BP_INVALID_VOLUME_ID', (_label, volid) => {
    expect(errorCodeOf(() => parseVolumeId(volid))).toBe('BP_INVALID_VOLUME_ID');
  });
});

describe('formatVolumeId', () => {
  it('builds <storeid>:backup/<archive-name> and round-trips', () => {
    const volid = formatVolumeId('bp-dir', '100/qemu-2026-11-26T19:18:28Z');
    expect(volid).toBe('bp-dir:backup/100/qemu-2026-11-26T19:18:28Z');
    expect(parseVolumeId(volid)).toMatchObject({ storeId: 'bp-dir', archiveName: '100/qemu-2026-11-26T19:18:28Z' });
  });

  it.each([
    ['x', '100/qemu-1'],
    ['local:', '100/qemu-1'],
    ['local', '../x'],
    ['local', ''],
    ['local', '/abs'],
  ])('rejects (%j, %j) with BP_INVALID_VOLUME_ID', (storeId, archiveName) => {
    expect(errorCodeOf(() => formatVolumeId(storeId, archiveName))).toBe('BP_INVALID_VOLUME_ID');
  });
});

describe('parseVolname / formatVolname', () => {
  it('parses backup/<archive-name>', () => {
    expect(parseVolname('backup/100/lxc-1732648708')).toEqual({ vtype: 'backup', archiveName: '100/lxc-1732648708' });
    expect(formatVolname('100/lxc-1732648708')).toBe('backup/100/lxc-1732648708');
  });

  it.each(['', 'backup', 'backup/', 'images/100/x', 'Backup/100/x', ' backup/100/x', 'backup/../x', 'backup/a//b', 'local:backup/100/x'])(
    'rejects %j with BP_INVALID_VOLUME_ID',
    (volname) => {
      expect(errorCodeOf(() => parseVolname(volname))).toBe('BP_INVALID_VOLUME_ID');
    },
  );

  it('rejects an invalid archive name when formatting', () => {
    expect(errorCodeOf(() => formatVolname('..'))).toBe('BP_INVALID_VOLUME_ID');
  });
});
