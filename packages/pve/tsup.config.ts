import { packageBuild } from '../../tooling/tsup.shared.ts';

// server: the Node process the generated Perl modules start (job and storage mode).
// perl-provider-ref: the moduleRef of Perl provider plugins (the container backup child imports it).
export default packageBuild({ index: 'src/index.ts', server: 'src/server/main.ts', 'perl-provider-ref': 'src/perl-provider/ref.ts' });
