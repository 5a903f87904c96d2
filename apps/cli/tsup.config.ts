import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/tsup.shared.ts';

// dist/index.js (the library) and dist/cli.js (the launcher) as every package builds them; the
// command itself as one CommonJS file with all it imports (dist/bp.cjs, see src/cli.ts). `build`
// cleans dist first: the two builds run side by side.
export default [
  { ...packageBuild({ index: 'src/index.ts', cli: 'src/cli.ts' }), clean: false },
  defineConfig({
    entry: { bp: 'src/main.ts' },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    noExternal: [/./],
    shims: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  }),
];
