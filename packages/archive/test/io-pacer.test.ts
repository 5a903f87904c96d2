import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startIoPacer } from '../src/squashfs/io-pacer.js';
import { temporaryDirectory } from './helpers.js';

let work: { path: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  work = await temporaryDirectory('pacer');
});

afterEach(async () => {
  await work.cleanup();
});

const stateOf = async (pid: number): Promise<string | undefined> => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
};

async function waitFor(condition: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; attempt < 3000; attempt++) {
    if (await condition()) return true;
    await sleep(10);
  }
  return false;
}

describe('startIoPacer (the squashfs bandwidth limit)', () => {
  it('pauses a reader that runs ahead of the limit and leaves it running when stopped', async () => {
    // An endless reader: far faster than 1 MiB/s, so the pacer must stop it.
    const reader = execa('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=64k'], { reject: false });
    const pacer = startIoPacer(reader.pid!, 1024 * 1024);
    try {
      expect(await waitFor(async () => (await stateOf(reader.pid!)) === 'T')).toBe(true);
    } finally {
      await pacer.stop();
    }
    expect(await stateOf(reader.pid!)).not.toBe('T');
    reader.kill();
    await reader;
  });

  it('only samples the read counter without a limit', async () => {
    const file = join(work.path, 'input');
    await writeFile(file, Buffer.alloc(8 * 1024 * 1024, 1));
    const reader = execa('sh', ['-c', `cat "$0" > /dev/null; sleep 0.5`, file]);
    const samples: number[] = [];
    const pacer = startIoPacer(reader.pid!, undefined, (bytes) => samples.push(bytes));
    await reader;
    await pacer.stop();
    expect(samples.length).toBeGreaterThan(0);
  });
});
