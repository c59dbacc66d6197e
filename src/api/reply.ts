/**
 * Every response body of the API is sent from here, so the contract's bytes and headers are
 * written in one place: JSON as Go wrote it, and for errors the catalogue's code and status.
 */
import type { FastifyReply } from 'fastify';
import { LockdError } from '../errors.js';
import { assert } from '../util/assert.js';
import { encodeJson, type JsonValue } from './json.js';

export const jsonContentType = 'application/json; charset=utf-8';
export const errorCodeHeader = 'Lockd-Error-Code';

export function sendJson(reply: FastifyReply, statusCode: number, body: JsonValue): FastifyReply {
  return reply.code(statusCode).header('Content-Type', jsonContentType).send(encodeJson(body));
}

/**
 * Sends `error` as `{"error":"<message>"}` with its status, code header and Retry-After; the
 * fields of `details` (a 409's `holder`) follow `error` in the body.
 */
export function sendError(
  reply: FastifyReply,
  error: LockdError,
  details: Readonly<Record<string, JsonValue>> = {},
): FastifyReply {
  assert(!('error' in details), 'details may not replace the error message');
  assert(
    error.status !== 503 || error.retryAfterSeconds !== undefined,
    `503 error ${error.code} has no Retry-After`,
  );
  reply.header(errorCodeHeader, error.code);
  if (error.retryAfterSeconds !== undefined) {
    reply.header('Retry-After', String(error.retryAfterSeconds));
  }
  return sendJson(reply, error.status, { error: error.message, ...details });
}

export function notFoundError(): LockdError {
  return new LockdError('LOCKD_ERR_NOT_FOUND', 'Not Found');
}

/** What the client sees for an unexpected exception: never its message nor its stack. */
export function internalError(): LockdError {
  return new LockdError('LOCKD_ERR_INTERNAL', 'Internal error');
}
