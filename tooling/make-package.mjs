// One-off generator kept for adding packages with the same shape later.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
const [dir, name, description, deps = '', bin = ''] = process.argv.slice(2);
const dependencies = Object.fromEntries(deps.split(',').filter(Boolean).map((d) => {
  const [n, v] = d.split('=');
  return [n, v ?? '*'];
}));
const pkg = {
  name, version: '0.1.0', description, license: 'MIT', type: 'module', sideEffects: false,
  engines: { node: '>=20.19.0' },
  exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' },
  main: './dist/index.js', types: './dist/index.d.ts',
  ...(bin ? { bin: { [bin]: './dist/cli.js' } } : {}),
  files: ['dist', 'README.md'],
  scripts: {
    build: 'tsup', test: 'vitest run', typecheck: 'tsc --noEmit', lint: 'publint --strict',
  },
  dependencies,
};
mkdirSync(`${dir}/src`, { recursive: true });
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: '../../tooling/tsconfig.base.json', include: ['src', 'test', '*.ts'] }, null, 2) + '\n');
const entries = bin ? `{ index: 'src/index.ts', cli: 'src/cli.ts' }` : `{ index: 'src/index.ts' }`;
writeFileSync(`${dir}/tsup.config.ts`, `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ${entries},
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
`);
writeFileSync(`${dir}/vitest.config.ts`, `import { packageConfig } from '../../tooling/vitest.shared.ts';

export default packageConfig('${name}');
`);
if (!existsSync(`${dir}/src/index.ts`)) writeFileSync(`${dir}/src/index.ts`, `export {};\n`);
