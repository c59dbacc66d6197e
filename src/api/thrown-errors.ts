/**
 * Turns what a request can throw into an error of the catalogue. Errors of lockd itself pass
 * through; fastify's own errors (body limit, bad JSON) get lockd's codes and messages; anything
 * else is unexpected and becomes a 500 for the caller to log.
 */
import { isLockdError, LockdError } from '../errors.js';

export const invalidJsonBodyMessage = 'Invalid JSON body';

/** The `code` property fastify (and Node) put on their errors, if `error` has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function errorStatusCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  return typeof error.statusCode === 'number' ? error.statusCode : undefined;
}

/**
 * The catalogue error to answer `error` with, or undefined when it is unexpected (a bug, or a
 * failure of the service that it did not report as a LockdError).
 */
export function lockdErrorFor(error: unknown, maxBodyBytes: number): LockdError | undefined {
  if (isLockdError(error)) return error;
  switch (errorCode(error)) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LockdError(
        'LOCKD_ERR_BODY_TOO_LARGE',
        `Request body too large (max ${maxBodyBytes} bytes)`,
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new LockdError('LOCKD_ERR_BAD_REQUEST', invalidJsonBodyMessage);
    default:
      break;
  }
  // Fastify's other client errors (a body shorter than its Content-Length, a malformed
  // Content-Type) carry a 4xx status and a message written for the client.
  const statusCode = errorStatusCode(error);
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500 && error instanceof Error) {
    return new LockdError('LOCKD_ERR_BAD_REQUEST', error.message);
  }
  return undefined;
}
