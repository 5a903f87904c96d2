#!/usr/bin/env node
// Regenerates the error-code table in packages/api/README.md from packages/api/src/errors/codes.ts.
// `--check` exits 1 when the README is out of date (run by the tooling tests).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const codesFile = `${root}packages/api/src/errors/codes.ts`;
const readmeFile = `${root}packages/api/README.md`;

export function renderErrorTable(source) {
  const rows = [...source.matchAll(/^\s+(BP_[A-Z0-9_]+): '((?:[^'\\]|\\.)*)',$/gm)].map(
    ([, code, text]) => `| \`${code}\` | ${text.replace(/\\'/g, "'")} |`,
  );
  return ['| code | when |', '| --- | --- |', ...rows].join('\n');
}

export function updateReadme(readme, table) {
  return readme.replace(
    /(<!-- error-codes:start[^\n]*-->\n)[\s\S]*?(<!-- error-codes:end -->)/,
    (_, start, end) => `${start}${table}\n${end}`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readFileSync(readmeFile, 'utf8');
  const next = updateReadme(readme, renderErrorTable(readFileSync(codesFile, 'utf8')));
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error('packages/api/README.md error table is stale: run node tooling/error-codes-doc.mjs');
      process.exit(1);
    }
  } else writeFileSync(readmeFile, next);
}
