export { createFixtureTree, FIXTURE_MTIME, type FixtureTree, type FixtureTreeOptions } from './fixture-tree.js';
export { compareTrees, compareSnapshots, type CompareTreesOptions, type TreeAspect, type TreeComparison } from './compare-trees.js';
export { snapshotTree, type EntrySnapshot, type TreeSnapshot } from './snapshot-tree.js';
