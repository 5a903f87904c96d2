import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { identify, isRunning, stopProcess } from '../src/qemu/process-identity.js';

describe('process identity', () => {
  it('takes an exited process that nobody reaped yet (a zombie) as stopped', async () => {
    // `sleep 0.1` is a child of a process that then execs `sleep 30`, which never reaps it: once it
    // exits it stays a zombie, as a detached daemon does until init gets round to reaping it.
    const parent = execa('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { buffer: false });
    try {
      const zombie = await new Promise<number>((resolve) => parent.stdout!.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim()))));
      await sleep(400);
      expect(() => process.kill(zombie, 0)).not.toThrow(); // the pid still exists...
      const identity = await identify(zombie);
      expect(await isRunning(identity)).toBe(false); // ...but nothing runs
      await stopProcess({ pid: zombie, startTime: identity.startTime }, 60_000); // returns at once, sends nothing
    } finally {
      parent.kill('SIGKILL');
      await parent.catch(() => undefined);
    }
  });

  it('stops a running process and never a process that reused its pid', async () => {
    const child = execa('sleep', ['30']);
    const ended = child.catch((error: unknown) => error as { signal?: string });
    const identity = await identify(child.pid!);
    expect(await isRunning(identity)).toBe(true);
    expect(await isRunning({ pid: child.pid!, startTime: '1' })).toBe(false);
    await stopProcess({ pid: child.pid!, startTime: '1' }); // another start time: left alone
    expect(await isRunning(identity)).toBe(true);
    await stopProcess(identity);
    expect(await ended).toMatchObject({ signal: 'SIGTERM' });
  });
});
