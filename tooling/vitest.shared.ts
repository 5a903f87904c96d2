import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Workspace packages resolve to their sources in tests, so tests never depend on a stale build.
 * Subpath entries come before their package: the first matching key wins.
 */
export const workspaceAliases: Record<string, string> = {
  '@bp/api/errors': `${root}packages/api/src/errors/index.ts`,
  '@bp/api/testing': `${root}packages/api/src/testing/index.ts`,
  '@bp/api/sizes': `${root}packages/api/src/sizes/index.ts`,
  '@bp/api/rate-limit': `${root}packages/api/src/rate-limit/index.ts`,
  '@bp/api': `${root}packages/api/src/index.ts`,
  '@bp/nbd/qcow2': `${root}packages/nbd/src/qcow2-entry.ts`,
  '@bp/nbd/qemu': `${root}packages/nbd/src/qemu-entry.ts`,
  '@bp/nbd/cli': `${root}packages/nbd/src/cli-entry.ts`,
  '@bp/nbd': `${root}packages/nbd/src/index.ts`,
  '@bp/archive/testing': `${root}packages/archive/src/testing/index.ts`,
  '@bp/archive': `${root}packages/archive/src/index.ts`,
  '@bp/host': `${root}packages/host/src/index.ts`,
  '@bp/dir-example': `${root}packages/dir-example/src/index.ts`,
  '@bp/conformance': `${root}packages/conformance/src/index.ts`,
  '@bp/pve': `${root}packages/pve/src/index.ts`,
};

/** The vitest configuration every package starts from. */
export function packageConfig(name: string, overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineConfig({
    resolve: { alias: workspaceAliases },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      ...overrides,
    },
  });
}
