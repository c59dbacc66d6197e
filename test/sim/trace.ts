/**
 * The last events of a run, kept in a ring so that a failure can show what led to it. Recording is
 * cheap (a message is kept as the object itself); text is made only when a failure is printed.
 */
import type { Message, NodeId } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';

interface TraceEvent {
  readonly timeUs: number;
  readonly node: NodeId;
  readonly what: string | Message;
}

export class Trace {
  readonly #events: (TraceEvent | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, 'a trace keeps at least one event');
    this.#events = new Array<TraceEvent | undefined>(capacity).fill(undefined);
  }

  /** `node` 0 stands for the cluster as a whole (a fault, a phase). */
  record(timeUs: number, node: NodeId, what: string | Message): void {
    this.#events[this.#next % this.#events.length] = { timeUs, node, what };
    this.#next++;
  }

  /** The kept events, oldest first, one line each. */
  lines(): string[] {
    const capacity = this.#events.length;
    const lines: string[] = [];
    for (let count = Math.max(0, this.#next - capacity); count < this.#next; count++) {
      const event = this.#events[count % capacity];
      if (event !== undefined) lines.push(formatEvent(event));
    }
    return lines;
  }
}

function formatEvent({ timeUs, node, what }: TraceEvent): string {
  const time = `${(timeUs / 1000).toFixed(3).padStart(10)} ms`;
  const text = typeof what === 'string' ? what : `receives ${formatMessage(what)}`;
  return `${time}  ${node === 0 ? 'cluster' : `node ${node}`}: ${text}`;
}

export function formatMessage(message: Message): string {
  const head = `${message.type} ${message.from}->${message.to} t${message.term}`;
  switch (message.type) {
    case 'RequestVote':
      return `${head} last=${message.lastLogIndex}@t${message.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${head} ${message.granted ? 'granted' : 'refused'}`;
    case 'AppendEntries': {
      const last = message.entries.at(-1);
      const carried =
        last === undefined ? 'none' : `${message.entries.length} through ${last.index}`;
      return `${head} prev=${message.prevLogIndex}@t${message.prevLogTerm} entries=${carried} commit=${message.commit}`;
    }
    case 'AppendEntriesResponse':
      return message.success
        ? `${head} ok match=${message.matchIndex}`
        : `${head} rejected hint=${message.rejectHint}`;
    case 'InstallSnapshot':
      return `${head} snapshot=${message.snapshot.index}@t${message.snapshot.term} offset=${message.offset}/${message.totalBytes}${message.done ? ' done' : ''}`;
    case 'InstallSnapshotResponse':
      return message.installed
        ? `${head} snapshot=${message.snapshotIndex} installed match=${message.matchIndex}`
        : `${head} snapshot=${message.snapshotIndex} holds ${message.receivedBytes} bytes`;
    default:
      return head;
  }
}
