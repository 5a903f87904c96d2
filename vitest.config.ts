import { defineConfig } from 'vitest/config';
import { HeavyFirstSequencer } from './tooling/heavy-first-sequencer.ts';

export default defineConfig({
  test: {
    // Most suites wait on child processes (QEMU, qemu-img, tar, FUSE) rather than compute, so three
    // files at a time keep two cores busy; vitest's default on two cores is one file at a time.
    maxWorkers: 3,
    sequence: { sequencer: HeavyFirstSequencer },
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tooling/vitest.config.ts'],
  },
});
