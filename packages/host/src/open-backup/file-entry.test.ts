import { describe, expect, it } from 'vitest';
import { resolveInside, type Lookup } from './file-entry.js';

// A tiny tree: /etc (dir), /etc/hosts, /var -> /srv/var, /srv/var/www (dir), /up -> ../../../etc, /loop -> /loop
const TREE: Record<string, Lookup> = {
  etc: { kind: 'directory' },
  'etc/hosts': { kind: 'other' },
  'etc/link': { kind: 'symlink', target: '/etc/hosts' },
  var: { kind: 'symlink', target: '/srv/var' },
  srv: { kind: 'directory' },
  'srv/var': { kind: 'directory' },
  'srv/var/www': { kind: 'directory' },
  up: { kind: 'symlink', target: '../../../etc' },
  loop: { kind: 'symlink', target: '/loop' },
};
const lookup = async (segments: string[]): Promise<Lookup> => TREE[segments.join('/')];

describe('resolveInside', () => {
  it('re-roots absolute symlinks and stops .. at the root', async () => {
    expect(await resolveInside(['var', 'www'], lookup, true, '/var/www')).toEqual(['srv', 'var', 'www']);
    expect(await resolveInside(['up', 'hosts'], lookup, true, '/up/hosts')).toEqual(['etc', 'hosts']);
    expect(await resolveInside(['..', '..', 'etc'], lookup, true, '/../../etc')).toEqual(['etc']);
  });

  it('keeps a final symlink unless asked to follow it', async () => {
    expect(await resolveInside(['etc', 'link'], lookup, false, '/etc/link')).toEqual(['etc', 'link']);
    expect(await resolveInside(['etc', 'link'], lookup, true, '/etc/link')).toEqual(['etc', 'hosts']);
  });

  it('refuses missing paths, paths through files and symlink loops with BP_NOT_FOUND', async () => {
    await expect(resolveInside(['etc', 'nope'], lookup, true, '/etc/nope')).rejects.toMatchObject({ code: 'BP_NOT_FOUND' });
    await expect(resolveInside(['etc', 'hosts', 'x'], lookup, true, '/etc/hosts/x')).rejects.toMatchObject({ code: 'BP_NOT_FOUND' });
    await expect(resolveInside(['loop'], lookup, true, '/loop')).rejects.toMatchObject({ code: 'BP_NOT_FOUND' });
  });
});
