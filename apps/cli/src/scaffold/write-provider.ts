import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BpError } from '@bp/api';
import { bpDependencies } from './dependencies.js';
import { cliPackageDir, PROVIDER_TEMPLATES, type ProviderTemplate } from './templates.js';

/** What {@link writeProviderPackage} needs. */
export interface ProviderPackageOptions {
  /** Target directory: must not exist or be empty. */
  dir: string;
  template: ProviderTemplate;
  /** npm package name; default: the directory name. */
  name?: string;
  cliVersion: string;
}

/** npm's rule for new package names (lowercase, URL-safe, optional scope). */
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/** The files written, relative to the package directory, sorted. */
export type WrittenFiles = string[];

function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/__([A-Z_]+)__/g, (match, key: string) => values[key] ?? match);
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, path)));
    else files.push(path);
  }
  return files;
}

/**
 * Writes a provider package from a template: `src/` (plugin, supports, provider, storage),
 * `test/conformance.test.ts` (the kit), package.json, tsconfig, vitest config, README. Refuses a
 * non-empty target (BP_ALREADY_EXISTS) or an invalid name (BP_INVALID_ARGUMENT) before writing;
 * a failure while writing removes what was written.
 */
export async function writeProviderPackage(options: ProviderPackageOptions): Promise<WrittenFiles> {
  const name = options.name ?? basename(options.dir);
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw new BpError('BP_INVALID_ARGUMENT', `${JSON.stringify(name)} is not a valid npm package name (lowercase letters, digits, - . _ ~, optional @scope/); pass --name`, { details: { usage: true } });
  }
  const existing = await readdir(options.dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
  if (existing && existing.length > 0) throw new BpError('BP_ALREADY_EXISTS', `${options.dir} is not empty; give a new or empty directory`, { details: { dir: options.dir } });

  const cliDir = cliPackageDir();
  const templates = join(cliDir, 'templates', 'provider');
  const type = name.replace(/^@[^/]+\//, '');
  const bp = ['@bp/api', ...(options.template === 'container' ? ['@bp/archive'] : []), '@bp/conformance'];
  const deps = bpDependencies(cliDir, bp, options.cliVersion);
  const values = { NAME: name, TYPE: type, TEMPLATE: options.template, DESCRIPTION: PROVIDER_TEMPLATES[options.template], DEPENDENCY_NOTE: deps.note };
  const packageJson = {
    name,
    version: '0.1.0',
    description: `Proxmox VE backup provider: ${PROVIDER_TEMPLATES[options.template]}`,
    type: 'module',
    license: 'MIT',
    engines: { node: '>=20.19.0' },
    exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    files: ['dist'],
    scripts: { build: 'tsc -p tsconfig.build.json', typecheck: 'tsc', test: 'tsc && tsc -p tsconfig.build.json && vitest run' },
    dependencies: Object.fromEntries([...bp.filter((dep) => dep !== '@bp/conformance').map((dep) => [dep, deps.specs[dep]]), ['zod', '^4.1.0']]),
    devDependencies: { '@bp/conformance': deps.specs['@bp/conformance'], '@types/node': '^20.19.0', typescript: '~5.9.3', vitest: '^4.1.12' },
  };

  const created = existing === undefined;
  try {
    await mkdir(options.dir, { recursive: true });
    for (const source of ['common', options.template]) {
      for (const file of await listFiles(join(templates, source))) {
        // npm never publishes a file named .gitignore: the template keeps it as `gitignore`.
        const target = join(options.dir, file === 'gitignore' ? '.gitignore' : file);
        await mkdir(join(target, '..'), { recursive: true });
        await writeFile(target, substitute(await readFile(join(templates, source, file), 'utf8'), values));
      }
    }
    await writeFile(join(options.dir, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
  } catch (error) {
    if (created) await rm(options.dir, { recursive: true, force: true });
    else for (const entry of await readdir(options.dir).catch(() => [])) await rm(join(options.dir, entry), { recursive: true, force: true });
    throw error;
  }
  return (await listFiles(options.dir)).sort();
}

