import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, mock, test } from 'node:test';
import { buildServer } from '../../src/api/server.js';
import { errorCatalogue, LockdError, type LockdErrorCode } from '../../src/errors.js';
import { AssertionError } from '../../src/util/assert.js';
import { FakeLockService } from './fake-lock-service.js';
import {
  assertJsonResponse,
  badRequest,
  buildTestServer,
  deferred,
  granted,
  notFound,
  ok,
} from './helpers.js';

const lockMethods = ['GET', 'POST', 'DELETE'] as const;

function grantOf(name: string) {
  return {
    name,
    owner: null,
    token: 1,
    mode: 'exclusive',
    ttlMs: null,
    acquiredAt: '2024-01-01T00:00:00.000Z',
    expiresAt: null,
  } as const;
}

function viewOf(name: string) {
  const { name: _name, mode, ...holder } = grantOf(name);
  return { name, mode, limit: null, holders: [holder], waiters: [] };
}

/** A server whose request loggers record their `error` calls instead of writing them. */
function buildLoggingServer(): {
  app: ReturnType<typeof buildServer>;
  service: FakeLockService;
  errorLogs: unknown[][];
} {
  const service = new FakeLockService();
  const app = buildServer({ service, requestTimeoutMs: 5_000, logger: { level: 'fatal' } });
  const errorLogs: unknown[][] = [];
  app.addHook('onRequest', async (request) => {
    mock.method(request.log, 'error', (...args: unknown[]) => {
      errorLogs.push(args);
    });
  });
  return { app, service, errorLogs };
}

function loggedError(entry: unknown[] | undefined): unknown {
  const fields = entry?.[0];
  assert.ok(typeof fields === 'object' && fields !== null && 'err' in fields, 'no err logged');
  return fields.err;
}

describe('errors from the service', () => {
  const unavailableCodes = (Object.keys(errorCatalogue) as LockdErrorCode[]).filter(
    (code) => errorCatalogue[code].status === 503,
  );

  for (const code of unavailableCodes) {
    test(`${code} → 503 with its message, code and Retry-After`, async () => {
      const { app, service } = buildTestServer();
      service.behaviour = { kind: 'throw', error: new LockdError(code, `Cluster says ${code}`) };
      for (const method of lockMethods) {
        assertJsonResponse(await app.inject({ method, url: '/lock/foo' }), {
          status: 503,
          body: `{"error":"Cluster says ${code}"}\n`,
          errorCode: code,
          retryAfter: '1',
        });
      }
    });
  }

  test('Retry-After comes from retryAfterSeconds', async () => {
    const { app, service } = buildTestServer();
    const error = new LockdError('LOCKD_ERR_NO_LEADER', 'No leader', { retryAfterSeconds: 7 });
    service.behaviour = { kind: 'throw', error };
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/foo' }), {
      status: 503,
      body: '{"error":"No leader"}\n',
      errorCode: 'LOCKD_ERR_NO_LEADER',
      retryAfter: '7',
    });
  });

  test('messages are JSON-escaped like Go', async () => {
    const { app, service } = buildTestServer();
    const error = new LockdError('LOCKD_ERR_OVERLOADED', 'queue <full> & "busy"');
    service.behaviour = { kind: 'throw', error };
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/foo' }), {
      status: 503,
      body: '{"error":"queue \\u003cfull\\u003e \\u0026 \\"busy\\""}\n',
      errorCode: 'LOCKD_ERR_OVERLOADED',
      retryAfter: '1',
    });
  });

  const internal = {
    status: 500,
    body: '{"error":"Internal error"}\n',
    errorCode: 'LOCKD_ERR_INTERNAL',
  } as const;

  test('an unexpected exception → 500, logged with its stack, never in the body', async () => {
    const { app, service, errorLogs } = buildLoggingServer();
    const secret = new Error('secret detail at /etc/lockd');
    service.behaviour = { kind: 'throw', error: secret };
    const response = await app.inject({ method: 'POST', url: '/lock/foo' });
    assertJsonResponse(response, internal);
    assert.equal(response.body.includes('secret'), false);
    assert.equal(errorLogs.length, 1);
    const logged = loggedError(errorLogs[0]);
    assert.equal(logged, secret);
    assert.match(secret.stack ?? '', /secret detail/);
    // The server is still answering.
    service.behaviour = { kind: 'normal' };
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/foo' }),
      granted({ name: 'foo', token: 1 }),
    );
  });

  test('a thrown non-Error, a synchronous throw, and impossible results → 500', async () => {
    const { app, service, errorLogs } = buildLoggingServer();
    const answers: ReadonlyArray<readonly [(typeof lockMethods)[number], () => Promise<unknown>]> =
      [
        ['POST', () => Promise.reject('a string')],
        [
          'POST',
          () => {
            throw new Error('thrown before any promise');
          },
        ],
        ['POST', () => Promise.resolve({ outcome: 'granted' })],
        // The contract of before: a token and no grant.
        ['POST', () => Promise.resolve({ outcome: 'acquired', token: 9 })],
        [
          'POST',
          () =>
            Promise.resolve({
              outcome: 'acquired',
              grant: { ...grantOf('foo'), token: 0 },
            }),
        ],
        ['DELETE', () => Promise.resolve({ outcome: 'gone' })],
        ['GET', () => Promise.resolve('yes')],
        ['GET', () => Promise.resolve({ ...viewOf('other') })],
        ['GET', () => Promise.resolve({ ...viewOf('foo'), holders: [] })],
      ];
    for (const [method, answer] of answers) {
      service.behaviour = { kind: 'custom', answer };
      assertJsonResponse(await app.inject({ method, url: '/lock/foo' }), internal);
    }
    assert.equal(errorLogs.length, answers.length);
  });
});

describe('rejected requests', () => {
  test('are answered without an error log and without reaching a handler', async () => {
    const { app, service, errorLogs } = buildLoggingServer();
    const urls = ['/lock/a%20b', '/lock/%BD', '/lock/', '/lock/a%2Fb', '/nope', '/lock/%G1'];
    for (const url of urls) {
      for (const method of ['GET', 'HEAD', 'POST', 'DELETE', 'PUT'] as const) {
        const response = await app.inject({ method, url });
        assert.ok([400, 404, 405].includes(response.statusCode), `${method} ${url}`);
      }
    }
    assert.deepEqual(errorLogs, []);
    assert.deepEqual(service.calls, []);
  });

  test('buildServer refuses a time-out that is not a positive integer', () => {
    for (const requestTimeoutMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => buildServer({ service: new FakeLockService(), requestTimeoutMs, logger: false }),
        AssertionError,
        String(requestTimeoutMs),
      );
    }
  });
});

describe('time-outs', () => {
  const timeout = {
    status: 503,
    body: '{"error":"Timed out after 50 ms waiting for the cluster; the change may still take effect"}\n',
    errorCode: 'LOCKD_ERR_TIMEOUT',
    retryAfter: '1',
  } as const;

  test('a service call that never settles → 503 after requestTimeoutMs', async () => {
    const { app, service } = buildTestServer({ requestTimeoutMs: 50 });
    service.behaviour = { kind: 'hang' };
    for (const method of lockMethods) {
      const startedAt = performance.now();
      assertJsonResponse(await app.inject({ method, url: '/lock/foo' }), timeout);
      // Timers never fire early; the upper bound only guards against a hang.
      assert.ok(performance.now() - startedAt >= 49, 'answered before the time-out');
    }
    assert.equal(service.calls.length, 3);
  });

  test('a call settling after its time-out changes no response and crashes nothing', async () => {
    const { app, service } = buildTestServer({ requestTimeoutMs: 50 });
    const late = deferred<unknown>();
    const failing = deferred<unknown>();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      service.behaviour = { kind: 'custom', answer: () => late.promise };
      assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/foo' }), timeout);
      service.behaviour = { kind: 'custom', answer: () => failing.promise };
      assertJsonResponse(await app.inject({ method: 'DELETE', url: '/lock/foo' }), timeout);
      late.resolve({ outcome: 'acquired', grant: grantOf('foo') });
      failing.reject(new Error('lost the election'));
      // Rejections are reported once the microtask queue drains; one macrotask turn is enough.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
      service.behaviour = { kind: 'normal' };
      assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/foo' }), notFound);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('a body that stops arriving → 503 after the request lifetime; nothing changes', async () => {
    const { app, service } = buildTestServer({ requestTimeoutMs: 50 });
    const body = new Readable({ read() {} });
    body.push('abc');
    const response = await app.inject({
      method: 'POST',
      url: '/lock/foo',
      headers: { 'content-type': 'text/plain', 'content-length': '10' },
      payload: body,
    });
    assertJsonResponse(response, {
      status: 503,
      body: '{"error":"Request not completed within 100 ms"}\n',
      errorCode: 'LOCKD_ERR_TIMEOUT',
      retryAfter: '1',
    });
    // The rest of the body arrives after the answer: the handler must not run any more.
    body.push('defghij');
    body.push(null);
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/foo' }), notFound);
    assert.deepEqual(service.callSummary(), ['describe foo']);
  });
});

describe('request bodies', () => {
  const ignored: ReadonlyArray<readonly [string, string | Buffer]> = [
    ['text/plain', 'hello'],
    ['application/json', ''],
    ['application/octet-stream', Buffer.from([0, 255, 1, 254])],
    // Only JSON bodies carry parameters: a form body is ignored, as the seed ignored every body.
    ['application/x-www-form-urlencoded', 'owner=me&ttl=10s'],
    ['multipart/form-data; boundary=x', '--x\r\nnot really multipart'],
    ['image/png', 'not a png'],
    ['text/plain', ''],
  ];
  for (const [contentType, payload] of ignored) {
    test(`a ${contentType} body (${payload.length} bytes) is ignored`, async () => {
      const { app, service } = buildTestServer();
      const headers = { 'content-type': contentType };
      assertJsonResponse(
        await app.inject({ method: 'POST', url: '/lock/a', headers, payload }),
        granted({ name: 'a', token: 1 }),
      );
      assertJsonResponse(
        await app.inject({ method: 'DELETE', url: '/lock/a', headers, payload }),
        ok,
      );
      assert.deepEqual(service.callSummary(), ['acquire a', 'release a']);
      assert.equal(service.calls[0]?.request.owner, null);
    });
  }

  test('a JSON object body carries the parameters', async () => {
    const { app, service } = buildTestServer();
    const headers = { 'content-type': 'application/json; charset=utf-8' };
    const payload = '{"owner":"me","ttl":"10s"}';
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/a', headers, payload }),
      granted({ name: 'a', owner: 'me', token: 1, ttlMs: 10_000 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'DELETE', url: '/lock/a', headers, payload: '{"owner":"me"}' }),
      ok,
    );
    assert.deepEqual(service.callSummary(), ['acquire a', 'release a']);
  });

  for (const payload of ['[1,2,3]', '"owner"', '42', 'null', 'true']) {
    test(`a JSON body that is not an object (${payload}) → 400, nothing changes`, async () => {
      const { app, service } = buildTestServer();
      const headers = { 'content-type': 'application/json' };
      for (const method of ['POST', 'DELETE'] as const) {
        assertJsonResponse(
          await app.inject({ method, url: '/lock/a', headers, payload }),
          badRequest('JSON body must be an object'),
        );
      }
      assert.deepEqual(service.calls, []);
    });
  }

  for (const payload of ['{"owner":', 'not json', '{"__proto__":{"admin":true}}']) {
    test(`a JSON body that does not parse (${payload}) → 400, nothing changes`, async () => {
      const { app, service } = buildTestServer();
      const headers = { 'content-type': 'application/json' };
      for (const method of ['POST', 'DELETE'] as const) {
        assertJsonResponse(await app.inject({ method, url: '/lock/a', headers, payload }), {
          status: 400,
          body: '{"error":"Invalid JSON body"}\n',
          errorCode: 'LOCKD_ERR_BAD_REQUEST',
        });
      }
      assert.deepEqual(service.calls, []);
    });
  }

  test('64 KiB is accepted; one byte more → 413, nothing changes', async () => {
    const { app, service } = buildTestServer();
    const headers = { 'content-type': 'application/octet-stream' };
    const tooLarge = {
      status: 413,
      body: '{"error":"Request body too large (max 65536 bytes)"}\n',
      errorCode: 'LOCKD_ERR_BODY_TOO_LARGE',
    } as const;
    const fits = Buffer.alloc(65_536, 1);
    const overflows = Buffer.alloc(65_537, 1);
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/a', headers, payload: overflows }),
      tooLarge,
    );
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/a' }), notFound);
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/a', headers, payload: fits }),
      granted({ name: 'a', token: 1 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'DELETE', url: '/lock/a', headers, payload: overflows }),
      tooLarge,
    );
    assert.equal((await app.inject({ method: 'GET', url: '/lock/a' })).statusCode, 200);
    assert.deepEqual(service.callSummary(), ['describe a', 'acquire a', 'describe a']);
  });

  test('a bad name is answered before the body is read', async () => {
    const { app, service } = buildTestServer();
    const response = await app.inject({
      method: 'POST',
      url: '/lock/a%20b',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.alloc(100_000, 1),
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers['lockd-error-code'], 'LOCKD_ERR_BAD_NAME');
    assert.deepEqual(service.calls, []);
  });
});
