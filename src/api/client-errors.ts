/**
 * Answers for requests Node's HTTP parser refuses before fastify sees them: a request line or
 * headers over Node's size limit (a very long URL), a byte the parser does not allow in the
 * target (a raw NUL, a raw non-ASCII byte), or anything that is not HTTP. There is no request
 * object yet, so the response is written to the socket by hand, in the same JSON contract.
 */
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { LockdError } from '../errors.js';
import { encodeJson } from './json.js';
import { errorCodeHeader, jsonContentType } from './reply.js';
import { errorCode } from './thrown-errors.js';

/** The catalogue error for a request the HTTP parser refused with `error`. */
export function clientErrorFor(error: Error): LockdError {
  switch (errorCode(error)) {
    case 'HPE_HEADER_OVERFLOW':
      return new LockdError(
        'LOCKD_ERR_BAD_REQUEST',
        `Request line and headers too large (max ${maxHeaderSize} bytes)`,
      );
    case 'HPE_INVALID_URL':
      return new LockdError('LOCKD_ERR_BAD_REQUEST', 'Malformed request target');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new LockdError('LOCKD_ERR_BAD_REQUEST', 'Request not received in time');
    default:
      return new LockdError('LOCKD_ERR_BAD_REQUEST', 'Malformed HTTP request');
  }
}

/** The whole HTTP response for `error`; the connection is closed after it. */
export function clientErrorResponse(error: LockdError): string {
  const body = encodeJson({ error: error.message });
  return [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    `Content-Type: ${jsonContentType}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    `${errorCodeHeader}: ${error.code}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * Whether a response of an earlier request on this socket has started. Writing an answer then
 * would corrupt that response, so (like Node's own handler) the connection is only closed.
 */
function responseInProgress(socket: Duplex): boolean {
  const inFlight: unknown = Reflect.get(socket, '_httpMessage');
  return (
    typeof inFlight === 'object' &&
    inFlight !== null &&
    Reflect.get(inFlight, 'headersSent') === true
  );
}

/** fastify's `clientErrorHandler`. */
export function answerClientError(error: Error, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (errorCode(error) === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable || responseInProgress(socket)) {
    socket.destroy();
    return;
  }
  socket.end(clientErrorResponse(clientErrorFor(error)), () => socket.destroy());
}
