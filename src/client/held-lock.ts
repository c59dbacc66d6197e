/**
 * A lock the client holds, with its lease kept alive and a signal that fires when the lease can
 * no longer be trusted.
 *
 * The trust rule: the server's lease runs from when it applied the grant or refresh, which is
 * after the client sent it. So the client notes when it SENT the last successful refresh (on the
 * monotonic performance.now() clock) and trusts the lease until sentAt + ttl − margin, the margin
 * (max(ttl/10, 100 ms)) covering clock-rate drift and timer lateness. If no refresh has succeeded
 * by then, the signal aborts with LeaseExpiredError. It also aborts on release() (LockReleasedError)
 * and when a refresh is answered 404 or 409 (NotLockedError, NotOwnerError): the lock is gone.
 *
 * Keepalive refreshes every ttl/3 after the last success, and after a failure that may pass
 * (unavailable, time-out) tries again every ttl/10 until the trust deadline. Refreshes are sent
 * one at a time, so the last to succeed is the last the server applied.
 */
import type { Grant, LockMode } from '../api/lock-service.js';
import {
  LeaseExpiredError,
  type LockdClientError,
  LockReleasedError,
  NotLockedError,
  NotOwnerError,
  ResponseError,
} from './errors.js';

/** What a held lock needs from the client. */
export interface LeaseOperations {
  refresh(request: {
    readonly name: string;
    readonly owner: string;
    readonly ttlMs: number | null;
    readonly signal?: AbortSignal;
  }): Promise<{ readonly grant: Grant; readonly sentAtMs: number }>;
  release(request: { readonly name: string; readonly owner: string }): Promise<void>;
}

export function safetyMarginMs(ttlMs: number): number {
  return Math.max(ttlMs / 10, 100);
}

/** The end of trust for a lease of `ttlMs` whose request was sent at `sentAtMs`. */
export function trustedUntil(sentAtMs: number, ttlMs: number): number {
  return sentAtMs + ttlMs - safetyMarginMs(ttlMs);
}

/** Whether a refresh failure means the lock is gone (rather than the cluster being unreachable). */
function isLoss(error: unknown): boolean {
  // A 4xx other than 404/409 (a malformed refresh) cannot be fixed by trying again either.
  return (
    error instanceof NotLockedError ||
    error instanceof NotOwnerError ||
    (error instanceof ResponseError && error.status >= 400 && error.status < 500)
  );
}

export class HeldLock {
  readonly name: string;
  readonly owner: string;
  /** The fencing token: pass it to the protected resource with every write. */
  readonly token: number;
  readonly mode: LockMode;
  /** Aborts when the lock can no longer be relied on; `signal.reason` says why. */
  readonly signal: AbortSignal;
  private grant: Grant;
  private readonly operations: LeaseOperations;
  private readonly controller = new AbortController();
  private readonly keepAlive: boolean;
  private trustEndMs: number | null = null;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /** Aborts the keepalive refresh in flight when the lock ends. */
  private keepAliveRequest: AbortController | undefined;
  /** The refresh in flight, so that the next one waits for it. */
  private refreshing: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(
    operations: LeaseOperations,
    grant: Grant,
    sentAtMs: number,
    options: { readonly keepAlive: boolean },
  ) {
    if (grant.owner === null) throw new TypeError('a held lock needs an owner');
    this.operations = operations;
    this.grant = grant;
    this.name = grant.name;
    this.owner = grant.owner;
    this.token = grant.token;
    this.mode = grant.mode;
    this.signal = this.controller.signal;
    this.keepAlive = options.keepAlive;
    this.renewed(grant, sentAtMs);
  }

  get ttlMs(): number | null {
    return this.grant.ttlMs;
  }

  /** The lease's end as the leader stamped it (its clock); null without a lease. */
  get expiresAt(): string | null {
    return this.grant.expiresAt;
  }

  get acquiredAt(): string {
    return this.grant.acquiredAt;
  }

  /** When the client stops trusting the lease, on performance.now()'s clock; null: no lease. */
  get trustedUntilMs(): number | null {
    return this.trustEndMs;
  }

  /** Renews the lease now (optionally with a new ttl). A 404 or 409 means the lock is lost. */
  refresh(options: { readonly ttlMs?: number } = {}): Promise<Grant> {
    return this.refreshOnce(options.ttlMs ?? null, undefined);
  }

  /**
   * Stops the keepalive, fires the signal (LockReleasedError), then releases the lock. When the
   * lock was already lost (404, or 409: someone else holds it now) there is nothing to release.
   */
  async release(): Promise<void> {
    this.end(new LockReleasedError(this.name));
    try {
      await this.operations.release({ name: this.name, owner: this.owner });
    } catch (error) {
      if (error instanceof NotLockedError || error instanceof NotOwnerError) return;
      throw error;
    }
  }

  private refreshOnce(ttlMs: number | null, signal: AbortSignal | undefined): Promise<Grant> {
    const run = async (): Promise<Grant> => {
      const request = { name: this.name, owner: this.owner, ttlMs };
      try {
        const { grant, sentAtMs } = await this.operations.refresh(
          signal === undefined ? request : { ...request, signal },
        );
        if (grant.token !== this.token) {
          throw new NotLockedError(
            `Lock ${this.name} was granted again under token ${grant.token}`,
          );
        }
        this.renewed(grant, sentAtMs);
        return grant;
      } catch (error) {
        if (isLoss(error)) this.end(error as LockdClientError);
        throw error;
      }
    };
    const result = this.refreshing.then(run, run);
    this.refreshing = result.catch(() => {});
    return result;
  }

  private renewed(grant: Grant, sentAtMs: number): void {
    if (this.ended) return;
    this.grant = grant;
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.keepAliveTimer);
    const ttlMs = grant.ttlMs;
    if (ttlMs === null) {
      this.trustEndMs = null;
      return;
    }
    const trustedUntilMs = trustedUntil(sentAtMs, ttlMs);
    this.trustEndMs = trustedUntilMs;
    this.armDeadline(trustedUntilMs, ttlMs);
    if (this.keepAlive) this.scheduleKeepAlive(sentAtMs + ttlMs / 3 - performance.now());
  }

  /**
   * Ends the lock at `trustedUntilMs`, not before. A Node.js timer counts from the event loop's
   * clock as it was when the loop's current turn began, so one armed late in a busy turn fires
   * that much early: on an early firing, the timer is armed again for what remains.
   */
  private armDeadline(trustedUntilMs: number, ttlMs: number): void {
    this.deadlineTimer = setTimeout(
      () => {
        if (performance.now() < trustedUntilMs) this.armDeadline(trustedUntilMs, ttlMs);
        else this.end(new LeaseExpiredError(this.name, ttlMs));
      },
      Math.max(0, trustedUntilMs - performance.now()),
    );
    // A held lock does not by itself keep the process alive, like an idle pooled connection.
    this.deadlineTimer.unref();
  }

  private scheduleKeepAlive(delayMs: number): void {
    clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = setTimeout(() => void this.keepAliveOnce(), Math.max(0, delayMs));
    this.keepAliveTimer.unref();
  }

  private async keepAliveOnce(): Promise<void> {
    if (this.ended) return;
    const request = new AbortController();
    this.keepAliveRequest = request;
    try {
      await this.refreshOnce(null, request.signal);
      // renewed() scheduled the next one.
    } catch {
      // A loss ended the lock in refreshOnce; anything else may pass: try again soon. The
      // deadline timer fires on its own if no attempt succeeds in time.
      const ttlMs = this.grant.ttlMs;
      if (!this.ended && ttlMs !== null) this.scheduleKeepAlive(Math.max(ttlMs / 10, 50));
    } finally {
      if (this.keepAliveRequest === request) this.keepAliveRequest = undefined;
    }
  }

  private end(reason: LockdClientError): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.keepAliveTimer);
    this.keepAliveRequest?.abort(reason);
    this.controller.abort(reason);
  }
}
