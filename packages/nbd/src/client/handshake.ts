import type net from 'node:net';
import { BpError } from '@bp/api/errors';
import {
  DEFAULT_MAX_PAYLOAD,
  HandshakeFlag,
  IHAVEOPT,
  InfoType,
  NBD_MAGIC,
  OLDSTYLE_MAGIC,
  Option,
  OPTION_ERROR_UNKNOWN_EXPORT,
  OPTION_ERROR_UNSUPPORTED,
  OPTION_REPLY_ERROR_BIT,
  OPTION_REPLY_MAGIC,
  OptionError,
  OptionReply,
  encodeString32,
  readU64,
} from '../protocol/index.js';
import { protocolError } from './errors.js';
import type { HandshakeReader } from './handshake-reader.js';

/** Largest option reply accepted; real replies are a few KiB at most. */
const MAX_OPTION_REPLY = 1024 * 1024;

/** Block-size constraints of an export. */
export interface BlockSize {
  minimum: number;
  preferred: number;
  maximum: number;
}

/** What the GO (or EXPORT_NAME) phase established. */
export interface NegotiatedExport {
  exportName: string;
  size: number;
  /** Raw transmission flags. */
  flags: number;
  blockSize: BlockSize;
  structuredReplies: boolean;
  /** Negotiated metadata contexts, by the id the server assigned. */
  contexts: Map<number, string>;
}

/** What NBD_OPT_INFO / NBD_OPT_GO report about an export. */
export type NbdExportInfo = Omit<NegotiatedExport, 'structuredReplies' | 'contexts'>;

/** One export as listed by NBD_OPT_LIST. */
export interface NbdExportListing {
  name: string;
  description: string;
}

interface OptionReplyFrame {
  type: number;
  data: Buffer;
}

/** Client side of the fixed-newstyle handshake on an open socket. */
export class Handshake {
  private noZeroes = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly reader: HandshakeReader,
  ) {}

  /** Reads the greeting and sends the client flags. */
  async start(): Promise<void> {
    const greeting = await this.reader.read(16);
    if (greeting.readBigUInt64BE(0) !== NBD_MAGIC) throw protocolError('bad greeting magic (not an NBD server?)');
    const second = greeting.readBigUInt64BE(8);
    if (second === OLDSTYLE_MAGIC) {
      throw new BpError('BP_NBD_UNSUPPORTED', 'The NBD server speaks only the oldstyle handshake; use a newstyle server (qemu-nbd, nbdkit, nbd-server >= 3.10).');
    }
    if (second !== IHAVEOPT) throw protocolError('bad newstyle magic');
    const flags = (await this.reader.read(2)).readUInt16BE(0);
    if ((flags & HandshakeFlag.FIXED_NEWSTYLE) === 0) {
      throw new BpError('BP_NBD_UNSUPPORTED', 'The NBD server does not support the fixed-newstyle handshake.');
    }
    this.noZeroes = (flags & HandshakeFlag.NO_ZEROES) !== 0;
    const clientFlags = Buffer.alloc(4);
    clientFlags.writeUInt32BE(HandshakeFlag.FIXED_NEWSTYLE | (this.noZeroes ? HandshakeFlag.NO_ZEROES : 0), 0);
    this.socket.write(clientFlags);
  }

  /** Asks for structured replies; false when the server declines. */
  async structuredReplies(): Promise<boolean> {
    this.sendOption(Option.STRUCTURED_REPLY, Buffer.alloc(0));
    const reply = await this.readReply(Option.STRUCTURED_REPLY);
    if (reply.type === OptionReply.ACK) return true;
    if (reply.type & OPTION_REPLY_ERROR_BIT) return false;
    throw protocolError(`unexpected reply type ${reply.type} to STRUCTURED_REPLY`);
  }

  /** SET_META_CONTEXT or LIST_META_CONTEXT; returns the contexts in reply order (ids are meaningless for LIST). */
  async metaContexts(
    option: typeof Option.SET_META_CONTEXT | typeof Option.LIST_META_CONTEXT,
    exportName: string,
    queries: string[],
  ): Promise<Array<{ id: number; name: string }>> {
    const parts = [encodeString32(exportName), Buffer.alloc(4)];
    parts[1]!.writeUInt32BE(queries.length, 0);
    for (const query of queries) parts.push(encodeString32(query));
    this.sendOption(option, Buffer.concat(parts));
    const contexts: Array<{ id: number; name: string }> = [];
    for (;;) {
      const reply = await this.readReply(option);
      if (reply.type === OptionReply.ACK) return contexts;
      if (reply.type === OptionReply.META_CONTEXT) {
        if (reply.data.length < 4) throw protocolError('short META_CONTEXT reply');
        contexts.push({ id: reply.data.readUInt32BE(0), name: reply.data.subarray(4).toString('utf8') });
        continue;
      }
      this.throwOptionError('negotiating metadata contexts', reply);
    }
  }

  /** NBD_OPT_GO (or NBD_OPT_INFO with `infoOnly`); falls back to EXPORT_NAME on servers without GO. */
  async go(exportName: string, infoOnly = false): Promise<NbdExportInfo> {
    const option = infoOnly ? Option.INFO : Option.GO;
    const request = Buffer.concat([encodeString32(exportName), Buffer.from([0, 1, 0, InfoType.BLOCK_SIZE])]);
    this.sendOption(option, request);
    let size: number | undefined;
    let flags = 0;
    let blockSize: BlockSize = { minimum: 1, preferred: 4096, maximum: DEFAULT_MAX_PAYLOAD };
    for (;;) {
      const reply = await this.readReply(option);
      if (reply.type === OptionReply.INFO) {
        if (reply.data.length < 2) throw protocolError('short INFO reply');
        const infoType = reply.data.readUInt16BE(0);
        if (infoType === InfoType.EXPORT) {
          if (reply.data.length !== 12) throw protocolError('INFO_EXPORT of wrong length');
          size = readU64(reply.data, 2);
          flags = reply.data.readUInt16BE(10);
        } else if (infoType === InfoType.BLOCK_SIZE) {
          if (reply.data.length !== 14) throw protocolError('INFO_BLOCK_SIZE of wrong length');
          blockSize = { minimum: reply.data.readUInt32BE(2), preferred: reply.data.readUInt32BE(6), maximum: reply.data.readUInt32BE(10) };
          if (blockSize.minimum < 1 || blockSize.maximum < blockSize.minimum) throw protocolError('inconsistent block sizes');
        }
        continue;
      }
      if (reply.type === OptionReply.ACK) {
        if (size === undefined) throw protocolError('GO acknowledged without INFO_EXPORT');
        return { exportName, size, flags, blockSize };
      }
      if (reply.type === OPTION_ERROR_UNSUPPORTED && !infoOnly) return this.exportNameFallback(exportName);
      this.throwOptionError(`opening export "${exportName}"`, reply);
    }
  }

  /** NBD_OPT_LIST. */
  async list(): Promise<NbdExportListing[]> {
    this.sendOption(Option.LIST, Buffer.alloc(0));
    const exports: NbdExportListing[] = [];
    for (;;) {
      const reply = await this.readReply(Option.LIST);
      if (reply.type === OptionReply.ACK) return exports;
      if (reply.type === OptionReply.SERVER) {
        if (reply.data.length < 4) throw protocolError('short SERVER reply');
        const nameLength = reply.data.readUInt32BE(0);
        if (4 + nameLength > reply.data.length) throw protocolError('SERVER reply name overruns the reply');
        exports.push({
          name: reply.data.subarray(4, 4 + nameLength).toString('utf8'),
          description: reply.data.subarray(4 + nameLength).toString('utf8'),
        });
        continue;
      }
      this.throwOptionError('listing exports', reply);
    }
  }

  /** Ends the handshake without entering transmission. */
  abort(): void {
    this.sendOption(Option.ABORT, Buffer.alloc(0));
  }

  private async exportNameFallback(exportName: string): Promise<NbdExportInfo> {
    this.sendOption(Option.EXPORT_NAME, Buffer.from(exportName, 'utf8'));
    const data = await this.reader.read(10);
    if (!this.noZeroes) await this.reader.read(124);
    return { exportName, size: readU64(data, 0), flags: data.readUInt16BE(8), blockSize: { minimum: 1, preferred: 4096, maximum: DEFAULT_MAX_PAYLOAD } };
  }

  private sendOption(option: number, data: Buffer): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    this.socket.write(Buffer.concat([header, data]));
  }

  private async readReply(option: number): Promise<OptionReplyFrame> {
    const header = await this.reader.read(20);
    if (header.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw protocolError('bad option reply magic');
    if (header.readUInt32BE(8) !== option) throw protocolError(`option reply for option ${header.readUInt32BE(8)} while waiting for ${option}`);
    const type = header.readUInt32BE(12);
    const length = header.readUInt32BE(16);
    if (length > MAX_OPTION_REPLY) throw protocolError(`option reply of ${length} bytes`);
    const data = length === 0 ? Buffer.alloc(0) : await this.reader.read(length);
    return { type, data };
  }

  private throwOptionError(what: string, reply: OptionReplyFrame): never {
    if ((reply.type & OPTION_REPLY_ERROR_BIT) === 0) throw protocolError(`unexpected option reply type ${reply.type} while ${what}`);
    const reason = OptionError[reply.type] ?? `error ${reply.type - OPTION_REPLY_ERROR_BIT}`;
    const message = reply.data.length > 0 ? ` (${reply.data.toString('utf8')})` : '';
    if (reply.type === OPTION_ERROR_UNKNOWN_EXPORT) {
      throw new BpError('BP_NOT_FOUND', `The NBD server has no such export while ${what}${message}; check the export name.`);
    }
    throw new BpError('BP_NBD_UNSUPPORTED', `The NBD server refused ${what}: ${reason}${message}.`, { details: { optionReply: reply.type } });
  }
}
