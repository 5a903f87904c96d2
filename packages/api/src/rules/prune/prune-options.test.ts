import { describe, expect, it } from 'vitest';
import { formatPruneOptions, keepsAll, parsePruneOptions, pruneOptionsSchema } from './prune-options.js';
import { errorCodeOf } from '../testing/error-code-of.js';

describe('parsePruneOptions', () => {
  it('accepts objects and keeps only positive counts', () => {
    expect(parsePruneOptions({ 'keep-last': 3, 'keep-daily': 7, 'keep-weekly': 0 })).toEqual({ 'keep-last': 3, 'keep-daily': 7 });
    expect(parsePruneOptions({ 'keep-all': false, 'keep-yearly': 1 })).toEqual({ 'keep-yearly': 1 });
  });

  it("accepts PVE's property-string form", () => {
    expect(parsePruneOptions('keep-daily=7,keep-last=3')).toEqual({ 'keep-last': 3, 'keep-daily': 7 });
    expect(parsePruneOptions('keep-hourly=24,,keep-monthly=6')).toEqual({ 'keep-hourly': 24, 'keep-monthly': 6 });
    expect(parsePruneOptions('keep-all=1')).toEqual({ 'keep-all': true });
    expect(parsePruneOptions('keep-all=no,keep-last=2')).toEqual({ 'keep-last': 2 });
  });

  it('treats empty and all-zero sets as keep-all, as validate_prune_backups does', () => {
    expect(parsePruneOptions({})).toEqual({ 'keep-all': true });
    expect(parsePruneOptions('')).toEqual({ 'keep-all': true });
    expect(parsePruneOptions('keep-last=0,keep-daily=0')).toEqual({ 'keep-all': true });
    expect(parsePruneOptions({ 'keep-all': true, 'keep-last': 0 })).toEqual({ 'keep-all': true });
    expect(parsePruneOptions({ 'keep-all': false })).toEqual({ 'keep-all': true });
  });

  it.each<[string, unknown]>([
    ['keep-all with a positive count', { 'keep-all': true, 'keep-last': 1 }],
    ['keep-all with a positive count (string)', 'keep-all=1,keep-daily=7'],
    ['a negative count', { 'keep-last': -1 }],
    ['a negative count (string)', 'keep-last=-1'],
    ['a fraction', { 'keep-daily': 1.5 }],
    ['a fraction (string)', 'keep-daily=1.5'],
    ['a numeric string in an object', { 'keep-last': '3' }],
    ['NaN', { 'keep-last': Number.NaN }],
    ['Infinity', { 'keep-last': Number.POSITIVE_INFINITY }],
    ['an unknown key', { 'keep-last': 1, 'keep-forever': 1 }],
    ['an unknown key (string)', 'keep-daily=7,maxfiles=3'],
    ['a non-boolean keep-all', 'keep-all=maybe'],
    ['a duplicate key', 'keep-last=1,keep-last=2'],
    ['a part without =', 'keep-last'],
    ['an empty value', 'keep-last='],
    ['a word', 'keep-last=three'],
    ['null', null],
    ['an array', [1, 2]],
  ])('rejects %s with BP_INVALID_CONFIG', (_label, input) => {
    expect(errorCodeOf(() => parsePruneOptions(input as never))).toBe('BP_INVALID_CONFIG');
  });

  it('names the problem', () => {
    expect(() => parsePruneOptions({ 'keep-all': true, 'keep-daily': 2 })).toThrow(/keep-all cannot be set together with other options/);
  });
});

describe('pruneOptionsSchema / keepsAll / formatPruneOptions', () => {
  it('is a zod schema others can embed', () => {
    expect(pruneOptionsSchema.safeParse({ 'keep-last': 2 }).success).toBe(true);
    expect(pruneOptionsSchema.safeParse({ 'keep-last': -2 }).success).toBe(false);
  });

  it('knows when everything is kept', () => {
    expect(keepsAll({})).toBe(true);
    expect(keepsAll({ 'keep-last': 0 })).toBe(true);
    expect(keepsAll({ 'keep-last': 1 })).toBe(false);
  });

  it('writes the string form in PVE order and reads it back', () => {
    expect(formatPruneOptions({ 'keep-yearly': 1, 'keep-last': 3, 'keep-daily': 0 })).toBe('keep-last=3,keep-yearly=1');
    expect(formatPruneOptions({})).toBe('keep-all=1');
    const text = 'keep-last=1,keep-hourly=2,keep-daily=3,keep-weekly=4,keep-monthly=5,keep-yearly=6';
    expect(formatPruneOptions(parsePruneOptions(text))).toBe(text);
  });
});
