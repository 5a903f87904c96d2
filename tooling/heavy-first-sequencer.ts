import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suites that take minutes, longest first. Started first, they run beside the many short
 * files instead of after them; vitest's own order (by project name) would start them last on a
 * fresh clone, where it has no recorded durations.
 */
const heavySuites = [
  'packages/conformance/test/zoo.test.ts',
  'packages/conformance/test/readme-example.test.ts',
  'packages/pve/test/prove.test.ts',
  'tooling/test/fresh-clone.test.ts',
  'packages/pve/test/perl-provider.test.ts',
  'apps/cli/test/incremental-trust.test.ts',
  'apps/cli/test/files.test.ts',
  'tooling/test/dev-commands.test.ts',
  'apps/cli/test/new-provider.test.ts',
];

function rank(file: TestSpecification): number {
  const index = heavySuites.findIndex((suffix) => file.moduleId.endsWith(suffix));
  return index === -1 ? heavySuites.length : index;
}

export class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return sorted.map((file, index) => ({ file, index })).sort((a, b) => rank(a.file) - rank(b.file) || a.index - b.index).map(({ file }) => file);
  }
}
