export { runCli } from './run-cli.js';
export type { CliIo, TextSink } from './cli-io.js';
export { EXIT_CODES, type ExitCode } from './exit-codes.js';
export { resolvePaths, type BpPaths } from './config/paths.js';
export type { StorageFileEntry, StoragesFile } from './config/storages-file.js';
export type * from './output/json-types.js';
