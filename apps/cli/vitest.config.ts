import { packageConfig } from '../../tooling/vitest.shared.ts';

export default packageConfig('@bp/cli', { globalSetup: ['test/global-setup.ts'] });
