// Entry of the container backup child (dist/container-child.js). It runs as the container's mapped
// root uid, builds a fresh provider from the storage plugin module and calls backupContainer.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertSpecificationVersion, BpError, type BackupProgress, type BackupStoragePlugin, type LogLevel } from '@bp/api';
import type { ContainerChildMessage, ContainerChildRequest } from './child-protocol.js';

function send(message: ContainerChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadPlugin(moduleRef: ContainerChildRequest['moduleRef']): Promise<BackupStoragePlugin> {
  const specifier = isAbsolute(moduleRef.module) ? pathToFileURL(moduleRef.module).href : moduleRef.module;
  const loaded = (await import(specifier)) as Record<string, unknown>;
  const plugin = loaded[moduleRef.exportName] as BackupStoragePlugin | undefined;
  if (!plugin || typeof plugin.open !== 'function') {
    throw new BpError('BP_INVALID_CONFIG', `module '${moduleRef.module}' has no storage plugin export '${moduleRef.exportName}'; fix the plugin's moduleRef`);
  }
  assertSpecificationVersion(plugin, `storage plugin '${plugin.type}'`);
  return plugin;
}

async function main(): Promise<void> {
  const request = JSON.parse(await readStdin()) as ContainerChildRequest;
  const plugin = await loadPlugin(request.moduleRef);
  const storage = plugin.open(request.storeId, plugin.configSchema.parse(request.config));
  const provider = storage.newBackupProvider((level: LogLevel, message: string) => send({ type: 'log', level, message }));
  assertSpecificationVersion(provider, 'backup provider');
  const onProgress = (progress: BackupProgress): void => send({ type: 'progress', progress });
  await provider.backupContainer(request.vmid, request.guestConfig, request.excludePatterns, { ...request.info, onProgress });
}

// Exit explicitly once the last line is flushed: a provider may leave handles open.
function finish(message: ContainerChildMessage, exitCode: number): void {
  process.stdout.write(`${JSON.stringify(message)}\n`, () => process.exit(exitCode));
}

main().then(
  () => finish({ type: 'done' }, 0),
  (error: unknown) => {
    const code = BpError.isInstance(error) ? error.code : 'BP_PROVIDER_FAILED';
    const message = error instanceof Error ? error.message : String(error);
    finish({ type: 'error', code, message }, 1);
  },
);
