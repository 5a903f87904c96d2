import { NbdClient } from '../client/nbd-client.js';
import type { NbdCliIo } from './io.js';
import { formatSize } from './sizes.js';

/** JSON shape of `bp-nbd info --json`. */
export interface NbdInfoJson {
  uri: string;
  exportName: string;
  size: number;
  blockSize: { minimum: number; preferred: number; maximum: number };
  capabilities: Record<string, boolean>;
  contexts: string[];
}

/** `info URI`: size, flags, block sizes and metadata contexts of an export. */
export async function infoCommand(uri: string, json: boolean, io: NbdCliIo): Promise<number> {
  const contexts = await NbdClient.listMetaContexts(uri, ['base:allocation', 'qemu:'], { signal: io.signal });
  await using client = await NbdClient.connect(uri, { signal: io.signal });
  const info: NbdInfoJson = {
    uri,
    exportName: client.exportName,
    size: client.size,
    blockSize: client.blockSize,
    capabilities: { ...client.can, structuredReplies: client.structuredReplies },
    contexts,
  };
  if (json) {
    io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `export="${info.exportName}":`,
    `\texport-size: ${info.size} (${formatSize(info.size)})`,
    `\turi: ${uri}`,
    '\tcontexts:',
    ...contexts.map((context) => `\t\t${context}`),
    ...Object.entries(info.capabilities).map(([name, value]) => `\t${name}: ${value}`),
    `\tblock_size_minimum: ${info.blockSize.minimum}`,
    `\tblock_size_preferred: ${info.blockSize.preferred}`,
    `\tblock_size_maximum: ${info.blockSize.maximum}`,
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
