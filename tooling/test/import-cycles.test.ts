import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** Cycles among one package's modules, type-only imports included (they couple the modules too). */
function importCycles(srcDir: string): string[] {
  const files = new Set(sources(srcDir));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = [...readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)\.js'/g)].map((match) => {
      const target = resolve(dirname(file), match[1]!);
      return files.has(`${target}.ts`) ? `${target}.ts` : join(target, 'index.ts');
    });
    graph.set(file, targets.filter((target) => files.has(target)));
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, stack: string[]): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') cycles.push(stack.slice(stack.indexOf(target)).concat(target).map((path) => relative(srcDir, path)).join(' -> '));
      else if (!state.has(target)) visit(target, stack);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file, []);
  return cycles;
}

const packages = ['packages', 'apps'].flatMap((group) => readdirSync(join(root, group)).map((name) => join(group, name))).filter((dir) => {
  try {
    return statSync(join(root, dir, 'src')).isDirectory();
  } catch {
    return false;
  }
});

test.each(packages)('%s has no import cycles between its modules', (dir) => {
  expect(importCycles(join(root, dir, 'src'))).toEqual([]);
});
