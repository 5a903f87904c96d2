#!/usr/bin/env node
// Makes a fresh Debian 12 clone ready: system tools, node_modules, build. Silent when all is in place.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SYSTEM_TOOLS } from './system-tools.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = process.argv.includes('--quiet');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`bootstrap: '${command} ${args.join(' ')}' failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function ensureSystemTools() {
  const missing = SYSTEM_TOOLS.filter(([tool]) => !hasCommand(tool));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))].sort();
  const install = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`BP_MISSING_TOOLS: missing ${missing.map(([tool]) => tool).join(', ')}.`);
    console.error(`Install them as root, then run this command again:\n  apt-get update && ${install}`);
    process.exit(1);
  }
  console.log(`bootstrap: installing ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
  const still = SYSTEM_TOOLS.filter(([tool]) => !hasCommand(tool));
  if (still.length > 0) {
    console.error(`BP_MISSING_TOOLS: still missing after apt-get: ${still.map(([tool]) => tool).join(', ')}`);
    process.exit(1);
  }
}

function ensureNodeModules() {
  const lock = readFileSync(`${root}package-lock.json`);
  const digest = createHash('sha256').update(lock).digest('hex');
  const stamp = `${root}node_modules/.bp-lock-digest`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  console.log('bootstrap: npm ci');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, digest);
}

function build() {
  run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only', '--log-prefix=none'], {
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : ['ignore', 'pipe', 'inherit'],
  });
}

ensureSystemTools();
ensureNodeModules();
build();
