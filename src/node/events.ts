/**
 * The recent lock events, for subscribers: a bounded history (oldest dropped first) so that a
 * client reconnecting with Last-Event-ID gets what it missed, or learns that it cannot ('gap').
 * Events come from apply(), so every node derives the same ones with the same ids.
 */
import type { EventFilter, EventSubscription, LockEvent } from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import { assert } from '../util/assert.js';

/** An event's place in the order of all events: its entry's index, then `n` within the entry. */
export interface EventPosition {
  readonly index: number;
  readonly n: number;
}

export const eventHistoryDefaults = { capacity: 10_000, maxSubscribers: 10_000 } as const;

interface Subscriber {
  readonly filter: EventFilter;
  readonly onEvent: (event: LockEvent) => void;
}

export interface EventHistoryOptions {
  readonly capacity: number;
  readonly maxSubscribers: number;
  /** A subscriber threw: it is dropped, and this says so (the apply loop must go on). */
  readonly onSubscriberError: (error: unknown) => void;
}

export class EventHistory {
  readonly #options: EventHistoryOptions;
  /** A ring of the newest events, oldest at #start. Invariant: positions strictly increase. */
  readonly #ring: (LockEvent | undefined)[];
  readonly #positions: (EventPosition | undefined)[];
  #start = 0;
  #count = 0;
  /** The newest event ever dropped from the ring; replays from before it have a gap. */
  #droppedThrough: EventPosition | undefined;
  readonly #subscribers = new Set<Subscriber>();

  constructor(options: EventHistoryOptions) {
    assert(Number.isSafeInteger(options.capacity) && options.capacity >= 1, 'event capacity');
    this.#options = options;
    this.#ring = new Array<LockEvent | undefined>(options.capacity).fill(undefined);
    this.#positions = new Array<EventPosition | undefined>(options.capacity).fill(undefined);
  }

  /** The number of events retained. */
  get size(): number {
    return this.#count;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Appends an event (in order) and hands it to every matching subscriber, synchronously.
   * `position` is the one its id spells, given as numbers so that no id is parsed back.
   */
  record(event: LockEvent, position: EventPosition): void {
    const newest = this.#positionAt(this.#count - 1);
    if (newest !== undefined && compare(newest, position) >= 0)
      assert(false, `event ${event.id} out of order`);
    const capacity = this.#ring.length;
    if (this.#count === capacity) {
      this.#droppedThrough = this.#positionAt(0);
      this.#start = (this.#start + 1) % capacity;
      this.#count--;
    }
    const slot = (this.#start + this.#count) % capacity;
    this.#ring[slot] = event;
    this.#positions[slot] = position;
    this.#count++;
    if (this.#subscribers.size === 0) return;
    for (const subscriber of [...this.#subscribers]) {
      if (!matches(subscriber.filter, event)) continue;
      try {
        subscriber.onEvent(event);
      } catch (error) {
        this.#subscribers.delete(subscriber);
        this.#options.onSubscriberError(error);
      }
    }
  }

  /**
   * The events of entries up to `index` cannot be replayed (the state came from a snapshot):
   * a replay from before it is a gap.
   */
  markMissingThrough(index: number): void {
    const missing = { index, n: Number.MAX_SAFE_INTEGER };
    if (this.#droppedThrough === undefined || compare(this.#droppedThrough, missing) < 0) {
      this.#droppedThrough = missing;
    }
  }

  /**
   * Live events matching `filter` go to `onEvent` from now on. `replay`: the retained events after
   * `lastEventId` ([] when null), or 'gap' when some after it were dropped already.
   */
  subscribe(
    filter: EventFilter,
    lastEventId: string | null,
    onEvent: (event: LockEvent) => void,
  ): EventSubscription {
    if (this.#subscribers.size >= this.#options.maxSubscribers) {
      throw new LockdError(
        'LOCKD_ERR_LIMIT_REACHED',
        `Limit reached: maxSubscribers (${this.#options.maxSubscribers} event streams are open)`,
      );
    }
    const replay = lastEventId === null ? [] : this.#replayAfter(lastEventId, filter);
    const subscriber: Subscriber = { filter, onEvent };
    this.#subscribers.add(subscriber);
    return {
      replay,
      unsubscribe: () => {
        this.#subscribers.delete(subscriber);
      },
    };
  }

  #replayAfter(lastEventId: string, filter: EventFilter): LockEvent[] | 'gap' {
    const after = parseEventId(lastEventId);
    if (after === undefined) {
      throw new LockdError(
        'LOCKD_ERR_BAD_REQUEST',
        `Last-Event-ID must look like <index>-<n>, got ${JSON.stringify(lastEventId.slice(0, 40))}`,
      );
    }
    if (this.#droppedThrough !== undefined && compare(after, this.#droppedThrough) < 0) {
      return 'gap';
    }
    const replay: LockEvent[] = [];
    for (let offset = this.#firstAfter(after); offset < this.#count; offset++) {
      const event = this.#ring[(this.#start + offset) % this.#ring.length];
      if (event === undefined) assert(false, `event slot ${offset} is empty`);
      if (matches(filter, event)) replay.push(event);
    }
    return replay;
  }

  /** The offset of the first retained event after `position` (binary search: the ring is sorted). */
  #firstAfter(position: EventPosition): number {
    let low = 0;
    let high = this.#count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const at = this.#positionAt(middle);
      if (at === undefined) assert(false, `event slot ${middle} is empty`);
      if (compare(at, position) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #positionAt(offset: number): EventPosition | undefined {
    if (offset < 0 || offset >= this.#count) return undefined;
    return this.#positions[(this.#start + offset) % this.#positions.length];
  }
}

/** `<index>-<n>` with both parts decimal integers; undefined for anything else. */
export function parseEventId(id: string): EventPosition | undefined {
  const match = /^(0|[1-9][0-9]{0,15})-(0|[1-9][0-9]{0,15})$/.exec(id);
  if (match === null) return undefined;
  const index = Number(match[1]);
  const n = Number(match[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(n)) return undefined;
  return { index, n };
}

function compare(left: EventPosition, right: EventPosition): number {
  return left.index - right.index || left.n - right.n;
}

function matches(filter: EventFilter, event: LockEvent): boolean {
  if (filter.name !== null) return event.name === filter.name;
  return event.name.startsWith(filter.prefix);
}
