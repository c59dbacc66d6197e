/** Shared set-up and exact-response checks for the API tests. */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { EventStreamLimits } from '../../src/api/limits.js';
import type { Grant } from '../../src/api/lock-service.js';
import { buildServer } from '../../src/api/server.js';
import type { LockdErrorCode } from '../../src/errors.js';
import { FakeLockService, fakeEpochMs } from './fake-lock-service.js';

export const jsonContentType = 'application/json; charset=utf-8';

export interface TestServer {
  readonly app: FastifyInstance;
  readonly service: FakeLockService;
}

export interface TestServerOptions {
  readonly requestTimeoutMs?: number;
  readonly service?: FakeLockService;
  readonly eventStreams?: Partial<EventStreamLimits>;
}

export function buildTestServer(options: TestServerOptions = {}): TestServer {
  const service = options.service ?? new FakeLockService();
  const app = buildServer({
    service,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    logger: false,
    eventStreams: options.eventStreams ?? {},
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
  /** The Lockd-Token header; absent when undefined. */
  readonly token?: string;
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
  assert.equal(response.headers['lockd-token'], expected.token, context);
}

export const ok: ExpectedResponse = { status: 200, body: '{}\n' };
export const notFound: ExpectedResponse = {
  status: 404,
  body: '{"error":"Not Found"}\n',
  errorCode: 'LOCKD_ERR_NOT_FOUND',
};
/** A 404 about a lock that is free (DELETE, refresh): the seed's body, a more precise code. */
export const notLocked: ExpectedResponse = {
  status: 404,
  body: '{"error":"Not Found"}\n',
  errorCode: 'LOCKD_ERR_NOT_LOCKED',
};
export const conflict: ExpectedResponse = {
  status: 409,
  body: '{"error":"Lock conflict"}\n',
  errorCode: 'LOCKD_ERR_LOCK_CONFLICT',
};

/** JSON as the server writes it: `<`, `>` and `&` escaped as Go did. */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026');
}

/** A 400 LOCKD_ERR_BAD_REQUEST with `message`. */
export function badRequest(message: string): ExpectedResponse {
  return {
    status: 400,
    body: `${goJson({ error: message })}\n`,
    errorCode: 'LOCKD_ERR_BAD_REQUEST',
  };
}

/** The instant the fake's manual clock starts at, plus `offsetMs`. */
export function fakeInstant(offsetMs = 0): string {
  return new Date(fakeEpochMs + offsetMs).toISOString();
}

export interface GrantFields {
  readonly name: string;
  readonly owner?: string | null;
  readonly token: number;
  readonly mode?: 'exclusive' | 'shared';
  readonly ttlMs?: number | null;
  /** Offsets from the fake epoch. */
  readonly acquiredAtMs?: number;
  readonly expiresAtMs?: number | null;
}

/** The exact 200 of an acquire or a refresh. */
export function granted(fields: GrantFields): ExpectedResponse {
  const owner = fields.owner ?? null;
  const ttlMs = fields.ttlMs ?? null;
  const expiresAtMs =
    fields.expiresAtMs ?? (ttlMs === null ? null : (fields.acquiredAtMs ?? 0) + ttlMs);
  const body = {
    name: fields.name,
    owner,
    token: fields.token,
    mode: fields.mode ?? 'exclusive',
    ttlMs,
    expiresAt: expiresAtMs === null ? null : fakeInstant(expiresAtMs),
    acquiredAt: fakeInstant(fields.acquiredAtMs ?? 0),
  };
  return { status: 200, body: `${JSON.stringify(body)}\n`, token: String(fields.token) };
}

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

export interface HoldOptions {
  readonly owner?: string | null;
  readonly ttlMs?: number | null;
  readonly mode?: 'exclusive' | 'shared';
  readonly limit?: number | null;
}

/**
 * Takes `name` in the fake directly, as another client would have; the call is not kept in
 * `service.calls`, which record what the requests under test did.
 */
export async function seedHold(
  service: FakeLockService,
  name: string,
  options: HoldOptions = {},
): Promise<Grant> {
  const before = service.calls.length;
  const result = await service.acquire({
    name,
    owner: options.owner ?? null,
    ttlMs: options.ttlMs ?? null,
    waitMs: 0,
    mode: options.mode ?? 'exclusive',
    limit: options.limit ?? null,
    signal: new AbortController().signal,
  });
  service.calls.splice(before);
  service.callTimesMs.splice(before);
  if (result.outcome !== 'acquired') assert.fail(`seeding ${name}: ${result.outcome}`);
  return result.grant;
}
