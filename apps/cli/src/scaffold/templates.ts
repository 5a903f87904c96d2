import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The provider templates of `bp new-provider`, with what each declares. */
export const PROVIDER_TEMPLATES = {
  vm: 'VM backups (file-handle mechanism) with incrementals through dirty bitmaps, as raw images.',
  container: 'Container backups as tar archives, written the way vzdump writes them.',
  'storage-only': 'The storage side only (listing, notes, protection, prune, delete); no backups yet.',
} as const;
/** A template name. */
export type ProviderTemplate = keyof typeof PROVIDER_TEMPLATES;

/**
 * The @bp/cli package directory (holds `templates/`): two levels up from `dist/cli.js`, three
 * from `src/scaffold/*.ts` — found by walking up rather than by a fixed depth.
 */
export function cliPackageDir(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'templates', 'provider', 'common'))) return dir;
  }
  throw new Error(`the provider templates are missing next to ${from}; reinstall @bp/cli`);
}
