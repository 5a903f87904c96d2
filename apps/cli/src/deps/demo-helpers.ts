import * as archive from '@bp/archive';
import { optionalExport } from './optional-export.js';

/** Creates a sample container tree (ACLs, xattrs, hardlinks, symlinks, sparse files) under `root`. */
export type CreateTreeFixture = (root: string) => Promise<unknown>;
/** Compares two trees (content, modes, owners, ACLs, xattrs, hardlinks); resolves to the differences. */
export type CompareTrees = (expected: string, actual: string) => Promise<string[]>;

/** @bp/archive's tree fixture builder. */
export function createTreeFixture(root: string): Promise<unknown> {
  return optionalExport<CreateTreeFixture>(archive, '@bp/archive', 'createTreeFixture')(root);
}

/** @bp/archive's tree comparison. */
export function compareTrees(expected: string, actual: string): Promise<string[]> {
  return optionalExport<CompareTrees>(archive, '@bp/archive', 'compareTrees')(expected, actual);
}
