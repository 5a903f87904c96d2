import { defineConfig } from 'vitest/config';
import { workspaceAliases } from './tooling/vitest.shared.ts';

/**
 * `npm run test:unit`: the tests that need no root, no QEMU or other system tools and no build,
 * in seconds. A unit test is a `*.test.ts` next to the code under a package's `src/`, any
 * `*.unit.test.ts`, or any test of @bp/api (the contract is pure by design). Tests under `test/`
 * may use the real tools; `npm test` runs everything. `tooling/test/unit-suite.test.ts` keeps the
 * unit tests free of child processes.
 */
export const UNIT_INCLUDE = ['packages/api/{src,test}/**/*.test.ts', '{packages,apps}/*/src/**/*.test.ts', '{packages,apps,tooling}/**/*.unit.test.ts'];

/** Tests the include picks that start processes (QEMU, qemu-nbd, tools) or read a build: `npm test` only. */
export const UNIT_EXCLUDE = [
  'packages/api/src/errors/errors-entry.test.ts',
  'packages/api/test/tool-error.test.ts',
  'packages/nbd/src/qcow2/qcow2-target.test.ts',
  'packages/nbd/src/qemu/qemu-nbd.test.ts',
  'packages/nbd/src/qemu/qmp-process.test.ts',
  'packages/nbd/src/slots/nbd-slot.test.ts',
];

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    name: 'unit',
    include: UNIT_INCLUDE,
    exclude: ['**/node_modules/**', '**/dist/**', ...UNIT_EXCLUDE],
    testTimeout: 20_000,
  },
});
