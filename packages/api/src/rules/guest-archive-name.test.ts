import { describe, expect, it } from 'vitest';
import { isValidArchiveName } from './archive-name.js';
import { formatArchiveName, isStandardArchiveName, parseArchiveName } from './guest-archive-name.js';
import { errorCodeOf } from './testing/error-code-of.js';

const NOV_26_2026 = Date.UTC(2026, 10, 26, 19, 18, 28) / 1000;

describe('formatArchiveName', () => {
  it('builds <vmid>/<vmtype>-<UTC timestamp>', () => {
    expect(formatArchiveName({ vmid: 100, vmtype: 'qemu', time: NOV_26_2026 })).toBe('100/qemu-2026-11-26T19:18:28Z');
    expect(formatArchiveName({ vmid: 999999999, vmtype: 'lxc', time: 0 })).toBe('999999999/lxc-1970-01-01T00:00:00Z');
  });

  it('produces names the archive-name rules accept', () => {
    expect(isValidArchiveName(formatArchiveName({ vmid: 101, vmtype: 'lxc', time: NOV_26_2026 }))).toBe(true);
  });

  it.each([
    [{ vmid: 99, vmtype: 'qemu', time: 0 }],
    [{ vmid: 1_000_000_000, vmtype: 'qemu', time: 0 }],
    [{ vmid: 100.5, vmtype: 'qemu', time: 0 }],
    [{ vmid: 100, vmtype: 'openvz', time: 0 }],
    [{ vmid: 100, vmtype: 'qemu', time: -1 }],
    [{ vmid: 100, vmtype: 'qemu', time: 1.5 }],
  ])('rejects %j', (parts) => {
    expect(errorCodeOf(() => formatArchiveName(parts as never))).toBe('BP_INVALID_ARCHIVE_NAME');
  });
});

describe('parseArchiveName', () => {
  it('parses the formatted form', () => {
    expect(parseArchiveName('100/qemu-2026-11-26T19:18:28Z')).toEqual({ vmid: 100, vmtype: 'qemu', time: NOV_26_2026, legacyEpoch: false });
  });

  it("parses the directory example's legacy epoch form", () => {
    expect(parseArchiveName('100/qemu-1732648708')).toEqual({ vmid: 100, vmtype: 'qemu', time: 1732648708, legacyEpoch: true });
    expect(parseArchiveName('123/lxc-0')).toEqual({ vmid: 123, vmtype: 'lxc', time: 0, legacyEpoch: true });
  });

  it('round-trips formatArchiveName', () => {
    for (const parts of [
      { vmid: 100, vmtype: 'qemu' as const, time: NOV_26_2026 },
      { vmid: 4242, vmtype: 'lxc' as const, time: 1 },
    ]) {
      expect(parseArchiveName(formatArchiveName(parts))).toEqual({ ...parts, legacyEpoch: false });
    }
  });

  it.each([
    '',
    '100',
    '100/qemu',
    '100/qemu-',
    '100/qemu-abc',
    '100/openvz-1732648708',
    '100/QEMU-1732648708',
    '0100/qemu-1732648708',
    '99/qemu-1732648708',
    '1000000000/qemu-1',
    '100/qemu-01732648708',
    '100/qemu-99999999999999999999',
    '100/qemu-1732648708/extra',
    '/100/qemu-1732648708',
    '100/qemu-2026-02-30T00:00:00Z',
    '100/qemu-2026-11-26T19:18:28',
    '100/qemu-2026-11-26T19:18:28Z ',
    'x/100/qemu-1',
    '../100/qemu-1',
  ])('rejects %j with BP_INVALID_ARCHIVE_NAME', (name) => {
    expect(errorCodeOf(() => parseArchiveName(name))).toBe('BP_INVALID_ARCHIVE_NAME');
    expect(isStandardArchiveName(name)).toBe(false);
  });
});
