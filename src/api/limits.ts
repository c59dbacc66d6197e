/** The bounds the HTTP layer puts on a request. */

/** Request bodies are ignored for now but still read, so they are capped. */
export const bodyLimitBytes = 64 * 1024;

/**
 * The bound on a whole request, from routing to reply (reading the body included). The service
 * call alone is bounded by requestTimeoutMs; the rest of the request gets as much again, so that a
 * slow cluster is always reported by the service time-out, with its own message, and a client
 * that stalls while sending its body is still answered rather than held forever.
 */
export function requestLifetimeMs(requestTimeoutMs: number): number {
  return 2 * requestTimeoutMs;
}
