#!/usr/bin/env node
// The `bp` command. It is committed (not generated) so that npm links it into node_modules/.bin
// on `npm ci` in a fresh clone, before anything is built: npm skips a bin whose file does not
// exist at install time, and `npx bp` would then fetch an unrelated registry package named `bp`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    `bp: BP_NOT_BUILT: ${fileURLToPath(cli)} is missing; build bp first with \`npm run build\` ` +
      '(in the repository root, or `npm start` to bootstrap, build and run the demo)\n',
  );
  process.exit(2);
}
await import(cli.href);
