import { defineConfig } from 'tsup';

export default defineConfig({
  // container-child: the entry `backupContainer` runs in as the container's mapped root.
  entry: { index: 'src/index.ts', 'container-child': 'src/container/child.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
