import packageJson from '../package.json' with { type: 'json' };

/** The version of this CLI (from its package.json, bundled at build time). */
export const CLI_VERSION: string = packageJson.version;
