import { describe, expect, test } from 'vitest';
import { BpError } from '@bp/api/errors';
import { formatNbdUri, parseNbdUri } from '@bp/nbd';

describe('parseNbdUri', () => {
  test.each([
    ['nbd+unix:///disk?socket=/run/x.sock', { endpoint: { transport: 'unix', socketPath: '/run/x.sock' }, exportName: 'disk' }],
    ['nbd+unix:///drive-scsi0?socket=%2Ftmp%2Fa%20b.sock', { endpoint: { transport: 'unix', socketPath: '/tmp/a b.sock' }, exportName: 'drive-scsi0' }],
    ['nbd+unix://?socket=/s', { endpoint: { transport: 'unix', socketPath: '/s' }, exportName: '' }],
    ['nbd://example.org/disk', { endpoint: { transport: 'tcp', host: 'example.org', port: 10809 }, exportName: 'disk' }],
    ['nbd://[::1]:1234/a%2Fb', { endpoint: { transport: 'tcp', host: '::1', port: 1234 }, exportName: 'a/b' }],
    ['nbd:unix:/run/s.sock:exportname=drive-virtio0', { endpoint: { transport: 'unix', socketPath: '/run/s.sock' }, exportName: 'drive-virtio0' }],
    ['nbd:localhost:10810', { endpoint: { transport: 'tcp', host: 'localhost', port: 10810 }, exportName: '' }],
  ])('%s', (uri, expected) => {
    expect(parseNbdUri(uri)).toEqual(expected);
  });

  test.each([
    ['nbd+unix:///disk', 'BP_INVALID_ARGUMENT'],
    ['http://x/y', 'BP_INVALID_ARGUMENT'],
    ['nbd:', 'BP_INVALID_ARGUMENT'],
    ['nbds://host/x', 'BP_NBD_UNSUPPORTED'],
    ['/just/a/path', 'BP_INVALID_ARGUMENT'],
  ])('rejects %s', (uri, code) => {
    expect(() => parseNbdUri(uri)).toThrow(expect.objectContaining({ code }));
    try {
      parseNbdUri(uri);
    } catch (error) {
      expect(BpError.isInstance(error)).toBe(true);
    }
  });

  test('formats what it parses', () => {
    for (const uri of ['nbd+unix:///disk?socket=%2Frun%2Fx.sock', 'nbd://host:10809/disk']) {
      expect(formatNbdUri(parseNbdUri(uri))).toBe(uri);
    }
  });
});
