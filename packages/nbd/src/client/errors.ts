import { BpError } from '@bp/api/errors';
import { NbdErrno } from '../protocol/index.js';

/** A protocol violation by the server: the connection cannot be trusted any more. */
export function protocolError(what: string, details: Record<string, unknown> = {}): BpError {
  return new BpError('BP_NBD_PROTOCOL', `The NBD server violated the protocol: ${what}. Check the server version or report the server bug.`, {
    details,
  });
}

/** An error the server reported for one request (`errno` as sent on the wire). */
export function ioError(command: string, errno: number, message: string | undefined, details: Record<string, unknown> = {}): BpError {
  const name = NbdErrno[errno] ?? `errno ${errno}`;
  const text = message ? `: ${message}` : '';
  return new BpError('BP_NBD_IO', `The NBD server failed ${command} with ${name}${text}. Check the server's log and the disk behind the export.`, {
    details: { ...details, errno: name, errnoValue: errno },
  });
}

/** The connection ended before a request completed. */
export function closedError(reason: string, cause?: unknown): BpError {
  return new BpError('BP_NBD_CLOSED', `The NBD connection closed: ${reason}. Check that the server is still running.`, {
    cause,
  });
}
