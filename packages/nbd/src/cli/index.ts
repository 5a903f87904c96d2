export { NBD_CLI_HELP, runNbdCli } from './run-nbd-cli.js';
export type { NbdCliIo } from './io.js';
export type { NbdInfoJson } from './info-command.js';
export type { NbdMapEntry } from './map-command.js';
