import { describe, expect, it } from 'vitest';
import { BpError } from '../errors/index.js';
import { devicesFromGuestConfig, formatQmdumpMapLine, parseQmdumpMap, parseQmdumpMapLine, setQmdumpMap, type QmdumpMapEntry } from './qmdump-map.js';
import { errorCodeOf } from './testing/error-code-of.js';

// A guest config as vzdump hands it to backup_vm: config lines, then one map line per disk.
const GUEST_CONFIG = [
  'boot: order=scsi0;net0',
  'cores: 2',
  'efidisk0: local-lvm:vm-100-disk-1,efitype=4m,size=4M',
  'memory: 2048',
  'net0: virtio=BC:24:11:AA:BB:CC,bridge=vmbr0',
  'scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G',
  'scsi1: /dev/disk/by-id/ata-XYZ,size=100G',
  '#qmdump#map:efidisk0:drive-efidisk0:local-lvm:raw:',
  '#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:',
  '#qmdump#map:scsi1:drive-scsi1:::',
  '',
].join('\n');

describe('parseQmdumpMap', () => {
  it('reads every map line, storeid and format may be empty', () => {
    expect(parseQmdumpMap(GUEST_CONFIG)).toEqual([
      { virtdev: 'efidisk0', device: 'drive-efidisk0', storeId: 'local-lvm', format: 'raw' },
      { virtdev: 'scsi0', device: 'drive-scsi0', storeId: 'local-lvm', format: 'raw' },
      { virtdev: 'scsi1', device: 'drive-scsi1', storeId: '', format: '' },
    ]);
  });

  it('ignores lines that are not exactly map lines, as qemu-server does', () => {
    for (const line of [
      '#qmdump#map:scsi0:drive-scsi0:local:raw', // no trailing colon
      ' #qmdump#map:scsi0:drive-scsi0:local:raw:', // leading space
      '#qmdump#map::drive-scsi0:local:raw:', // empty virtdev
      '#qmdump#map:scsi0::local:raw:', // empty device
      '#qmdump#map:scsi0:drive scsi0:local:raw:', // whitespace
      '#qmdump#map:scsi0:drive-scsi0:local:raw:\r', // CRLF line
      '#qmdump#mapx:scsi0:drive-scsi0:local:raw:',
      '# qmdump#map:scsi0:drive-scsi0:local:raw:',
      'scsi0: local:vm-100-disk-0',
    ]) {
      expect(parseQmdumpMapLine(line)).toBeUndefined();
      expect(parseQmdumpMap(`${line}\n`)).toEqual([]);
    }
  });

  it('lists the referenced devices once each, in file order', () => {
    expect(devicesFromGuestConfig(GUEST_CONFIG)).toEqual(['drive-efidisk0', 'drive-scsi0', 'drive-scsi1']);
    expect(devicesFromGuestConfig(`${GUEST_CONFIG}#qmdump#map:scsi9:drive-scsi0:local:raw:\n`)).toEqual([
      'drive-efidisk0',
      'drive-scsi0',
      'drive-scsi1',
    ]);
    expect(devicesFromGuestConfig('memory: 512\n')).toEqual([]);
  });
});

describe('formatQmdumpMapLine', () => {
  it('writes the vzdump form', () => {
    expect(formatQmdumpMapLine({ virtdev: 'scsi0', device: 'drive-scsi0', storeId: 'local-lvm', format: 'qcow2' })).toBe(
      '#qmdump#map:scsi0:drive-scsi0:local-lvm:qcow2:',
    );
    expect(formatQmdumpMapLine({ virtdev: 'tpmstate0', device: 'drive-tpmstate0-backup', storeId: '', format: '' })).toBe(
      '#qmdump#map:tpmstate0:drive-tpmstate0-backup:::',
    );
  });

  it('round-trips every entry of a config', () => {
    for (const entry of parseQmdumpMap(GUEST_CONFIG)) {
      expect(parseQmdumpMapLine(formatQmdumpMapLine(entry))).toEqual(entry);
    }
  });

  it.each<[string, QmdumpMapEntry]>([
    ['empty virtdev', { virtdev: '', device: 'drive-scsi0', storeId: '', format: '' }],
    ['empty device', { virtdev: 'scsi0', device: '', storeId: '', format: '' }],
    ['colon in storeid', { virtdev: 'scsi0', device: 'drive-scsi0', storeId: 'a:b', format: '' }],
    ['newline in format', { virtdev: 'scsi0', device: 'drive-scsi0', storeId: 'local', format: 'raw\nmemory: 1' }],
    ['space in device', { virtdev: 'scsi0', device: 'drive scsi0', storeId: '', format: '' }],
  ])('rejects %s with BP_INVALID_ARGUMENT', (_label, entry) => {
    expect(errorCodeOf(() => formatQmdumpMapLine(entry))).toBe('BP_INVALID_ARGUMENT');
  });
});

describe('setQmdumpMap', () => {
  it('keeps every other line byte for byte and appends the map at the end', () => {
    const withoutMap = GUEST_CONFIG.split('\n')
      .filter((line) => !line.startsWith('#qmdump#map:'))
      .join('\n');
    const entries = parseQmdumpMap(GUEST_CONFIG);
    expect(setQmdumpMap(withoutMap, entries)).toBe(GUEST_CONFIG);
    expect(setQmdumpMap(GUEST_CONFIG, entries)).toBe(GUEST_CONFIG);
  });

  it('replaces old map lines wherever they are and leaves comments alone', () => {
    const text = '#qmdump#map:scsi0:drive-scsi0:old:raw:\n# a comment with #qmdump#map: inside\nmemory: 512';
    const entry = { virtdev: 'virtio0', device: 'drive-virtio0', storeId: 'new', format: 'qcow2' };
    expect(setQmdumpMap(text, [entry])).toBe('# a comment with #qmdump#map: inside\nmemory: 512\n#qmdump#map:virtio0:drive-virtio0:new:qcow2:\n');
    expect(setQmdumpMap(text, [])).toBe('# a comment with #qmdump#map: inside\nmemory: 512');
    expect(setQmdumpMap('', [entry])).toBe('#qmdump#map:virtio0:drive-virtio0:new:qcow2:\n');
  });

  it('writes nothing when an entry is invalid', () => {
    expect(() => setQmdumpMap('memory: 1\n', [{ virtdev: 'a', device: 'b', storeId: '', format: '' }, { virtdev: '', device: 'x', storeId: '', format: '' }])).toThrow(
      BpError,
    );
  });
});
