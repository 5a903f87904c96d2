import { afterEach, describe, expect, test, vi } from 'vitest';
import { parseWithSchema, setStorageConfigNoticeSink, storageConfigSchema, upgradeV3StorageConfig, v3StorageConfigNotices, type StorageConfigInput } from '../src/index.js';

afterEach(() => {
  setStorageConfigNoticeSink(undefined);
  vi.restoreAllMocks();
});

describe('storage configs written for the v3 example', () => {
  test('`vm-backup-mechanism: block-device` loads as file-handle with one notice line', () => {
    const notices: string[] = [];
    setStorageConfigNoticeSink((line) => notices.push(line));
    const written: StorageConfigInput = { path: '/srv/v3 backups/ü', 'vm-backup-mechanism': 'block-device', 'vm-backup-mode': 'incremental' };
    const config = parseWithSchema(storageConfigSchema, written, 'storage config');
    expect(config['vm-backup-mechanism']).toBe('file-handle');
    expect(config).toEqual({ path: '/srv/v3 backups/ü', 'lxc-backup-mode': 'tar', 'vm-backup-mechanism': 'file-handle', 'vm-backup-mode': 'incremental' });
    expect(notices).toEqual([
      'bp: notice: vm-backup-mechanism "block-device" of the storage at /srv/v3 backups/ü is the v3 example\'s name, loaded as "file-handle"; write "file-handle" in the config to silence this',
    ]);
    // The caller's object is not rewritten.
    expect(written['vm-backup-mechanism']).toBe('block-device');
  });

  test('current names, other keys and non-objects pass without a notice', () => {
    const notices: string[] = [];
    setStorageConfigNoticeSink((line) => notices.push(line));
    expect(parseWithSchema(storageConfigSchema, { path: '/x', 'vm-backup-mechanism': 'nbd' }, 'storage config')['vm-backup-mechanism']).toBe('nbd');
    expect(upgradeV3StorageConfig('block-device')).toBe('block-device');
    expect(upgradeV3StorageConfig(null)).toBe(null);
    expect(v3StorageConfigNotices({ path: '/x', 'lxc-backup-mode': 'block-device' })).toEqual([]);
    expect(v3StorageConfigNotices({ path: '/x', 'vm-backup-mechanism': 'toString' })).toEqual([]);
    expect(notices).toEqual([]);
  });

  test('other unknown mechanisms are still refused', () => {
    expect(() => parseWithSchema(storageConfigSchema, { path: '/x', 'vm-backup-mechanism': 'block_device' }, 'storage config')).toThrow(/location: vm-backup-mechanism/);
    expect(() => parseWithSchema(storageConfigSchema, { path: '/x', 'vm-backup-mechanism': 'BLOCK-DEVICE' }, 'storage config')).toThrow(/BP_INVALID_CONFIG|vm-backup-mechanism/);
  });

  test('the default sink prints each distinct notice once on stderr', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    for (let round = 0; round < 3; round += 1) storageConfigSchema.parse({ path: '/srv/once', 'vm-backup-mechanism': 'block-device' });
    storageConfigSchema.parse({ path: '/srv/other', 'vm-backup-mechanism': 'block-device' });
    const lines = write.mock.calls.map(([text]) => String(text));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^bp: notice: vm-backup-mechanism "block-device" of the storage at \/srv\/once .*\n$/);
    expect(lines.every((line) => line.split('\n').length === 2)).toBe(true);
  });
});
