/**
 * A parser for Server-Sent Events (the WHATWG `text/event-stream` format): lines end with CRLF,
 * LF or CR; `field: value` lines (one space after the colon dropped); `:` starts a comment; a blank
 * line dispatches the message. `id` sets the last event id (kept across messages), `event` the
 * type (default `message`), `data` lines are joined with `\n`; `retry` and unknown fields are
 * ignored. A line longer than maxLineBytes, or a message larger, is refused: a bound on memory.
 */
import { InvalidResponseError } from './errors.js';

export interface SseMessage {
  readonly type: string;
  readonly data: string;
  /** The last event id as of this message ('' when none was ever given). */
  readonly lastEventId: string;
}

export const maxLineBytes = 256 * 1024;

export class SseParser {
  private pending = '';
  private data: string[] = [];
  private dataLength = 0;
  private type = '';
  private lastEventId = '';

  /** Feeds decoded text; returns the messages completed by it, in order. */
  feed(text: string): SseMessage[] {
    this.pending += text;
    const messages: SseMessage[] = [];
    let start = 0;
    // Each turn consumes one line, so the loop is bounded by the length of the text.
    for (;;) {
      const end = this.lineEnd(start);
      if (end === undefined) break;
      const message = this.line(this.pending.slice(start, end.at));
      if (message !== undefined) messages.push(message);
      start = end.at + end.length;
    }
    this.pending = this.pending.slice(start);
    if (this.pending.length > maxLineBytes) {
      throw new InvalidResponseError(`event stream line longer than ${maxLineBytes} bytes`);
    }
    return messages;
  }

  /** Where the line starting at `start` ends, or undefined when it has not ended yet. */
  private lineEnd(start: number): { readonly at: number; readonly length: number } | undefined {
    for (let index = start; index < this.pending.length; index++) {
      const character = this.pending[index];
      if (character === '\n') return { at: index, length: 1 };
      if (character === '\r') {
        // A CR at the end of the text may be the first half of a CRLF: wait for more.
        if (index + 1 === this.pending.length) return undefined;
        return { at: index, length: this.pending[index + 1] === '\n' ? 2 : 1 };
      }
    }
    return undefined;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.dataLength += value.length + 1;
        if (this.dataLength > maxLineBytes) {
          throw new InvalidResponseError(`event larger than ${maxLineBytes} bytes`);
        }
        this.data.push(value);
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const data = this.data.join('\n');
    const hadData = this.data.length > 0;
    const type = this.type === '' ? 'message' : this.type;
    this.data = [];
    this.dataLength = 0;
    this.type = '';
    if (!hadData) return undefined;
    return { type, data, lastEventId: this.lastEventId };
  }
}
