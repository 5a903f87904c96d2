/**
 * The bridge protocol between the generated Perl modules and the Node process: JSON-RPC 2.0
 * messages, one JSON object per line (NDJSON) on a Unix stream socket. See docs/protocol.md.
 */

/** The protocol version; both sides check it in `bp.hello` before any other call. */
export const PROTOCOL_VERSION = 3;

/** JSON-RPC error code of every failure a handler reports; the BP_* code is in `data.bpCode`. */
export const CALL_FAILED = -32000;
/** JSON-RPC error code of a `bp.hello` with an unknown protocol version or plugin type. */
export const VERSION_MISMATCH = -32001;
/** JSON-RPC error codes for malformed traffic (spec values). */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;

/** Which kind of server a connection talks to. */
export type ServerRole = 'job' | 'storage';

/** A request from Perl. */
export interface RpcRequest {
  jsonrpc: '2.0';
  id: number | string;
  method: string;
  params?: unknown;
}

/** A notification (no reply): `log` from Node, `cancel` from Perl. */
export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
}

/** The error object of a failed call. */
export interface RpcError {
  code: number;
  message: string;
  data?: { bpCode: string; details?: Record<string, unknown> };
}

/** A reply to a request. */
export type RpcResponse =
  | { jsonrpc: '2.0'; id: number | string | null; result: unknown }
  | { jsonrpc: '2.0'; id: number | string | null; error: RpcError };

/** `bp.hello` parameters. */
export interface HelloParams {
  protocol: number;
  role: ServerRole;
  /** Storage type the Perl module was generated for. */
  type: string;
  /** Perl process id (for logs). */
  pid?: number;
}

/** `bp.hello` result. */
export interface HelloResult {
  protocol: number;
  role: ServerRole;
  type: string;
  /** The Node process id (tests check that it is gone after a job). */
  pid: number;
}

/** `log` notification parameters: a provider log line while call `id` runs. */
export interface LogParams {
  id?: number | string;
  level: 'info' | 'warn' | 'err';
  message: string;
}
