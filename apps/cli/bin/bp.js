#!/usr/bin/env node
// The `bp` command. It is committed (not generated) so that npm links it into node_modules/.bin
// on `npm ci` in a fresh clone, before anything is built: npm skips a bin whose file does not
// exist at install time, and `npx bp` would then fetch an unrelated registry package named `bp`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// dist/bp.cjs is bp in one file (see src/cli.ts); dist/cli.js is the same entry for `node dist/cli.js`.
const cli = new URL('../dist/bp.cjs', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    `bp: BP_NOT_BUILT: ${fileURLToPath(cli)} is missing; build bp first with \`npm run build\` ` +
      '(in the repository root, or `npm start` to bootstrap, build and run the demo)\n',
  );
  process.exit(2);
}
createRequire(import.meta.url)(fileURLToPath(cli));
