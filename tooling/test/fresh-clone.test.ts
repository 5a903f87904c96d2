import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What a newcomer does on a fresh clone: `npm ci`, `npm start`, then the commands the demo's last
// lines and the README print. The clone is of the committed HEAD (uncommitted changes are not in
// it). npm may use its cache for `npm ci`; every `npx bp` runs with the registry unreachable, an
// empty npm cache and `--no` so that a fetch of some registry package named `bp` fails the test.

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment of a user's shell: nothing of the npm, turbo or vitest process running this test. */
function shellEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|TURBO_|VITEST)/i.test(key) || ['NODE_ENV', 'TEST', 'NODE_OPTIONS', 'INIT_CWD'].includes(key)) continue;
    env[key] = value;
  }
  return { ...env, CI: '1', NO_COLOR: '1', TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...extra };
}

/** The `npx bp ...` commands the root README prints, `<volid>` filled in. */
async function readmeCommands(volid: string): Promise<string[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/`(npx bp(?: [^`]*)?)`/g)].map((match) => (match[1] ?? '').replace('<volid>', volid));
}

/** The indented command lines after the demo's "Explore it with:". */
function exploreCommands(demoOutput: string): string[] {
  const tail = demoOutput.split('Explore it with:\n')[1] ?? '';
  return tail.split('\n').filter((line) => line.startsWith('  ')).map((line) => line.trim());
}

async function git(args: string[]): Promise<string> {
  const result = await run('git', args, { cwd: root, env: process.env });
  if (result.code !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

let sandbox: string;
let clone: string;
let env: NodeJS.ProcessEnv;
/** Where `npx` would put what it downloads: must stay without a package cache. */
let emptyCache: string;
let offlineEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  sandbox = await realpath(await mkdtemp(join(tmpdir(), 'bp-fresh-clone-')));
  // The demo's unprivileged container restore runs as uid 100000, which must reach BP_HOME.
  await chmod(sandbox, 0o755);
  clone = join(sandbox, 'bp');
  const head = await git(['rev-parse', 'HEAD']);
  // A clone builds from turbo's cache of this checkout (same inputs, same hashes) instead of from scratch.
  const commonDir = await git(['rev-parse', '--path-format=absolute', '--git-common-dir']);
  await git(['clone', '--quiet', '--no-checkout', root, clone]);
  const checkout = await run('git', ['checkout', '--quiet', head], { cwd: clone, env: process.env });
  expect(checkout.code, checkout.stderr).toBe(0);
  emptyCache = join(sandbox, 'npm-cache');
  await mkdir(join(sandbox, 'tmp'));
  env = shellEnv({
    BP_HOME: join(sandbox, 'home'),
    TMPDIR: join(sandbox, 'tmp'),
    TURBO_CACHE_DIR: join(dirname(commonDir), '.turbo', 'cache'),
  });
  offlineEnv = {
    ...env,
    npm_config_cache: emptyCache,
    npm_config_offline: 'true',
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_yes: 'false',
    npm_config_update_notifier: 'false',
  };
}, 60_000);

// The sandbox holds a whole npm install: removing it can take longer than a hook's default.
afterAll(async () => {
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
}, 300_000);

async function npx(commandLine: string): Promise<Run> {
  const result = await run('sh', ['-c', commandLine], { cwd: clone, env: offlineEnv });
  // A download attempt leaves a package cache behind (or fails offline); a local bin leaves none.
  expect((await readdir(emptyCache).catch(() => [])).filter((entry) => entry !== '_logs'), `${commandLine} touched the npm cache`).toEqual([]);
  expect(result.stderr, commandLine).not.toMatch(/npm (error|warn)|Need to install/i);
  return result;
}

describe('a fresh clone', () => {
  it('links `bp` at `npm ci`, runs the demo with `npm start` and every command it and the README print', async () => {
    const install = await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone, env });
    expect(install.code, install.stderr).toBe(0);

    // Before the build, `npx bp` is the local launcher: a clear BP_ code, never a registry package.
    const early = await npx('npx bp list');
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/^bp: BP_NOT_BUILT: .*npm run build/);

    const start = await run('npm', ['start'], { cwd: clone, env });
    expect(start.code, `${start.stdout}\n${start.stderr}`).toBe(0);
    const explore = exploreCommands(start.stdout);
    expect(explore).toEqual([
      'npx bp list --storage demo',
      expect.stringMatching(/^npx bp show demo:backup\/100\/qemu-\S+$/),
      'npx bp verify --storage demo',
      expect.stringMatching(/^npx bp files demo:backup\/101\/qemu-\S+ \/etc$/),
    ]);
    const volid = explore[1]?.split(' ').at(-1) ?? '';

    const readme = await readmeCommands(volid);
    expect(readme.length).toBeGreaterThanOrEqual(4);
    for (const commandLine of new Set([...explore, ...readme])) {
      const result = await npx(commandLine);
      expect(result.code, `${commandLine}\n${result.stderr}`).toBe(0);
      if (commandLine.includes(' list ')) expect(result.stdout).toContain(volid);
      if (commandLine.includes(' show ')) expect(result.stdout).toContain(`volid:      ${volid}`);
      if (commandLine.includes(' verify ')) expect(result.stdout).toContain('5 of 5 backups verified.');
      if (commandLine.includes(' files ')) expect(result.stdout).toMatch(/motd/);
      if (commandLine.endsWith(' help')) expect(result.stdout).toContain('Usage: bp <command>');
      if (commandLine.includes(' new-provider ')) expect(result.stdout).toContain('test/conformance.test.ts');
    }
  }, 900_000);
});
