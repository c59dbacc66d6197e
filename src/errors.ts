/**
 * The one catalogue of lockd's errors. Every error a client can see has a stable code, an HTTP
 * status and a message. Layers below api/ throw LockdError with a code from here; api/ turns it
 * into a response. Codes are stable: clients may branch on them (header `Lockd-Error-Code`).
 */
export const errorCatalogue = {
  LOCKD_ERR_BAD_NAME: { status: 400, retryable: false },
  LOCKD_ERR_BAD_REQUEST: { status: 400, retryable: false },
  LOCKD_ERR_BODY_TOO_LARGE: { status: 413, retryable: false },
  LOCKD_ERR_UNAUTHORIZED: { status: 401, retryable: false },
  LOCKD_ERR_FORBIDDEN: { status: 403, retryable: false },
  LOCKD_ERR_NOT_FOUND: { status: 404, retryable: false },
  LOCKD_ERR_NOT_LOCKED: { status: 404, retryable: false },
  LOCKD_ERR_METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  LOCKD_ERR_LOCK_CONFLICT: { status: 409, retryable: false },
  LOCKD_ERR_NOT_OWNER: { status: 409, retryable: false },
  LOCKD_ERR_LIMIT_REACHED: { status: 429, retryable: true },
  LOCKD_ERR_HEADERS_TOO_LARGE: { status: 431, retryable: false },
  LOCKD_ERR_NO_LEADER: { status: 503, retryable: true },
  LOCKD_ERR_NOT_LEADER: { status: 503, retryable: true },
  LOCKD_ERR_PROPOSAL_DROPPED: { status: 503, retryable: true },
  LOCKD_ERR_OVERLOADED: { status: 503, retryable: true },
  LOCKD_ERR_TIMEOUT: { status: 503, retryable: true },
  LOCKD_ERR_SHUTTING_DOWN: { status: 503, retryable: true },
  LOCKD_ERR_INTERNAL: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type LockdErrorCode = keyof typeof errorCatalogue;

export class LockdError extends Error {
  override readonly name = 'LockdError';
  readonly code: LockdErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying, sent as `Retry-After` on 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: LockdErrorCode, message: string, options: { retryAfterSeconds?: number } = {}) {
    super(message);
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.retryAfterSeconds =
      options.retryAfterSeconds ??
      (errorCatalogue[code].retryable && this.status === 503 ? 1 : undefined);
  }
}

export function isLockdError(error: unknown): error is LockdError {
  return error instanceof LockdError;
}
