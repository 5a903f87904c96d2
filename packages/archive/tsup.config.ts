import { packageBuild } from '../../tooling/tsup.shared.ts';

export default packageBuild({ index: 'src/index.ts', testing: 'src/testing/index.ts' }, ['index', 'testing']);
