/**
 * Every error the lockd client throws, each with a stable `code` to branch on (as undici does).
 * Errors the server answered carry its own code (the `Lockd-Error-Code` header, e.g.
 * LOCKD_ERR_LOCK_CONFLICT); errors of the client itself use LOCKD_CLIENT_ERR_* codes.
 */
import type { HolderView } from '../api/lock-service.js';

export type LockdClientErrorCode =
  | 'LOCKD_CLIENT_ERR_INVALID_ARGUMENT'
  | 'LOCKD_CLIENT_ERR_UNAVAILABLE'
  | 'LOCKD_CLIENT_ERR_TIMEOUT'
  | 'LOCKD_CLIENT_ERR_CONNECTION'
  | 'LOCKD_CLIENT_ERR_INVALID_RESPONSE'
  | 'LOCKD_CLIENT_ERR_ABORTED'
  | 'LOCKD_CLIENT_ERR_LEASE_EXPIRED'
  | 'LOCKD_CLIENT_ERR_RELEASED'
  | 'LOCKD_CLIENT_ERR_EVENTS_LOST';

export class LockdClientError extends Error {
  override readonly name: string = 'LockdClientError';
  /** A LockdClientErrorCode, or for a ResponseError the server's LOCKD_ERR_* code. */
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}

/** The caller passed something the client cannot use (no endpoints, a bad URL, a bad ttl). */
export class InvalidArgumentError extends LockdClientError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string) {
    super('LOCKD_CLIENT_ERR_INVALID_ARGUMENT', message);
  }
}

/** One attempt took longer than its time-out (requestTimeoutMs, plus the wait of an acquire). */
export class RequestTimeoutError extends LockdClientError {
  override readonly name = 'RequestTimeoutError';
  constructor(endpoint: string, timeoutMs: number) {
    super('LOCKD_CLIENT_ERR_TIMEOUT', `${endpoint}: no answer within ${timeoutMs} ms`);
  }
}

/** One attempt could not reach the endpoint, or the connection broke before the answer. */
export class ConnectionError extends LockdClientError {
  override readonly name = 'ConnectionError';
  constructor(endpoint: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('LOCKD_CLIENT_ERR_CONNECTION', `${endpoint}: ${detail}`, { cause });
  }
}

/** The server answered something that is not lockd's API. */
export class InvalidResponseError extends LockdClientError {
  override readonly name = 'InvalidResponseError';
  constructor(message: string) {
    super('LOCKD_CLIENT_ERR_INVALID_RESPONSE', message);
  }
}

/** The caller's AbortSignal fired. */
export class AbortedError extends LockdClientError {
  override readonly name = 'AbortedError';
  constructor(cause: unknown) {
    super('LOCKD_CLIENT_ERR_ABORTED', 'The request was aborted', { cause });
  }
}

/** An error answer of the server: its status, its code and its message. */
export class ResponseError extends LockdClientError {
  override readonly name: string = 'ResponseError';
  readonly status: number;
  /** Seconds the server asked to wait before retrying (Retry-After), if it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    retryAfterSeconds: number | undefined = undefined,
  ) {
    super(code, message);
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 409 LOCKD_ERR_LOCK_CONFLICT: the lock is held by others (and the wait, if any, elapsed). */
export class LockConflictError extends ResponseError {
  override readonly name = 'LockConflictError';
  /** The first holder with an owner; null when every holder is anonymous. */
  readonly holder: HolderView | null;

  constructor(message: string, holder: HolderView | null) {
    super(409, 'LOCKD_ERR_LOCK_CONFLICT', message);
    this.holder = holder;
  }
}

/** 404 LOCKD_ERR_NOT_LOCKED: the lock is free (a refresh came after the lease expired). */
export class NotLockedError extends ResponseError {
  override readonly name = 'NotLockedError';
  constructor(message: string) {
    super(404, 'LOCKD_ERR_NOT_LOCKED', message);
  }
}

/** 409 LOCKD_ERR_NOT_OWNER: the lock is held, but not by the given owner. */
export class NotOwnerError extends ResponseError {
  override readonly name = 'NotOwnerError';
  /** The first holder with an owner; null when every holder is anonymous. */
  readonly holder: HolderView | null;

  constructor(message: string, holder: HolderView | null) {
    super(409, 'LOCKD_ERR_NOT_OWNER', message);
    this.holder = holder;
  }
}

/** Every attempt failed (connection errors, time-outs, 503s): `failures` says how, in order. */
export class UnavailableError extends LockdClientError {
  override readonly name = 'UnavailableError';
  readonly failures: readonly LockdClientError[];

  constructor(failures: readonly LockdClientError[]) {
    const last = failures.at(-1);
    super(
      'LOCKD_CLIENT_ERR_UNAVAILABLE',
      `lockd unavailable after ${failures.length} attempts${last === undefined ? '' : `; last: ${last.message}`}`,
      { cause: last },
    );
    this.failures = failures;
  }
}

/** A held lock's signal reason: no refresh succeeded within the lease's safe margin. */
export class LeaseExpiredError extends LockdClientError {
  override readonly name = 'LeaseExpiredError';
  constructor(name: string, ttlMs: number) {
    super(
      'LOCKD_CLIENT_ERR_LEASE_EXPIRED',
      `The lease on ${name} (ttl ${ttlMs} ms) can no longer be trusted: no refresh succeeded in time`,
    );
  }
}

/** A held lock's signal reason: release() was called. */
export class LockReleasedError extends LockdClientError {
  override readonly name = 'LockReleasedError';
  constructor(name: string) {
    super('LOCKD_CLIENT_ERR_RELEASED', `The lock ${name} was released`);
  }
}

/** watch(): the server no longer has events after the last one seen. Re-read state, then watch again. */
export class EventsLostError extends LockdClientError {
  override readonly name = 'EventsLostError';
  readonly lastEventId: string | null;

  constructor(lastEventId: string | null, message: string) {
    super('LOCKD_CLIENT_ERR_EVENTS_LOST', message);
    this.lastEventId = lastEventId;
  }
}
