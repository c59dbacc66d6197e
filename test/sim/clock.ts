/**
 * Virtual time and the event queue. Time is an integer count of microseconds and passes only when
 * the next event is taken, so a run takes no wall-clock time to wait and replays exactly: events at
 * the same time run in the order they were scheduled (by sequence number).
 */
import { assert } from '../../src/util/assert.js';

export interface ScheduledEvent {
  readonly time: number;
  readonly sequence: number;
  readonly action: () => void;
}

export class VirtualClock {
  #now = 0;
  #sequence = 0;
  /** A binary min-heap on (time, sequence). */
  readonly #heap: ScheduledEvent[] = [];
  readonly #pendingMax: number;

  /** `pendingMax` bounds the queue: a run that schedules more is broken, not busy. */
  constructor(pendingMax = 1_000_000) {
    this.#pendingMax = pendingMax;
  }

  /** The current virtual time in microseconds. */
  get now(): number {
    return this.#now;
  }

  get pending(): number {
    return this.#heap.length;
  }

  /** The time of the next event, or undefined when none is queued. */
  peekTime(): number | undefined {
    return this.#heap[0]?.time;
  }

  schedule(delayUs: number, action: () => void): void {
    assert(Number.isSafeInteger(delayUs) && delayUs >= 0, `bad delay ${delayUs}`);
    assert(this.#heap.length < this.#pendingMax, `more than ${this.#pendingMax} events queued`);
    const event: ScheduledEvent = { time: this.#now + delayUs, sequence: this.#sequence++, action };
    this.#heap.push(event);
    this.#siftUp(this.#heap.length - 1);
  }

  /** Takes the next event, moves time to it and runs it. Returns false when none is queued. */
  runNext(): boolean {
    const event = this.#pop();
    if (event === undefined) return false;
    assert(event.time >= this.#now, 'time went backwards');
    this.#now = event.time;
    event.action();
    return true;
  }

  #pop(): ScheduledEvent | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    this.#siftDown(0);
    return top;
  }

  #siftUp(start: number): void {
    const heap = this.#heap;
    let position = start;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (!before(heap, position, parent)) break;
      swap(heap, position, parent);
      position = parent;
    }
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    let position = start;
    for (;;) {
      const left = 2 * position + 1;
      const right = left + 1;
      let smallest = position;
      if (left < heap.length && before(heap, left, smallest)) smallest = left;
      if (right < heap.length && before(heap, right, smallest)) smallest = right;
      if (smallest === position) return;
      swap(heap, position, smallest);
      position = smallest;
    }
  }
}

function before(heap: readonly ScheduledEvent[], a: number, b: number): boolean {
  const x = heap[a];
  const y = heap[b];
  assert(x !== undefined && y !== undefined, 'heap index out of range');
  return x.time < y.time || (x.time === y.time && x.sequence < y.sequence);
}

function swap(heap: ScheduledEvent[], a: number, b: number): void {
  const x = heap[a];
  const y = heap[b];
  assert(x !== undefined && y !== undefined, 'heap index out of range');
  heap[a] = y;
  heap[b] = x;
}
