/** The bounds the HTTP layer puts on a request. The bounds of lock state come from service.limits. */

/** Request bodies hold at most a handful of parameters, so they are capped well below a page. */
export const bodyLimitBytes = 64 * 1024;

/**
 * The bound on a request until its handler starts (routing and reading the body). Each handler
 * bounds its own service call: by requestTimeoutMs, or by wait + requestTimeoutMs for a waiting
 * acquire. A client that stalls while sending its body is answered, not held forever; and as the
 * bound is twice the service time-out, a slow cluster is reported by the service time-out first.
 */
export function requestLifetimeMs(requestTimeoutMs: number): number {
  return 2 * requestTimeoutMs;
}

/**
 * The shortest lease: a lease shorter than a round trip plus a leader election protects nothing,
 * and a client refreshing it every ttl/3 would flood the cluster.
 */
export const minTtlMs = 1_000;

/** `GET /locks` page sizes. */
export const defaultListLimit = 100;
export const maxListLimit = 1_000;

/** Event streams (Server-Sent Events). */
export interface EventStreamLimits {
  /** Open streams at most; one more is answered 429 LOCKD_ERR_LIMIT_REACHED. */
  readonly maxStreams: number;
  /** A `: keepalive` comment this often, so that proxies and clients see a live connection. */
  readonly keepAliveIntervalMs: number;
  /**
   * Bytes a stream may have waiting for a slow client; past this the stream is ended, and the
   * client resumes with Last-Event-ID (or is told of the gap) instead of growing our memory.
   */
  readonly maxBufferedBytes: number;
}

export const defaultEventStreamLimits: EventStreamLimits = {
  maxStreams: 1_024,
  keepAliveIntervalMs: 15_000,
  maxBufferedBytes: 1024 * 1024,
};
