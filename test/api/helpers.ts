/** Shared set-up and exact-response checks for the API tests. */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/api/server.js';
import type { LockdErrorCode } from '../../src/errors.js';
import { FakeLockService } from './fake-lock-service.js';

export const jsonContentType = 'application/json; charset=utf-8';

export interface TestServer {
  readonly app: FastifyInstance;
  readonly service: FakeLockService;
}

export function buildTestServer(options: { requestTimeoutMs?: number } = {}): TestServer {
  const service = new FakeLockService();
  const app = buildServer({
    service,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    logger: false,
  });
  return { app, service };
}

export interface ExpectedResponse {
  readonly status: number;
  /** The exact body, trailing newline included. */
  readonly body: string;
  /** The Lockd-Error-Code header; absent when undefined. */
  readonly errorCode?: LockdErrorCode;
  /** The Retry-After header; absent when undefined. */
  readonly retryAfter?: string;
  /** The Allow header; absent when undefined. */
  readonly allow?: string;
}

/** The exact status, bytes and headers of a JSON response (for HEAD: no body, same headers). */
export function assertJsonResponse(
  response: LightMyRequestResponse,
  expected: ExpectedResponse,
  options: { head?: boolean } = {},
): void {
  const context = `${response.statusCode} ${JSON.stringify(response.body)}`;
  assert.equal(response.statusCode, expected.status, context);
  assert.equal(response.body, options.head === true ? '' : expected.body, context);
  assert.equal(response.headers['content-type'], jsonContentType, context);
  assert.equal(
    response.headers['content-length'],
    String(Buffer.byteLength(expected.body)),
    context,
  );
  assert.equal(response.headers['lockd-error-code'], expected.errorCode, context);
  assert.equal(response.headers['retry-after'], expected.retryAfter, context);
  assert.equal(response.headers.allow, expected.allow, context);
}

export const ok: ExpectedResponse = { status: 200, body: '{}\n' };
export const notFound: ExpectedResponse = {
  status: 404,
  body: '{"error":"Not Found"}\n',
  errorCode: 'LOCKD_ERR_NOT_FOUND',
};
export const conflict: ExpectedResponse = {
  status: 409,
  body: '{"error":"Lock conflict"}\n',
  errorCode: 'LOCKD_ERR_LOCK_CONFLICT',
};

/**
 * The body for a 400 with `message`: as Go wrote it, `>` travels as `\u003e` (the only one of the
 * escaped characters a name message can hold), so the too-long message is not the plain text.
 */
export function badName(message: string): ExpectedResponse {
  const escaped = message.replaceAll('>', '\\u003e');
  return { status: 400, body: `{"error":"${escaped}"}\n`, errorCode: 'LOCKD_ERR_BAD_NAME' };
}

export function methodNotAllowed(method: string, allow: string): ExpectedResponse {
  return {
    status: 405,
    body: `{"error":"Method ${method} not allowed"}\n`,
    errorCode: 'LOCKD_ERR_METHOD_NOT_ALLOWED',
    allow,
  };
}

/** A promise with its settle functions, for services the test completes by hand. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  let reject: (reason: unknown) => void = () => {};
  const promise = new Promise<T>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
}
