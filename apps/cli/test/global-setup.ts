import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(packageDir, '..', '..');

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The CLI tests spawn dist/cli.js: build it (and its dependencies) when missing or older than src. */
export default async function setup(): Promise<void> {
  const cli = join(packageDir, 'dist', 'cli.js');
  let built = 0;
  try {
    built = statSync(cli).mtimeMs;
  } catch {
    built = 0;
  }
  if (built > 0 && built >= (await newestSource(join(packageDir, 'src')))) return;
  await execa('npx', ['turbo', 'run', 'build', '--filter=@bp/cli', '--output-logs=errors-only'], { cwd: repoRoot, stdio: 'inherit' });
}
