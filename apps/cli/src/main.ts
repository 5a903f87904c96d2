import { BpError } from '@bp/api';
import { runCli } from './run-cli.js';

// The command itself, bundled with everything it imports into dist/bp.cjs (see src/cli.ts).
// Ctrl-C and SIGTERM abort the running operation through its AbortSignal; the command then
// cleans up (no partial backup, no child process, no mount) and exits 130.
const controller = new AbortController();
const interrupt = (signal: NodeJS.Signals): void => {
  if (controller.signal.aborted) {
    process.stderr.write('bp: still cleaning up, please wait\n');
    return;
  }
  process.stderr.write(`\nbp: ${signal} received, aborting and cleaning up\n`);
  controller.abort(new BpError('BP_ABORTED', `interrupted by ${signal}; nothing partial was kept, run the command again to retry`));
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
}).then((exitCode) => {
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
  process.exitCode = exitCode;
});
