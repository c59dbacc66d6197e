/**
 * The lockd client: typed calls to the HTTP API with failover between endpoints (transport.ts),
 * held locks with keepalive and a lease signal (held-lock.ts), paging, and event watching.
 *
 *     const client = new LockdClient({ endpoints: ['http://10.0.0.1:2081', 'http://10.0.0.2:2081'] });
 *     const lock = await client.acquire('reports', { ttlMs: 10_000, waitMs: 30_000 });
 *     try { await writeReport({ fencingToken: lock.token, signal: lock.signal }); }
 *     finally { await lock.release(); }
 */
import { randomUUID } from 'node:crypto';
import type {
  Grant,
  ListResult,
  LockEvent,
  LockMode,
  LockSummary,
  LockView,
} from '../api/lock-service.js';
import { errorOf } from './answers.js';
import { InvalidArgumentError, InvalidResponseError } from './errors.js';
import { HeldLock, type LeaseOperations } from './held-lock.js';
import { type FetchFunction, Transport } from './transport.js';
import { watchEvents } from './watch.js';
import { decodeGrant, decodeList, decodeLockView, parseJsonBody } from './wire.js';

export interface LockdClientOptions {
  /** Base URLs of the cluster's nodes, e.g. `http://127.0.0.1:2081`; tried in this order. */
  readonly endpoints: readonly string[];
  /** One attempt's time-out (a waiting acquire adds its wait). Default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  /** The fetch to use; the global one by default. */
  readonly fetch?: FetchFunction;
  /** Attempts per request across endpoints before UnavailableError. Default 3 per endpoint. */
  readonly maxAttempts?: number;
  /** The longest rest of an endpoint after a failure (Retry-After is capped to it). Default 5 000 ms. */
  readonly maxRetryDelayMs?: number;
  /** watch(): a stream silent this long is taken as dead and reopened. Default 45 000 ms. */
  readonly watchIdleTimeoutMs?: number;
}

export interface AcquireOptions {
  /** Who holds the lock; a fresh random id by default, so each acquire is its own owner. */
  readonly owner?: string;
  /** The lease; without it the lock is held until released (and never expires). */
  readonly ttlMs?: number;
  /** How long to queue for the lock if it is held. Default 0: answer at once. */
  readonly waitMs?: number;
  readonly mode?: LockMode;
  /** Shared mode: the most holders at once. */
  readonly limit?: number;
  /** Refresh the lease every ttl/3. Default true. */
  readonly keepAlive?: boolean;
  /** Gives up (and leaves the queue) when it fires. */
  readonly signal?: AbortSignal;
}

export interface WatchOptions {
  /** Exactly this lock; or else every lock under `prefix` ('' or absent: all locks). */
  readonly name?: string;
  readonly prefix?: string;
  /** Resume after this event id (an event's `id`). */
  readonly lastEventId?: string;
  /** Ends the iteration when it fires. */
  readonly signal?: AbortSignal;
}

const defaults = {
  requestTimeoutMs: 10_000,
  maxRetryDelayMs: 5_000,
  watchIdleTimeoutMs: 45_000,
} as const;

function positiveInteger(value: number | undefined, what: string): number | undefined {
  if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
    throw new InvalidArgumentError(`${what} must be a positive whole number, got ${value}`);
  }
  return value;
}

function lockPath(name: string, suffix = ''): string {
  if (name === '') throw new InvalidArgumentError('a lock name cannot be empty');
  return `/lock/${encodeURIComponent(name)}${suffix}`;
}

export class LockdClient {
  private readonly transport: Transport;
  private readonly requestTimeoutMs: number;
  private readonly watchIdleTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly operations: LeaseOperations;

  constructor(options: LockdClientOptions) {
    this.requestTimeoutMs =
      positiveInteger(options.requestTimeoutMs, 'requestTimeoutMs') ?? defaults.requestTimeoutMs;
    this.watchIdleTimeoutMs =
      positiveInteger(options.watchIdleTimeoutMs, 'watchIdleTimeoutMs') ??
      defaults.watchIdleTimeoutMs;
    this.maxAttempts =
      positiveInteger(options.maxAttempts, 'maxAttempts') ?? 3 * options.endpoints.length;
    this.transport = new Transport({
      endpoints: options.endpoints,
      requestTimeoutMs: this.requestTimeoutMs,
      fetch: options.fetch ?? globalThis.fetch,
      maxAttempts: this.maxAttempts,
      maxRetryDelayMs:
        positiveInteger(options.maxRetryDelayMs, 'maxRetryDelayMs') ?? defaults.maxRetryDelayMs,
    });
    this.operations = {
      refresh: (request) => this.refreshWithSendTime(request),
      release: (request) => this.release(request.name, { owner: request.owner }),
    };
  }

  /**
   * Takes the lock, waiting up to `waitMs` if it is held. Throws LockConflictError when it is
   * still held by others, UnavailableError when no endpoint could answer.
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<HeldLock> {
    const ttlMs = positiveInteger(options.ttlMs, 'ttlMs');
    const waitMs = options.waitMs ?? 0;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0) {
      throw new InvalidArgumentError(`waitMs must be a whole number ≥ 0, got ${waitMs}`);
    }
    const owner = options.owner ?? randomUUID();
    const response = await this.transport.request({
      method: 'POST',
      path: lockPath(name),
      query: {
        owner,
        ttl: ttlMs,
        wait: waitMs > 0 ? waitMs : undefined,
        mode: options.mode,
        limit: positiveInteger(options.limit, 'limit'),
      },
      timeoutMs: waitMs + this.requestTimeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (response.status !== 200) throw errorOf(response);
    const grant = decodeGrant(parseJsonBody(response.text, 'grant'));
    const held = new HeldLock(this.operations, grant, response.sentAtMs, {
      keepAlive: options.keepAlive ?? true,
    });
    // A long wait may have used up most of the trust in the lease (counted from the send):
    // one refresh now restarts it from a fresh send time.
    const trustedUntilMs = held.trustedUntilMs;
    if (ttlMs !== undefined && trustedUntilMs !== null) {
      if (trustedUntilMs - performance.now() < ttlMs / 2) await held.refresh();
    }
    return held;
  }

  /** Renews `owner`'s lease on `name` (optionally with a new ttl). */
  async refresh(name: string, options: { owner: string; ttlMs?: number }): Promise<Grant> {
    const { grant } = await this.refreshWithSendTime({
      name,
      owner: options.owner,
      ttlMs: positiveInteger(options.ttlMs, 'ttlMs') ?? null,
    });
    return grant;
  }

  /**
   * Releases `name`: `owner`'s hold, or with `force` whatever holds it. A 404 after a failed
   * attempt is success: that attempt may have released it.
   */
  async release(name: string, options: { owner?: string; force?: boolean } = {}): Promise<void> {
    const response = await this.transport.request({
      method: 'DELETE',
      path: lockPath(name),
      query: { owner: options.owner, force: options.force === true ? true : undefined },
    });
    if (response.status === 200) return;
    if (response.status === 404 && response.attempts > 1) return;
    throw errorOf(response);
  }

  /** The lock's holders and waiters, or undefined when it is free. */
  async check(name: string, options: { stale?: boolean } = {}): Promise<LockView | undefined> {
    const response = await this.transport.request({
      method: 'GET',
      path: lockPath(name),
      query: { stale: options.stale === true ? true : undefined },
    });
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw errorOf(response);
    return decodeLockView(parseJsonBody(response.text, 'lock'));
  }

  /** One page of held locks, sorted by name; pass `next` as `after` for the following page. */
  async list(
    options: { prefix?: string; after?: string; limit?: number } = {},
  ): Promise<ListResult> {
    const response = await this.transport.request({
      method: 'GET',
      path: '/locks',
      query: {
        prefix: options.prefix === '' ? undefined : options.prefix,
        after: options.after === '' ? undefined : options.after,
        limit: positiveInteger(options.limit, 'limit'),
      },
    });
    if (response.status !== 200) throw errorOf(response);
    return decodeList(parseJsonBody(response.text, 'list'));
  }

  /** Every held lock under `prefix`, page after page. */
  async *listAll(
    options: { prefix?: string; pageSize?: number } = {},
  ): AsyncGenerator<LockSummary> {
    let after = '';
    // Each page starts strictly after the last, so the loop ends once the names run out.
    for (;;) {
      const page = await this.list({
        after,
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        ...(options.pageSize === undefined ? {} : { limit: options.pageSize }),
      });
      yield* page.locks;
      if (page.next === null) return;
      if (page.next <= after)
        throw new InvalidResponseError(`list paging did not advance past ${after}`);
      after = page.next;
    }
  }

  /**
   * The events of one lock or of a prefix, live, resuming after each reconnection from the last
   * event seen. Throws EventsLostError when the server no longer has the events after it: re-read
   * state (check, list), then watch again without lastEventId.
   */
  watch(options: WatchOptions = {}): AsyncGenerator<LockEvent> {
    const path = options.name === undefined ? '/events' : lockPath(options.name, '/events');
    return watchEvents({
      transport: this.transport,
      path,
      prefix: options.name === undefined ? (options.prefix ?? '') : '',
      lastEventId: options.lastEventId ?? null,
      idleTimeoutMs: this.watchIdleTimeoutMs,
      maxQuietStreams: this.maxAttempts,
      signal: options.signal,
    });
  }

  private async refreshWithSendTime(request: {
    readonly name: string;
    readonly owner: string;
    readonly ttlMs: number | null;
    readonly signal?: AbortSignal;
  }): Promise<{ grant: Grant; sentAtMs: number }> {
    const response = await this.transport.request({
      method: 'POST',
      path: lockPath(request.name, '/refresh'),
      query: { owner: request.owner, ttl: request.ttlMs },
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
    if (response.status !== 200) throw errorOf(response);
    return {
      grant: decodeGrant(parseJsonBody(response.text, 'grant')),
      sentAtMs: response.sentAtMs,
    };
  }
}
