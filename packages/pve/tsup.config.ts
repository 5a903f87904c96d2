import { packageBuild } from '../../tooling/tsup.shared.ts';

// server: the Node process the generated Perl modules start (job and storage mode).
export default packageBuild({ index: 'src/index.ts', server: 'src/server/main.ts' });
