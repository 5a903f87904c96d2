import { packageBuild } from '../../tooling/tsup.shared.ts';

// container-child: the entry `backupContainer` runs in as the container's mapped root.
export default packageBuild({ index: 'src/index.ts', 'container-child': 'src/container/child.ts' });
