import { packageBuild } from '../../tooling/tsup.shared.ts';

export default packageBuild({ index: 'src/index.ts', errors: 'src/errors/index.ts', testing: 'src/testing/index.ts', 'rate-limit': 'src/rate-limit/index.ts', sizes: 'src/sizes/index.ts' }, ['index', 'errors', 'testing', 'rate-limit', 'sizes']);
