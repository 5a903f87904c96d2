import { packageBuild } from '../../tooling/tsup.shared.ts';

export default packageBuild(
  { index: 'src/index.ts', qcow2: 'src/qcow2-entry.ts', qemu: 'src/qemu-entry.ts', 'nbd-cli': 'src/cli-entry.ts', cli: 'src/cli.ts' },
  ['index', 'qcow2', 'qemu', 'nbd-cli'],
);
