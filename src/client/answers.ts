/** Turning the server's error answers into the client's error classes. */

import type { HolderView } from '../api/lock-service.js';
import { LockConflictError, NotLockedError, NotOwnerError, ResponseError } from './errors.js';
import type { TransportResponse } from './transport.js';
import { decodeErrorBody, parseJsonBody } from './wire.js';

/** The error for an answer that is not a success. */
export function errorOf(response: TransportResponse): ResponseError {
  let message = `HTTP ${response.status}`;
  let holder: HolderView | null = null;
  try {
    ({ message, holder } = decodeErrorBody(parseJsonBody(response.text, 'error')));
  } catch {
    // Not lockd's JSON (a proxy's page): the status says what there is to say.
  }
  const code = response.headers.get('lockd-error-code') ?? `HTTP_${response.status}`;
  if (code === 'LOCKD_ERR_LOCK_CONFLICT') return new LockConflictError(message, holder);
  if (code === 'LOCKD_ERR_NOT_LOCKED') return new NotLockedError(message);
  if (code === 'LOCKD_ERR_NOT_OWNER') return new NotOwnerError(message, holder);
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  return new ResponseError(
    response.status,
    code,
    message,
    Number.isFinite(retryAfter) ? retryAfter : undefined,
  );
}
