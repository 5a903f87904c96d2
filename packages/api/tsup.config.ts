import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', errors: 'src/errors/index.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts', errors: 'src/errors/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
