import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

/** The built binary under test. */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** The outcome of one `bp` run. */
export interface BpRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A private BP_HOME (and TMPDIR, so every helper process and mount of a run lands inside it). */
export interface BpSandbox {
  home: string;
  tmp: string;
  root: string;
  env: Record<string, string>;
  run(args: string[], options?: { cwd?: string }): Promise<BpRun>;
  spawn(args: string[]): ResultPromise;
  json<T>(args: string[]): Promise<T>;
  dispose(): Promise<void>;
}

/** Creates a sandbox under os.tmpdir(); dispose it in afterEach/afterAll. */
export async function createSandbox(): Promise<BpSandbox> {
  const root = await mkdtemp(join(tmpdir(), 'bp-cli-test-'));
  // Container restores extract as the mapped root (uid 100000), which must be able to enter the sandbox.
  await chmod(root, 0o755);
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  await execa('mkdir', ['-p', home, tmp]);
  const env = { NO_COLOR: '1', BP_HOME: home, TMPDIR: tmp, CI: '1' };
  const spawn = (args: string[], cwd = root): ResultPromise =>
    execa('node', [CLI, ...args], { env, cwd, reject: false, stdin: 'ignore', timeout: 240_000 });
  const sandbox: BpSandbox = {
    home,
    tmp,
    root,
    env,
    spawn: (args) => spawn(args),
    async run(args, options = {}) {
      const result = await spawn(args, options.cwd);
      return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
    },
    async json<T>(args: string[]) {
      const result = await sandbox.run([...args, '--json']);
      if (result.exitCode !== 0) throw new Error(`bp ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
    async dispose() {
      await rm(root, { recursive: true, force: true });
    },
  };
  return sandbox;
}
