#!/usr/bin/env node
// Makes a fresh Debian 12 clone ready: system tools, node_modules, build. Silent when all is in place.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PERL_MODULES, SYSTEM_TOOLS } from './system-tools.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = !process.argv.includes('--verbose');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.status !== 0) {
    if (result.stdout) process.stderr.write(result.stdout);
    console.error(`bootstrap: '${command} ${args.join(' ')}' failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function hasPerlModule(name) {
  return spawnSync('perl', [`-M${name}`, '-e', '1'], { stdio: 'ignore' }).status === 0;
}

// Commands and Perl modules alike: [name, Debian package] pairs that are not available.
function missingTools() {
  return [...SYSTEM_TOOLS.filter(([tool]) => !hasCommand(tool)), ...PERL_MODULES.filter(([module]) => !hasPerlModule(module))];
}

function ensureSystemTools() {
  const missing = missingTools();
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
  const still = missingTools();
  if (still.length > 0) {
    console.error(`BP_MISSING_TOOLS: still missing after apt-get: ${still.map(([tool]) => tool).join(', ')}`);
    process.exit(1);
  }
}

// Stale = the hidden lockfile npm keeps in node_modules disagrees with package-lock.json about any
// installed package (name, version, resolved link). Cheaper and safer than re-running npm ci blindly.
function installedMatchesLock() {
  const hidden = `${root}node_modules/.package-lock.json`;
  if (!existsSync(hidden)) return false;
  const wanted = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')).packages ?? {};
  const installed = JSON.parse(readFileSync(hidden, 'utf8')).packages ?? {};
  for (const [path, entry] of Object.entries(wanted)) {
    if (!path.startsWith('node_modules/') || entry.optional || entry.dev === undefined && entry.peer) continue;
    const have = installed[path];
    if (!have || have.version !== entry.version || have.link !== entry.link) return false;
  }
  return true;
}

function ensureNodeModules() {
  if (installedMatchesLock()) return;
  console.log('bootstrap: npm ci');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function build() {
  // Quiet by design: turbo's cache makes a no-change build a no-op; errors still reach stderr.
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', NPM_CONFIG_UPDATE_NOTIFIER: 'false' };
  run(`${root}node_modules/.bin/turbo`, ['run', 'build', '--output-logs=errors-only', '--log-prefix=none'], {
    env,
    stdio: quiet ? ['ignore', 'pipe', 'inherit'] : 'inherit',
  });
}

ensureSystemTools();
ensureNodeModules();
build();
