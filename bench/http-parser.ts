/**
 * An incremental parser of one HTTP/1.1 response, fed the socket's 'data' chunks as they arrive:
 * a response may be split across chunks at any byte. It has no I/O of its own, so the connection
 * in http.ts owns the socket and the tests can feed it bytes directly.
 *
 * It reads what the benchmark's targets send (node:http, fastify, etcd's Go gateway): a body
 * framed by content-length, by chunked transfer coding (extensions and trailers are skipped), or
 * by the connection closing. It does not pipeline: the bytes of one response are all it expects.
 */

/** The status line and header fields together, including their line ends. */
export const headerBytesMax = 64 * 1024;
export const bodyBytesMax = 1024 * 1024;
/** A chunk-size line with its extensions; real ones are a few bytes. */
export const chunkSizeLineBytesMax = 4096;
/** 1xx answers before the final one; a server sends at most one or two. */
const interimResponsesMax = 16;
/** Eight hex digits are 4 GiB, already far over bodyBytesMax; more digits are refused unread. */
const chunkSizePattern = /^[0-9a-fA-F]{1,8}$/;
const statusLinePattern = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: .*)?$/;
const headEnd = Buffer.from('\r\n\r\n', 'latin1');
const lineFeed = 0x0a;
const carriageReturn = 0x0d;

export interface ParsedResponse {
  readonly status: number;
  /** The body as UTF-8 text, or '' when the parser was told not to read it. */
  readonly body: string;
  /** False when the server closes the connection after this response (or said it would). */
  readonly keepAlive: boolean;
}

type Phase =
  | 'head'
  | 'length-body'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-data-end'
  | 'trailers'
  | 'until-close'
  | 'done';

interface Line {
  /** The line without its CRLF (a bare LF is accepted too), as latin1 text. */
  readonly text: string;
  /** The offset in the chunk just past the line's LF. */
  readonly next: number;
}

interface Head {
  readonly status: number;
  readonly keepAlive: boolean;
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
}

/** One parser per response: it is told at the start whether the caller wants the body. */
export class ResponseParser {
  private phase: Phase = 'head';
  /** An incomplete head or line carried over to the next chunk; bounded by the phase's limit. */
  private pending: Buffer | undefined;
  private status = 0;
  private keepAlive = true;
  /** In 'length-body' the bytes left of the body; in 'chunk-data' the bytes left of the chunk. */
  private remainingBytes = 0;
  /** Every body byte seen so far, kept or not, to enforce bodyBytesMax either way. */
  private bodyBytes = 0;
  private readonly bodyParts: Buffer[] = [];
  private trailerBytes = 0;
  private interimResponses = 0;

  constructor(private readonly readBody: boolean) {}

  /**
   * Feeds the next chunk. Returns the response when this chunk completes it, else undefined.
   * Throws on a malformed response, a limit exceeded, or bytes beyond the end of the response.
   */
  push(chunk: Buffer): ParsedResponse | undefined {
    if (this.complete) throw new Error('bytes arrived after the response was complete');
    let offset = 0;
    // Every step consumes at least one byte or ends the loop, so a chunk takes at most its
    // length in steps; the bound turns a step that makes no progress into an error, not a hang.
    for (let step = 0; step <= chunk.length; step++) {
      offset = this.step(chunk, offset);
      if (this.complete) {
        if (offset !== chunk.length)
          throw new Error(`${chunk.length - offset} bytes arrived after the response`);
        return this.response();
      }
      if (offset === chunk.length) return undefined;
    }
    throw new Error('the response parser made no progress on a chunk');
  }

  /** A getter rather than a comparison in place, so the compiler does not narrow it across a step. */
  private get complete(): boolean {
    return this.phase === 'done';
  }

  /**
   * The connection closed. Returns the response if the close is what ends its body (no
   * content-length and not chunked), else undefined: the response is incomplete.
   */
  finish(): ParsedResponse | undefined {
    if (this.phase !== 'until-close') return undefined;
    this.phase = 'done';
    return this.response();
  }

  /** Consumes bytes of `chunk` from `offset` for the current phase; returns the new offset. */
  private step(chunk: Buffer, offset: number): number {
    switch (this.phase) {
      case 'head':
        return this.stepHead(chunk, offset);
      case 'length-body':
      case 'until-close':
      case 'chunk-data':
        return this.stepBody(chunk, offset);
      case 'chunk-size':
        return this.stepChunkSize(chunk, offset);
      case 'chunk-data-end':
        return this.stepChunkDataEnd(chunk, offset);
      case 'trailers':
        return this.stepTrailer(chunk, offset);
      case 'done':
        throw new Error('the response parser stepped past the end of the response');
    }
  }

  private stepHead(chunk: Buffer, offset: number): number {
    const carried = this.pending?.length ?? 0;
    const bytes =
      this.pending === undefined
        ? chunk.subarray(offset)
        : Buffer.concat([this.pending, chunk.subarray(offset)]);
    // The CRLFCRLF may straddle the carried bytes and the new chunk, so the search backs up 3.
    const end = bytes.indexOf(headEnd, Math.max(0, carried - 3));
    if (end === -1) {
      if (bytes.length > headerBytesMax)
        throw new Error(`response head over ${headerBytesMax} bytes`);
      this.pending = bytes;
      return chunk.length;
    }
    if (end + headEnd.length > headerBytesMax)
      throw new Error(`response head over ${headerBytesMax} bytes`);
    this.pending = undefined;
    this.startBody(parseHead(bytes.toString('latin1', 0, end)));
    return offset + end + headEnd.length - carried;
  }

  /** Chooses how the body is framed, from the head just parsed. */
  private startBody(head: Head): void {
    if (head.status < 200) {
      // An interim answer (100 Continue, 103 Early Hints) has no body; the real one follows.
      if (head.status === 101) throw new Error('the server switched protocols (101)');
      this.interimResponses += 1;
      if (this.interimResponses > interimResponsesMax)
        throw new Error(`over ${interimResponsesMax} interim (1xx) responses`);
      return;
    }
    this.status = head.status;
    this.keepAlive = head.keepAlive;
    if (head.status === 204 || head.status === 304) {
      this.phase = 'done';
    } else if (head.chunked) {
      this.phase = 'chunk-size';
    } else if (head.contentLength !== undefined) {
      if (head.contentLength > bodyBytesMax)
        throw new Error(`response body over ${bodyBytesMax} bytes (content-length)`);
      this.remainingBytes = head.contentLength;
      this.phase = head.contentLength === 0 ? 'done' : 'length-body';
    } else {
      // Neither length nor chunks: the body is everything until the server closes.
      this.keepAlive = false;
      this.phase = 'until-close';
    }
  }

  private stepBody(chunk: Buffer, offset: number): number {
    const untilClose = this.phase === 'until-close';
    const available = chunk.length - offset;
    const taken = untilClose ? available : Math.min(available, this.remainingBytes);
    this.bodyBytes += taken;
    if (this.bodyBytes > bodyBytesMax) throw new Error(`response body over ${bodyBytesMax} bytes`);
    if (this.readBody) this.bodyParts.push(chunk.subarray(offset, offset + taken));
    if (untilClose) return chunk.length;
    this.remainingBytes -= taken;
    if (this.remainingBytes === 0)
      this.phase = this.phase === 'chunk-data' ? 'chunk-data-end' : 'done';
    return offset + taken;
  }

  private stepChunkSize(chunk: Buffer, offset: number): number {
    const line = this.takeLine(chunk, offset, chunkSizeLineBytesMax);
    if (line === undefined) return chunk.length;
    // Extensions (";name=value") follow the size and are ignored, as RFC 9112 7.1.1 allows.
    const semicolon = line.text.indexOf(';');
    const sizeText = (semicolon === -1 ? line.text : line.text.slice(0, semicolon)).trim();
    if (!chunkSizePattern.test(sizeText))
      throw new Error(`bad chunk size line ${JSON.stringify(line.text.slice(0, 40))}`);
    const size = Number.parseInt(sizeText, 16);
    if (this.bodyBytes + size > bodyBytesMax)
      throw new Error(`response body over ${bodyBytesMax} bytes (chunked)`);
    this.remainingBytes = size;
    this.phase = size === 0 ? 'trailers' : 'chunk-data';
    return line.next;
  }

  private stepChunkDataEnd(chunk: Buffer, offset: number): number {
    const line = this.takeLine(chunk, offset, chunkSizeLineBytesMax);
    if (line === undefined) return chunk.length;
    if (line.text !== '') throw new Error('chunk data longer than its size');
    this.phase = 'chunk-size';
    return line.next;
  }

  /** Trailer fields after the last chunk are skipped; an empty line ends the response. */
  private stepTrailer(chunk: Buffer, offset: number): number {
    const line = this.takeLine(chunk, offset, headerBytesMax - this.trailerBytes);
    if (line === undefined) return chunk.length;
    this.trailerBytes += line.text.length + 2;
    if (line.text === '') this.phase = 'done';
    return line.next;
  }

  /**
   * The next line from `offset`, joined with any bytes carried from earlier chunks, or undefined
   * when its end has not arrived yet (the bytes are then carried, up to `lineBytesMax`).
   */
  private takeLine(chunk: Buffer, offset: number, lineBytesMax: number): Line | undefined {
    const lineFeedAt = chunk.indexOf(lineFeed, offset);
    const end = lineFeedAt === -1 ? chunk.length : lineFeedAt;
    const bytes =
      this.pending === undefined
        ? chunk.subarray(offset, end)
        : Buffer.concat([this.pending, chunk.subarray(offset, end)]);
    if (bytes.length > lineBytesMax) throw new Error(`a line over ${lineBytesMax} bytes`);
    if (lineFeedAt === -1) {
      this.pending = bytes;
      return undefined;
    }
    this.pending = undefined;
    const length = bytes.at(-1) === carriageReturn ? bytes.length - 1 : bytes.length;
    return { text: bytes.toString('latin1', 0, length), next: lineFeedAt + 1 };
  }

  private response(): ParsedResponse {
    let body = '';
    if (this.readBody) {
      const [onlyPart] = this.bodyParts;
      body =
        this.bodyParts.length === 1 && onlyPart !== undefined
          ? onlyPart.toString('utf8')
          : Buffer.concat(this.bodyParts).toString('utf8');
    }
    return { status: this.status, body, keepAlive: this.keepAlive };
  }
}

/** Parses the status line and the header fields this client acts on; the rest are skipped. */
export function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const match = statusLinePattern.exec(lines[0] ?? '');
  if (match === null)
    throw new Error(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const http11 = match[1] === '1';
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  // The loop is bounded by the number of lines, itself bounded by headerBytesMax.
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index] ?? '';
    const colon = line.indexOf(':');
    if (colon <= 0 || line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09)
      throw new Error(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    // Names are compared by length first so most fields are skipped without lower-casing.
    if (colon !== 14 && colon !== 17 && colon !== 10) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') contentLength = contentLengthOf(value, contentLength);
    else if (name === 'transfer-encoding') transferEncoding = value.toLowerCase();
    else if (name === 'connection') connection = `${connection},${value.toLowerCase()}`;
  }
  const connectionTokens = connection.split(',').map((token) => token.trim());
  const keepAlive = http11
    ? !connectionTokens.includes('close')
    : connectionTokens.includes('keep-alive') && !connectionTokens.includes('close');
  let chunked = false;
  if (transferEncoding !== undefined) {
    // Chunked must be the last coding; any other coding would need decoding we do not do.
    if (transferEncoding !== 'chunked')
      throw new Error(`unsupported transfer-encoding ${JSON.stringify(transferEncoding)}`);
    chunked = true;
  }
  return { status: Number(match[2]), keepAlive, contentLength, chunked };
}

function contentLengthOf(value: string, earlier: number | undefined): number {
  if (!/^[0-9]{1,15}$/.test(value)) throw new Error(`bad content-length ${JSON.stringify(value)}`);
  const length = Number(value);
  // Two different lengths make the framing ambiguous; RFC 9112 6.3 says to treat it as an error.
  if (earlier !== undefined && earlier !== length)
    throw new Error(`two different content-length values, ${earlier} and ${length}`);
  return length;
}
