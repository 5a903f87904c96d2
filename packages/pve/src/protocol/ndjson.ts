import type { Socket } from 'node:net';

/**
 * Splits a socket's bytes into lines and hands each parsed JSON value to `onMessage`; a line that
 * is not JSON goes to `onGarbage`. Lines are UTF-8; a multi-byte character split across chunks is
 * kept intact because splitting happens on bytes, not on decoded text.
 */
export function readLines(socket: Socket, onMessage: (message: unknown) => void, onGarbage: (line: string) => void): void {
  let pending: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, newline));
      const line = Buffer.concat(pending).toString('utf8');
      pending = [];
      start = newline + 1;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        onGarbage(line);
        continue;
      }
      onMessage(value);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  });
}

/** Writes one message as a line. Returns false when the socket is gone. */
export function writeLine(socket: Socket, message: unknown): boolean {
  if (socket.destroyed || !socket.writable) return false;
  socket.write(`${JSON.stringify(message)}\n`);
  return true;
}
