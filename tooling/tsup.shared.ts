import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ESM for Node 20 with source maps; declarations for the
 * entries named in `typed` (the public ones), plain JS for the rest (binaries, child entries).
 */
export function packageBuild(entry: Record<string, string>, typed: readonly string[] = ['index']): Options | Options[] {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: { entry: Object.fromEntries(typed.map((name) => [name, entry[name]!])) },
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  }) as Options | Options[];
}
