import { Option } from '../protocol/index.js';
import type { NbdAddress } from '../uri.js';
import { protocolError } from './errors.js';
import { Handshake, type NbdExportInfo, type NbdExportListing, type NegotiatedExport } from './handshake.js';
import { HandshakeReader } from './handshake-reader.js';
import { openSocket, type OpenSocket } from './socket.js';

/** Timeouts and cancellation of one handshake. */
export interface HandshakeLimits {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Runs `body` on a fresh handshake; the socket is destroyed unless `body` keeps it (returns keep: true). */
async function withHandshake<T>(
  address: NbdAddress,
  limits: HandshakeLimits,
  body: (handshake: Handshake, opened: OpenSocket, reader: HandshakeReader) => Promise<{ value: T; keep: boolean }>,
): Promise<T> {
  const opened = await openSocket(address.endpoint, limits.timeoutMs, limits.signal);
  const { socket } = opened;
  const reader = new HandshakeReader(socket, opened.sink, limits.timeoutMs);
  const onAbort = (): void => void socket.destroy();
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  let keep = false;
  try {
    const handshake = new Handshake(socket, reader);
    await handshake.start();
    const result = await body(handshake, opened, reader);
    keep = result.keep;
    return result.value;
  } finally {
    limits.signal?.removeEventListener('abort', onAbort);
    if (!keep) {
      reader.detach();
      socket.destroy();
    }
  }
}

/** Negotiates an export for transmission; the caller owns the returned socket. */
export function negotiateExport(
  address: NbdAddress,
  metaContexts: readonly string[],
  limits: HandshakeLimits,
): Promise<{ opened: OpenSocket; reader: HandshakeReader; negotiated: NegotiatedExport }> {
  return withHandshake(address, limits, async (handshake, opened, reader) => {
    const structuredReplies = await handshake.structuredReplies();
    const contexts = new Map<number, string>();
    if (structuredReplies && metaContexts.length > 0) {
      for (const { id, name } of await handshake.metaContexts(Option.SET_META_CONTEXT, address.exportName, [...metaContexts])) {
        if (contexts.has(id)) throw protocolError(`metadata context id ${id} assigned twice`);
        contexts.set(id, name);
      }
    }
    const exported = await handshake.go(address.exportName);
    limits.signal?.throwIfAborted();
    return { value: { opened, reader, negotiated: { ...exported, structuredReplies, contexts } }, keep: true };
  });
}

/** Lists the exports of a server (NBD_OPT_LIST). */
export function listExports(address: NbdAddress, limits: HandshakeLimits): Promise<NbdExportListing[]> {
  return withHandshake(address, limits, async (handshake) => {
    const value = await handshake.list();
    handshake.abort();
    return { value, keep: false };
  });
}

/** Lists the metadata contexts an export offers for `queries` (all of them when empty). */
export function listMetaContexts(address: NbdAddress, queries: readonly string[], limits: HandshakeLimits): Promise<string[]> {
  return withHandshake(address, limits, async (handshake) => {
    if (!(await handshake.structuredReplies())) return { value: [], keep: false };
    const contexts = await handshake.metaContexts(Option.LIST_META_CONTEXT, address.exportName, [...queries]);
    handshake.abort();
    return { value: contexts.map((context) => context.name), keep: false };
  });
}

/** Queries an export with NBD_OPT_INFO (size, flags, block sizes) without opening it. */
export function exportInfo(address: NbdAddress, limits: HandshakeLimits): Promise<NbdExportInfo> {
  return withHandshake(address, limits, async (handshake) => {
    const value = await handshake.go(address.exportName, true);
    handshake.abort();
    return { value, keep: false };
  });
}
