import { BpError } from '@bp/api/errors';

/** Where an NBD server listens. */
export type NbdEndpoint = { transport: 'unix'; socketPath: string } | { transport: 'tcp'; host: string; port: number };

/** An endpoint plus the export to open there. */
export interface NbdAddress {
  endpoint: NbdEndpoint;
  exportName: string;
}

/** The IANA port of NBD. */
export const NBD_DEFAULT_PORT = 10809;

function invalid(uri: string, why: string): BpError {
  return new BpError('BP_INVALID_ARGUMENT', `Invalid NBD URI "${uri}": ${why}. Use nbd+unix:///EXPORT?socket=PATH or nbd://HOST[:PORT]/EXPORT.`, {
    details: { uri },
  });
}

/**
 * Parses an NBD URI as libnbd spells it (`nbd+unix:///export?socket=/path`, `nbd://host:port/export`)
 * or as QEMU does (`nbd:unix:/path[:exportname=NAME]`, `nbd:host:port[:exportname=NAME]`).
 * TLS schemes (`nbds`, `nbds+unix`) are rejected: bp does not negotiate TLS.
 */
export function parseNbdUri(uri: string): NbdAddress {
  if (uri.startsWith('nbd:') && !uri.startsWith('nbd://')) return parseQemuStyle(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(uri, 'not a URI');
  }
  const exportName = decodeURIComponent(url.pathname.replace(/^\//, ''));
  switch (url.protocol) {
    case 'nbd+unix:': {
      const socketPath = url.searchParams.get('socket');
      if (url.host !== '') throw invalid(uri, 'a Unix-socket URI has no host');
      if (!socketPath) throw invalid(uri, 'the socket=PATH parameter is missing');
      return { endpoint: { transport: 'unix', socketPath }, exportName };
    }
    case 'nbd:': {
      if (url.hostname === '') throw invalid(uri, 'the host is missing');
      const port = url.port === '' ? NBD_DEFAULT_PORT : Number(url.port);
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      return { endpoint: { transport: 'tcp', host, port }, exportName };
    }
    case 'nbds:':
    case 'nbds+unix:':
      throw new BpError('BP_NBD_UNSUPPORTED', `NBD over TLS is not supported ("${uri}"); use a Unix socket or plain TCP.`);
    default:
      throw invalid(uri, `unknown scheme "${url.protocol}"`);
  }
}

function parseQemuStyle(uri: string): NbdAddress {
  const match = /^(.*?)(?::exportname=(.*))?$/.exec(uri.slice('nbd:'.length));
  const where = match?.[1] ?? '';
  const exportName = match?.[2] ?? '';
  if (where.startsWith('unix:')) {
    const socketPath = where.slice('unix:'.length);
    if (!socketPath) throw invalid(uri, 'the socket path is missing');
    return { endpoint: { transport: 'unix', socketPath }, exportName };
  }
  const hostPort = /^(.+):(\d+)$/.exec(where);
  if (!hostPort?.[1] || !hostPort[2]) throw invalid(uri, 'expected nbd:unix:PATH or nbd:HOST:PORT');
  return { endpoint: { transport: 'tcp', host: hostPort[1], port: Number(hostPort[2]) }, exportName };
}

/** Formats an address as a libnbd URI. */
export function formatNbdUri(address: NbdAddress): string {
  const name = encodeURIComponent(address.exportName);
  if (address.endpoint.transport === 'unix') {
    return `nbd+unix:///${name}?socket=${encodeURIComponent(address.endpoint.socketPath)}`;
  }
  const host = address.endpoint.host.includes(':') ? `[${address.endpoint.host}]` : address.endpoint.host;
  return `nbd://${host}:${address.endpoint.port}/${name}`;
}
