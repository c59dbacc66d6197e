/**
 * HTTP requests to a lockd cluster with failover. Each attempt goes to the endpoint that answered
 * last, or the next one that is not resting. An attempt fails on a connection error, on its
 * time-out, or on a 503 (no leader, leadership moved, overloaded...): that endpoint then rests —
 * for the Retry-After the server asked (capped at maxRetryDelayMs), or after a connection error
 * for a backoff doubling from 100 ms — and the next endpoint is tried at once. When every endpoint
 * rests, the attempt waits for the first to be ready. After maxAttempts failures the request
 * fails with UnavailableError, listing them. Any other answer, error or not, is returned.
 *
 * Retrying is safe because every request the client sends is idempotent for its owner: acquiring
 * again a lock the owner holds returns the same grant, a refresh only renews, and a release
 * answered 404 after a failed attempt is taken as done (see client.ts).
 */
import {
  AbortedError,
  ConnectionError,
  InvalidArgumentError,
  type LockdClientError,
  RequestTimeoutError,
  ResponseError,
  UnavailableError,
} from './errors.js';
import { decodeErrorBody, parseJsonBody } from './wire.js';

export type FetchFunction = typeof globalThis.fetch;

export interface TransportOptions {
  readonly endpoints: readonly string[];
  readonly requestTimeoutMs: number;
  readonly fetch: FetchFunction;
  readonly maxAttempts: number;
  readonly maxRetryDelayMs: number;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface TransportRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The path under the endpoint, e.g. `/lock/job`; query values null or undefined are left out. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** The time-out of one attempt; requestTimeoutMs when not given. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Answer a 200 as soon as its headers arrive, with the body unread (for event streams); the
   * time-out then bounds only the wait for the headers. Other answers are read whole.
   */
  readonly stream?: boolean;
}

export interface TransportResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The whole body; '' for a stream. */
  readonly text: string;
  /** The unread body of a stream; null otherwise. */
  readonly body: ReadableStream<Uint8Array> | null;
  /** performance.now() when the attempt that got this answer was sent. */
  readonly sentAtMs: number;
  /** How many attempts it took (1 = the first one answered). */
  readonly attempts: number;
  readonly endpointIndex: number;
  /** Stops the body of a stream; a no-op otherwise. */
  cancel(): void;
}

/** Checks and normalises an endpoint: an http(s) URL without query or fragment, no trailing /. */
export function normaliseEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidArgumentError(`endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`endpoint ${endpoint} is not http or https`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidArgumentError(`endpoint ${endpoint} has a query or fragment`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** `host:port` of a normalised endpoint, the port written out even when it is the default. */
function addressOf(endpoint: string): string {
  const url = new URL(endpoint);
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  return `${url.hostname}:${port}`;
}

/** Waits `durationMs`, or throws AbortedError as soon as `signal` fires. */
export function sleep(durationMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortedError(signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, durationMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A controller that also aborts when `parent` does; `unlink` stops following the parent. */
export function linkedController(parent: AbortSignal | undefined): {
  readonly controller: AbortController;
  unlink(): void;
} {
  const controller = new AbortController();
  if (parent === undefined) return { controller, unlink: () => {} };
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { controller, unlink: () => {} };
  }
  const follow = (): void => controller.abort(parent.reason);
  parent.addEventListener('abort', follow, { once: true });
  return { controller, unlink: () => parent.removeEventListener('abort', follow) };
}

/** A server's 503 as an error, from its body and headers. */
function unavailableAnswer(response: Response, text: string): ResponseError {
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  let message = `${response.status} ${response.statusText}`;
  try {
    message = decodeErrorBody(parseJsonBody(text, 'error')).message;
  } catch {
    // Not lockd's JSON (a proxy's page): the status line says enough.
  }
  return new ResponseError(
    response.status,
    response.headers.get('lockd-error-code') ?? 'LOCKD_ERR_UNAVAILABLE',
    message,
    Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  );
}

type AttemptOutcome =
  | { readonly kind: 'answer'; readonly response: TransportResponse }
  | { readonly kind: 'failure'; readonly error: LockdClientError; readonly restMs: number };

export class Transport {
  private readonly options: TransportOptions;
  private readonly endpoints: readonly string[];
  /** Each endpoint as `host:port`, the form of the Lockd-Leader header. */
  private readonly endpointAddresses: readonly string[];
  /** The endpoint to try first: the one that answered last, or the leader it named. */
  private preferred = 0;
  /** performance.now() before which an endpoint rests after a failure. */
  private readonly restingUntilMs: number[];
  private readonly consecutiveFailures: number[];

  constructor(options: TransportOptions) {
    if (options.endpoints.length === 0) throw new InvalidArgumentError('no endpoints given');
    this.options = options;
    this.endpoints = options.endpoints.map(normaliseEndpoint);
    this.endpointAddresses = this.endpoints.map(addressOf);
    this.restingUntilMs = this.endpoints.map(() => 0);
    this.consecutiveFailures = this.endpoints.map(() => 0);
  }

  async request(request: TransportRequest): Promise<TransportResponse> {
    const failures: LockdClientError[] = [];
    // Bounded: one attempt per round, maxAttempts rounds.
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const index = await this.nextEndpoint(request.signal);
      const outcome = await this.attempt(index, request, attempt);
      if (outcome.kind === 'answer') {
        this.succeeded(index);
        this.followLeader(outcome.response.headers);
        return outcome.response;
      }
      failures.push(outcome.error);
      this.failed(index, outcome.restMs);
    }
    throw new UnavailableError(failures);
  }

  /** After a stream that was open ends: the endpoint rests a little, the next one is preferred. */
  streamEnded(endpointIndex: number): void {
    this.failed(endpointIndex, this.backoffMs(endpointIndex));
  }

  private succeeded(index: number): void {
    this.preferred = index;
    this.consecutiveFailures[index] = 0;
    this.restingUntilMs[index] = 0;
  }

  /**
   * A follower that forwarded a write names the leader (`Lockd-Leader: host:port`). When that is
   * one of the endpoints and it is not resting, the next requests go there first, saving the
   * forwarding hop. An address that is not an endpoint is ignored: the client talks only to the
   * servers it was given.
   */
  private followLeader(headers: Headers): void {
    const leader = headers.get('lockd-leader');
    if (leader === null) return;
    const index = this.endpointAddresses.indexOf(leader);
    if (index === -1 || (this.restingUntilMs[index] ?? 0) > performance.now()) return;
    this.preferred = index;
  }

  private failed(index: number, restMs: number): void {
    this.consecutiveFailures[index] = (this.consecutiveFailures[index] ?? 0) + 1;
    this.restingUntilMs[index] = performance.now() + restMs;
    this.preferred = (index + 1) % this.endpoints.length;
  }

  private backoffMs(index: number): number {
    const failures = Math.min(this.consecutiveFailures[index] ?? 0, 16);
    return Math.min(100 * 2 ** failures, this.options.maxRetryDelayMs);
  }

  /** The first endpoint from the preferred one that is not resting, waiting if all are. */
  private async nextEndpoint(signal: AbortSignal | undefined): Promise<number> {
    const count = this.endpoints.length;
    const nowMs = performance.now();
    let earliest = this.preferred;
    for (let offset = 0; offset < count; offset++) {
      const index = (this.preferred + offset) % count;
      const restingUntilMs = this.restingUntilMs[index] ?? 0;
      if (restingUntilMs <= nowMs) return index;
      if (restingUntilMs < (this.restingUntilMs[earliest] ?? 0)) earliest = index;
    }
    await sleep((this.restingUntilMs[earliest] ?? 0) - nowMs, signal);
    return earliest;
  }

  private url(index: number, request: TransportRequest): string {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== null && value !== undefined) query.set(key, String(value));
    }
    const encoded = query.toString();
    const search = encoded === '' ? '' : `?${encoded}`;
    return `${this.endpoints[index] ?? ''}${request.path}${search}`;
  }

  private async attempt(
    index: number,
    request: TransportRequest,
    attempt: number,
  ): Promise<AttemptOutcome> {
    const endpoint = this.endpoints[index] ?? '';
    const timeoutMs = request.timeoutMs ?? this.options.requestTimeoutMs;
    const { controller, unlink } = linkedController(request.signal);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new RequestTimeoutError(endpoint, timeoutMs));
    }, timeoutMs);
    const sentAtMs = performance.now();
    try {
      const response = await this.options.fetch(this.url(index, request), {
        method: request.method,
        headers: request.headers ?? {},
        signal: controller.signal,
      });
      if (request.stream === true && response.status === 200) {
        const cancel = (): void => {
          controller.abort(new AbortedError('stream closed'));
          unlink();
        };
        return {
          kind: 'answer',
          response: this.answer(response, '', response.body, sentAtMs, attempt, index, cancel),
        };
      }
      const text = await response.text();
      unlink();
      if (response.status === 503) {
        const error = unavailableAnswer(response, text);
        const restMs = Math.min(
          (error.retryAfterSeconds ?? 0) * 1_000,
          this.options.maxRetryDelayMs,
        );
        return { kind: 'failure', error, restMs };
      }
      return {
        kind: 'answer',
        response: this.answer(response, text, null, sentAtMs, attempt, index, () => {}),
      };
    } catch (error) {
      unlink();
      if (request.signal?.aborted === true) throw new AbortedError(request.signal.reason);
      const failure = timedOut
        ? new RequestTimeoutError(endpoint, timeoutMs)
        : new ConnectionError(endpoint, error);
      return { kind: 'failure', error: failure, restMs: this.backoffMs(index) };
    } finally {
      // A stream's time-out bounds only the wait for its headers.
      clearTimeout(timer);
    }
  }

  private answer(
    response: Response,
    text: string,
    body: ReadableStream<Uint8Array> | null,
    sentAtMs: number,
    attempts: number,
    endpointIndex: number,
    cancel: () => void,
  ): TransportResponse {
    return {
      status: response.status,
      headers: response.headers,
      text,
      body,
      sentAtMs,
      attempts,
      endpointIndex,
      cancel,
    };
  }
}
