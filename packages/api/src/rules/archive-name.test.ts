import { describe, expect, it } from 'vitest';
import { ARCHIVE_NAME_MAX_LENGTH, archiveNameProblem, isValidArchiveName, validateArchiveName } from './archive-name.js';
import { errorCodeOf } from './testing/error-code-of.js';

function expectInvalid(name: unknown): void {
  expect(isValidArchiveName(name)).toBe(false);
  expect(errorCodeOf(() => validateArchiveName(name))).toBe('BP_INVALID_ARCHIVE_NAME');
}

describe('validateArchiveName', () => {
  it.each([
    '100/qemu-1732648708',
    '100/qemu-2026-11-26T19:18:28Z',
    'vm/101/2026-11-26T19:18:28Z',
    'pve-lxc-100-2026-11-26T19:18:28Z',
    'a',
    'A.b+c=d_e-f',
    'x/.hidden',
    'x/a..b',
    '...',
    'a:b',
    'x'.repeat(ARCHIVE_NAME_MAX_LENGTH),
  ])('accepts %s and returns it unchanged', (name) => {
    expect(validateArchiveName(name)).toBe(name);
    expect(isValidArchiveName(name)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['dot-dot', '..'],
    ['dot', '.'],
    ['dot-dot in the middle', 'a/../b'],
    ['dot-dot at the end', 'a/..'],
    ['dot segment', 'a/./b'],
    ['absolute', '/etc/passwd'],
    ['root', '/'],
    ['double slash', 'a//b'],
    ['trailing slash', '100/qemu-1/'],
    ['space', '100/qemu 1'],
    ['tab', 'a\tb'],
    ['newline', 'a\nb'],
    ['NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['escape', '\u001b[31m'],
    ['unicode letter', 'bäckup'],
    ['unicode lookalike slash', 'a\u2215b'],
    ['fullwidth dot-dot', '\uff0e\uff0e'],
    ['backslash', 'a\\b'],
    ['shell characters', 'a;rm -rf'],
    ['percent-encoded dot-dot', '%2e%2e'],
    ['overlong', 'x'.repeat(ARCHIVE_NAME_MAX_LENGTH + 1)],
  ])('rejects %s', (_label, name) => {
    expectInvalid(name);
  });

  it.each([[undefined], [null], [42], [{}]])('rejects the non-string %s', (value) => {
    expectInvalid(value);
  });

  it('says what is wrong and what to do', () => {
    expect(archiveNameProblem('a/../b')).toMatch(/'\.\.' path segment/);
    expect(() => validateArchiveName('/abs')).toThrow(/absolute path.*use a relative name/);
  });
});
