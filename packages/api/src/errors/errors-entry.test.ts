import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

// These tests read the built package (like a consumer does), so they need `npm run build -w @bp/api` first.
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/** Every bare specifier (package import) reachable from a built file through its relative imports. */
async function bareImports(file: string, seen = new Set<string>()): Promise<Set<string>> {
  const found = new Set<string>();
  if (seen.has(file)) return found;
  seen.add(file);
  const source = await readFile(file, 'utf8');
  for (const match of source.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)) {
    const specifier = match[1] ?? match[2] ?? '';
    if (specifier.startsWith('.')) {
      for (const inner of await bareImports(resolve(dirname(file), specifier), seen)) found.add(inner);
    } else {
      found.add(specifier);
    }
  }
  return found;
}

describe('@bp/api/errors (built)', () => {
  test('loads no zod at run time, while the main entry does', async () => {
    const errorsImports = await bareImports(join(packageDir, 'dist', 'errors.js'));
    const mainImports = await bareImports(join(packageDir, 'dist', 'index.js'));
    expect([...errorsImports].filter((name) => name === 'zod' || name.startsWith('zod/'))).toEqual([]);
    expect(mainImports.has('zod')).toBe(true);
  });

  test('errors made through either entry are recognised by the other', async () => {
    // A separate Node process resolves both entries through the package's exports map.
    const script = `
      const main = await import('@bp/api');
      const errors = await import('@bp/api/errors');
      const fromMain = new main.BpError('BP_NOT_FOUND', 'gone');
      const fromErrors = new errors.BpError('BP_LOCKED', 'busy');
      console.log(JSON.stringify({
        mainSeesErrors: main.BpError.isInstance(fromErrors) && main.BpError.hasCode(fromErrors, 'BP_LOCKED'),
        errorsSeesMain: errors.BpError.isInstance(fromMain) && errors.BpError.hasCode(fromMain, 'BP_NOT_FOUND'),
        plainRejected: !errors.BpError.isInstance(new Error('plain')),
        codes: Object.keys(errors.ERROR_CODES).length === Object.keys(main.ERROR_CODES).length,
        wrapped: errors.toBpError(new Error('x'), 'BP_BACKUP_FAILED', 'failed').code,
      }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir });
    expect(JSON.parse(stdout)).toEqual({
      mainSeesErrors: true,
      errorsSeesMain: true,
      plainRejected: true,
      codes: true,
      wrapped: 'BP_BACKUP_FAILED',
    });
  });
});
