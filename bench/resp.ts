/**
 * A small Redis client of our own: RESP2 over one TCP connection, commands answered in the order
 * they were sent. Enough for SET, EVALSHA, SCRIPT LOAD, PING and CONFIG GET; no pub/sub, no RESP3.
 */
import { connect, type Socket } from 'node:net';

export type RespValue = string | number | null | RespError | readonly RespValue[];

/** An error reply (`-ERR ...`): a value, not a thrown error, so callers branch on it. */
export class RespError {
  constructor(readonly message: string) {}
}

interface Parsed {
  readonly value: RespValue;
  /** The offset just past this reply. */
  readonly next: number;
}

const nestingDepthMax = 8;
const replyBytesMax = 64 * 1024 * 1024;
const pendingCommandsMax = 1024;
const crlf = '\r\n';

/** Parses one reply starting at `offset`, or returns undefined if it is not all there yet. */
export function parseReply(buffer: Buffer, offset: number, depth = 0): Parsed | undefined {
  if (depth > nestingDepthMax) throw new Error(`RESP reply nested deeper than ${nestingDepthMax}`);
  const lineEnd = buffer.indexOf(crlf, offset);
  if (lineEnd === -1) return undefined;
  const kind = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (kind) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$':
      return parseBulkString(buffer, afterLine, Number(line));
    case '*':
      return parseArray(buffer, afterLine, Number(line), depth);
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(kind)}`);
  }
}

function parseBulkString(buffer: Buffer, start: number, length: number): Parsed | undefined {
  if (length === -1) return { value: null, next: start };
  if (!(Number.isInteger(length) && length >= 0 && length <= replyBytesMax))
    throw new Error(`bad RESP bulk string length ${length}`);
  if (buffer.length < start + length + 2) return undefined;
  return { value: buffer.toString('utf8', start, start + length), next: start + length + 2 };
}

function parseArray(
  buffer: Buffer,
  start: number,
  count: number,
  depth: number,
): Parsed | undefined {
  if (count === -1) return { value: null, next: start };
  if (!(Number.isInteger(count) && count >= 0 && count <= replyBytesMax))
    throw new Error(`bad RESP array length ${count}`);
  const items: RespValue[] = [];
  let next = start;
  for (let index = 0; index < count; index++) {
    const item = parseReply(buffer, next, depth + 1);
    if (item === undefined) return undefined;
    items.push(item.value);
    next = item.next;
  }
  return { value: items, next };
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}${crlf}`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}${crlf}${arg}${crlf}`);
  return Buffer.from(parts.join(''));
}

interface Pending {
  readonly resolve: (value: RespValue) => void;
  readonly reject: (error: Error) => void;
}

export class RespConnection {
  private readonly pending: Pending[] = [];
  private received: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the Redis connection closed')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RespConnection> {
    return new Promise((resolveConnection, rejectConnection) => {
      const socket = connect({ port, host });
      socket.once('error', rejectConnection);
      socket.once('connect', () => {
        socket.off('error', rejectConnection);
        resolveConnection(new RespConnection(socket));
      });
    });
  }

  command(args: readonly string[]): Promise<RespValue> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending.length >= pendingCommandsMax)
      return Promise.reject(new Error(`over ${pendingCommandsMax} Redis commands in flight`));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    if (this.received.length > replyBytesMax) {
      this.fail(new Error(`a Redis reply over ${replyBytesMax} bytes`));
      return;
    }
    let offset = 0;
    // Each pass consumes one reply; there can be no more replies than commands sent.
    for (let replies = 0; replies <= pendingCommandsMax; replies++) {
      let parsed: Parsed | undefined;
      try {
        parsed = parseReply(this.received, offset);
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      if (parsed === undefined) break;
      offset = parsed.next;
      const waiter = this.pending.shift();
      if (waiter === undefined) {
        this.fail(new Error('a Redis reply arrived for no command'));
        return;
      }
      waiter.resolve(parsed.value);
    }
    this.received = this.received.subarray(offset);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
    this.socket.destroy();
  }
}
