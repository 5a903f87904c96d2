/** `@bp/nbd/cli`: the `bp-nbd` command line as a function (the `bp nbd` subcommand runs it). */
export * from './cli/index.js';
