import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertJsonResponse,
  badName,
  buildTestServer,
  conflict,
  methodNotAllowed,
  notFound,
  ok,
} from './helpers.js';

const allowLock = 'GET, HEAD, POST, DELETE';

describe('the seed flow', () => {
  test('GET 404 → POST 200 → GET 200 → POST 409 → DELETE 200 → DELETE 404', async () => {
    const { app, service } = buildTestServer();
    const steps = [
      ['GET', notFound],
      ['POST', ok],
      ['GET', ok],
      ['POST', conflict],
      ['DELETE', ok],
      ['DELETE', notFound],
      ['GET', notFound],
    ] as const;
    for (const [method, expected] of steps) {
      assertJsonResponse(await app.inject({ method, url: '/lock/foo' }), expected);
    }
    assert.deepEqual(
      service.calls.map((call) => `${call.method} ${call.name}`),
      [
        'isLocked foo',
        'acquire foo',
        'isLocked foo',
        'acquire foo',
        'release foo',
        'release foo',
        'isLocked foo',
      ],
    );
  });

  test('HEAD answers like GET, without a body', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'HEAD', url: '/lock/foo' }), notFound, {
      head: true,
    });
    service.held.add('foo');
    assertJsonResponse(await app.inject({ method: 'HEAD', url: '/lock/foo' }), ok, { head: true });
    assertJsonResponse(
      await app.inject({ method: 'HEAD', url: '/lock/a%20b' }),
      badName('Name contains non-printable/non-ascii byte 32 at offset 1'),
      { head: true },
    );
    assert.deepEqual(service.calls, [
      { method: 'isLocked', name: 'foo' },
      { method: 'isLocked', name: 'foo' },
    ]);
  });

  test('locks are independent and names are case-sensitive', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/Foo' }), ok);
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/foo' }), ok);
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/FOO' }), notFound);
    assert.deepEqual([...service.held].sort(), ['Foo', 'foo']);
  });

  test('the name given to the service is the decoded one, and query strings are ignored', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/%61%2D%5F?x=1' }), ok);
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/a-_?owner=%G1&y' }), ok);
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/lock/a-_?' }), ok);
    assert.deepEqual(service.calls, [
      { method: 'acquire', name: 'a-_' },
      { method: 'isLocked', name: 'a-_' },
      { method: 'release', name: 'a-_' },
    ]);
  });

  test('GET /healthz', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'GET', url: '/healthz' }), {
      status: 200,
      body: '{"status":"ok"}\n',
    });
    assert.deepEqual(service.calls, []);
  });
});

describe('lock names', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['/lock/a%20b', 'Name contains non-printable/non-ascii byte 32 at offset 1'],
    ['/lock/%E6%97%A5', 'Name contains non-printable/non-ascii byte 230 at offset 0'],
    ['/lock/a+b', 'Name contains non-printable/non-ascii byte 43 at offset 1'],
    ['/lock/a%2Bb', 'Name contains non-printable/non-ascii byte 43 at offset 1'],
    ['/lock/%BD', 'Name contains non-printable/non-ascii byte 189 at offset 0'],
    ['/lock/ab%bd', 'Name contains non-printable/non-ascii byte 189 at offset 2'],
    ['/lock/%00', 'Name contains non-printable/non-ascii byte 0 at offset 0'],
    ['/lock/a;b', 'Name contains non-printable/non-ascii byte 59 at offset 1'],
    ['/lock/%3Cscript%3E', 'Name contains non-printable/non-ascii byte 60 at offset 0'],
    ['/lock/%', 'Invalid percent-encoding in lock name'],
    ['/lock/%G1', 'Invalid percent-encoding in lock name'],
    ['/lock/%4', 'Invalid percent-encoding in lock name'],
    ['/lock/abc%', 'Invalid percent-encoding in lock name'],
    [`/lock/${'a'.repeat(129)}`, 'Name is too long (129 bytes > max of 128)'],
    [`/lock/${'%41'.repeat(300)}`, 'Name is too long (300 bytes > max of 128)'],
    // Longer than the router's parameter limit: refused by the router, answered the same.
    [`/lock/${'A'.repeat(20_000)}`, 'Name is too long (20000 bytes > max of 128)'],
    [`/lock/${'%BD'.repeat(200)}`, 'Name is too long (200 bytes > max of 128)'],
  ];

  for (const [url, message] of cases) {
    test(`${url.slice(0, 40)} → 400 ${message}`, async () => {
      const { app, service } = buildTestServer();
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        assertJsonResponse(await app.inject({ method, url }), badName(message));
      }
      assert.deepEqual(service.calls, [], 'the service must not be called');
      assert.deepEqual([...service.held], []);
    });
  }

  test('the too-long message travels with > escaped, as the Go server sent it', async () => {
    const { app } = buildTestServer();
    const response = await app.inject({ method: 'GET', url: `/lock/${'a'.repeat(129)}` });
    assert.equal(response.body, '{"error":"Name is too long (129 bytes \\u003e max of 128)"}\n');
    assert.deepEqual(response.json(), { error: 'Name is too long (129 bytes > max of 128)' });
  });

  test('128 bytes is accepted, raw or percent-encoded', async () => {
    const { app, service } = buildTestServer();
    const name = 'x'.repeat(128);
    assertJsonResponse(await app.inject({ method: 'POST', url: `/lock/${name}` }), ok);
    assertJsonResponse(
      await app.inject({ method: 'POST', url: `/lock/${'%78'.repeat(128)}` }),
      conflict,
    );
    assert.deepEqual(service.calls, [
      { method: 'acquire', name },
      { method: 'acquire', name },
    ]);
  });

  test('every allowed byte class', async () => {
    const { app, service } = buildTestServer();
    const name = '$-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
    assertJsonResponse(await app.inject({ method: 'POST', url: `/lock/${name}` }), ok);
    assert.deepEqual(service.calls, [{ method: 'acquire', name }]);
  });
});

describe('routing', () => {
  const notLockPaths = [
    '/lock/',
    '/lock/?x=1',
    '/lock/a/b',
    '/lock/a%2Fb',
    '/lock/a%2fb',
    '/lock/%2F',
    '/lock/foo/',
    '/lock//foo',
    '/lock',
    '/LOCK/foo',
    '/locks',
    '/',
    '/nope',
    '/nope%BD',
    '/nope%',
    '/healthz/x',
  ];
  for (const url of notLockPaths) {
    test(`${url} → 404 Not Found`, async () => {
      const { app, service } = buildTestServer();
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        assertJsonResponse(await app.inject({ method, url }), notFound);
      }
      assertJsonResponse(await app.inject({ method: 'HEAD', url }), notFound, { head: true });
      assert.deepEqual(service.calls, []);
    });
  }

  test('another method on a lock path → 405 with Allow', async () => {
    const { app, service } = buildTestServer();
    for (const method of ['PUT', 'PATCH', 'OPTIONS', 'PROPFIND'] as const) {
      for (const url of ['/lock/foo', '/lock/%G1', `/lock/${'a'.repeat(300)}`, '/lock/%BD']) {
        assertJsonResponse(await app.inject({ method, url }), methodNotAllowed(method, allowLock));
      }
    }
    // Not a lock path, so not a known path either.
    assertJsonResponse(await app.inject({ method: 'PUT', url: '/lock/a%2Fb' }), notFound);
    assertJsonResponse(await app.inject({ method: 'PUT', url: '/lock/' }), notFound);
    assert.deepEqual(service.calls, []);
  });

  test('another method on /healthz → 405 with Allow: GET, HEAD', async () => {
    const { app } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/healthz' }),
      methodNotAllowed('POST', 'GET, HEAD'),
    );
  });

  test('a lock name is never taken from the query string', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/?name=foo' }), notFound);
    assert.deepEqual(service.calls, []);
  });
});
