import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandHelp, groupHelp, mainHelp } from '../src/args/help-text.js';
import { COMMANDS } from '../src/commands/index.js';
import { runCli } from '../src/run-cli.js';

// Every `$ bp ...` line of every help text (and the `bp-nbd ...` lines `bp nbd --help` prints) is
// run in-process against a private BP_HOME and must not be rejected: exit 2 is a usage or
// configuration error (BP_INVALID_ARGUMENT, BP_INVALID_VOLUME_ID, BP_INVALID_CONFIG, ...). Other
// failures are fine: the backups, images and sockets the examples name do not exist here.

/** Words of a shell command line: whitespace-separated, with '...' and "..." quoting (no escapes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of line) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + char;
  }
  if (quote !== undefined) throw new Error(`unbalanced ${quote} in ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

function examplesIn(text: string, prefix: RegExp): string[] {
  return text.split('\n').flatMap((line) => {
    const match = prefix.exec(line);
    return match ? [line.slice(match[0].length)] : [];
  });
}

interface Outcome {
  exitCode: number;
  output: string;
}

let sandbox: string;
let previousTmp: string | undefined;
let counter = 0;

async function bp(argv: string[], options: { home?: string; abort?: boolean } = {}): Promise<Outcome & { home: string }> {
  counter += 1;
  const home = options.home ?? join(sandbox, `home-${counter}`);
  const cwd = join(sandbox, `cwd-${counter}`);
  await mkdir(cwd, { recursive: true });
  const controller = new AbortController();
  if (options.abort) controller.abort(new Error('aborted by the test'));
  let output = '';
  const sink = { write: (text: string) => (output += text) };
  const exitCode = await runCli(argv, { stdout: sink, stderr: sink, env: { BP_HOME: home, BP_PVE_PERL_DIR: join(sandbox, 'perl5'), NO_COLOR: '1', CI: '1' }, cwd, signal: controller.signal });
  return { exitCode, output, home };
}

/** Runs one example in a fresh BP_HOME that has the storages the examples name (except the one `storage add` creates). */
async function runExample(example: string): Promise<Outcome> {
  const words = shellWords(example);
  expect(words[0], example).toBe('bp');
  // What an example writes under /tmp (pve package, pve install --perl-dir) goes to this test's own
  // directory: test/pve.test.ts runs the same examples as printed, at the same time.
  const argv = words.slice(1).map((word) => (word === '/tmp' || word.startsWith('/tmp/') ? join(sandbox, 'tmp', word.slice('/tmp'.length)) : word));
  const fixture = await bp(['storage', 'add', 'nas', '--path', join(sandbox, `nas-${counter}`)]);
  expect(fixture.exitCode, fixture.output).toBe(0);
  const home = argv[0] === 'storage' && argv[1] === 'add' ? undefined : fixture.home;
  // The demo's examples stop at their first long step: what matters is that the line is accepted.
  return bp(argv, { ...(home ? { home } : {}), abort: argv[0] === 'demo' });
}

const groups = [...new Set(COMMANDS.filter((command) => command.name.includes(' ')).map((command) => command.name.split(' ')[0] ?? ''))];
const helpTexts = [mainHelp(COMMANDS), ...COMMANDS.map((command) => commandHelp(command)), ...groups.map((group) => groupHelp(group, COMMANDS))];
const examples = [...new Set(helpTexts.flatMap((text) => examplesIn(text, /^ {2}\$ /)))];

beforeAll(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'bp-help-examples-'));
  previousTmp = process.env.TMPDIR;
  process.env.TMPDIR = join(sandbox, 'tmp');
  await mkdir(process.env.TMPDIR);
});
afterAll(async () => {
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

describe('help examples', () => {
  it('are found in the main help and in every command help', () => {
    expect(examples.length).toBeGreaterThanOrEqual(COMMANDS.length);
    for (const command of COMMANDS) expect(commandHelp(command), command.name).toContain('\nExamples\n');
  });

  it('split like a shell splits them', () => {
    expect(shellWords(`bp notes x "before upgrade" --exclude '/var/cache/**' a"b c"`)).toEqual(['bp', 'notes', 'x', 'before upgrade', '--exclude', '/var/cache/**', 'ab c']);
  });

  it.each(examples)('%s is accepted', async (example) => {
    const outcome = await runExample(example);
    expect(outcome.exitCode, outcome.output).not.toBe(2);
    expect(outcome.output).not.toMatch(/BP_INVALID_/);
  });

  it('bp-nbd examples shown by `bp nbd --help` are accepted as `bp nbd ...`', async () => {
    const help = await bp(['nbd', '--help']);
    expect(help.exitCode).toBe(0);
    const nbdExamples = examplesIn(help.output, /^ {2}bp-nbd /);
    expect(nbdExamples.length).toBeGreaterThan(0);
    for (const example of nbdExamples) {
      const outcome = await runExample(`bp nbd ${example}`);
      expect(outcome.exitCode, `${example}\n${outcome.output}`).not.toBe(2);
    }
  });

  it('a volume ID in the form the storage rejects is caught (the check is not vacuous)', async () => {
    const outcome = await runExample('bp show local:backup/qemu-100-2026-11-26T20:00:00Z');
    expect(outcome.exitCode).toBe(2);
    expect(outcome.output).toContain('BP_INVALID_VOLUME_ID');
  });
});
