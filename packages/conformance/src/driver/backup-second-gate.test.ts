import { expect, test } from 'vitest';
import { BackupSecondGate } from './backup-second-gate.js';

/** A clock that only moves when the gate sleeps (or when a "job" takes time). */
function fakeClock(start: number) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

test('a job that ends in a later second than it started pushes the next job past that second', async () => {
  const clock = fakeClock(10_900); // second 10, late in it
  const gate = new BackupSecondGate(clock.now, clock.sleep);
  await gate.before('store/401');
  clock.advance(300); // the job runs into second 11 and names its backup 11
  gate.after('store/401');
  await gate.before('store/401');
  expect(Math.floor(clock.now() / 1000)).toBeGreaterThanOrEqual(12);
});

test('different guests do not wait for each other', async () => {
  const clock = fakeClock(5_000);
  const gate = new BackupSecondGate(clock.now, clock.sleep);
  await gate.before('store/400');
  gate.after('store/400');
  await gate.before('store/401');
  expect(clock.now()).toBe(5_000);
});
