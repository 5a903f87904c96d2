// Entry of the bridge's Node process (dist/server.js), started by the generated Perl modules:
//   server.js --mode job --fd 3 --module <spec> --export <name>
//   server.js --mode storage --socket <path> --idle-seconds N --module <spec> --export <name>
import { parseArgs } from 'node:util';
import { BpError } from '@bp/api';
import { runJobServer } from './job-server.js';
import { loadPlugin } from './load-plugin.js';
import { runStorageServer } from './storage-server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      fd: { type: 'string' },
      socket: { type: 'string' },
      'idle-seconds': { type: 'string', default: '300' },
      module: { type: 'string' },
      export: { type: 'string' },
    },
    strict: true,
  });
  if (!values.module || !values.export) throw new BpError('BP_INVALID_ARGUMENT', 'server.js needs --module and --export');
  const plugin = await loadPlugin({ module: values.module, exportName: values.export });
  if (values.mode === 'job') return runJobServer(plugin, Number(values.fd ?? 3));
  if (values.mode === 'storage' && values.socket) return runStorageServer(plugin, values.socket, Number(values['idle-seconds']));
  throw new BpError('BP_INVALID_ARGUMENT', 'server.js needs --mode job --fd N or --mode storage --socket PATH');
}

main().catch((error: unknown) => {
  const code = BpError.isInstance(error) ? error.code : 'BP_PROVIDER_FAILED';
  process.stderr.write(`${code}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
