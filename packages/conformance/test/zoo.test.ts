// The zoo: the kit must fail every deliberately broken variant of the reference provider, in
// every run, naming the broken behaviour. Each class runs only the scenario that targets it, with
// fresh seeds on every run; BP_ZOO_ROUNDS=N repeats the whole zoo N times in one run (default 1)
// to show that no catch depends on luck.
import { describe, expect, test } from 'vitest';
import { dirExamplePlugin } from '@bp/dir-example';
import { runScenario, scenarioById } from '../src/index.js';
import { zooFactory } from './support/dir-factory.js';
import { zoo } from './support/zoo.js';

const rounds = Number(process.env.BP_ZOO_ROUNDS ?? 1);

test('the zoo has at least 30 distinct bug classes across every category', () => {
  expect(new Set(zoo.map((bug) => bug.name)).size).toBe(zoo.length);
  expect(zoo.length).toBeGreaterThanOrEqual(30);
  expect(new Set(zoo.map((bug) => bug.category)).size).toBe(6);
});

for (let round = 1; round <= rounds; round++) {
  describe(`zoo round ${round}: the kit fails each broken provider, naming the broken behaviour`, () => {
    for (const bug of zoo) {
      test(`${bug.category}: ${bug.behaviour} [${bug.name}]`, async () => {
        const supports = bug.name === 'undeclared-notes-supported' ? { ...dirExamplePlugin.supports, notes: false } : dirExamplePlugin.supports;
        await expect(runScenario(scenarioById(bug.scenario), { expect, factory: zooFactory(bug.name), supports, variant: bug.variant })).rejects.toThrow(bug.message);
      });
    }
  });
}
