import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertJsonResponse,
  badName,
  badRequest,
  buildTestServer,
  conflict,
  fakeInstant,
  granted,
  methodNotAllowed,
  notFound,
  notLocked,
  ok,
} from './helpers.js';

const allowLock = 'GET, HEAD, POST, DELETE';

/** GET's 200 for a lock held anonymously since the fake epoch. */
function heldAnonymously(name: string, token: number): { status: number; body: string } {
  const holder = `{"owner":null,"token":${token},"acquiredAt":"${fakeInstant()}","ttlMs":null,"expiresAt":null}`;
  return {
    status: 200,
    body: `{"name":"${name}","mode":"exclusive","limit":null,"holders":[${holder}],"waiters":[]}\n`,
  };
}

describe('the seed flow', () => {
  test('GET 404 → POST 200 → GET 200 → POST 409 → DELETE 200 → DELETE 404', async () => {
    const { app, service } = buildTestServer();
    const steps = [
      ['GET', notFound],
      ['POST', granted({ name: 'foo', token: 1 })],
      ['GET', heldAnonymously('foo', 1)],
      ['POST', conflict],
      ['DELETE', ok],
      ['DELETE', notLocked],
      ['GET', notFound],
    ] as const;
    for (const [method, expected] of steps) {
      assertJsonResponse(await app.inject({ method, url: '/lock/foo' }), expected);
    }
    assert.deepEqual(service.callSummary(), [
      'describe foo',
      'acquire foo',
      'describe foo',
      'acquire foo',
      'release foo',
      'release foo',
      'describe foo',
    ]);
    // Without parameters, every request is the seed's: anonymous, exclusive, no lease, no wait.
    assert.deepEqual(service.calls[1]?.request, {
      name: 'foo',
      owner: null,
      ttlMs: null,
      waitMs: 0,
      mode: 'exclusive',
      limit: null,
    });
    assert.deepEqual(service.calls[4]?.request, { name: 'foo', owner: null, force: false });
    assert.deepEqual(service.calls[0]?.request, { name: 'foo', stale: false });
  });

  test('HEAD answers like GET, without a body', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'HEAD', url: '/lock/foo' }), notFound, {
      head: true,
    });
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/foo' }),
      granted({ name: 'foo', token: 1 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'HEAD', url: '/lock/foo' }),
      heldAnonymously('foo', 1),
      { head: true },
    );
    assertJsonResponse(
      await app.inject({ method: 'HEAD', url: '/lock/a%20b' }),
      badName('Name contains non-printable/non-ascii byte 32 at offset 1'),
      { head: true },
    );
    assert.deepEqual(service.callSummary(), ['describe foo', 'acquire foo', 'describe foo']);
  });

  test('locks are independent and names are case-sensitive', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/Foo' }),
      granted({ name: 'Foo', token: 1 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/foo' }),
      granted({ name: 'foo', token: 2 }),
    );
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/FOO' }), notFound);
    assert.deepEqual(service.holders('Foo').length, 1);
    assert.deepEqual(service.holders('foo').length, 1);
  });

  test('the name given to the service is the decoded one; an empty query is no parameter', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/%61%2D%5F?' }),
      granted({ name: 'a-_', token: 1 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'GET', url: '/lock/a-_?&&' }),
      heldAnonymously('a-_', 1),
    );
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/lock/a-_?' }), ok);
    assert.deepEqual(service.callSummary(), ['acquire a-_', 'describe a-_', 'release a-_']);
  });

  test('query parameters the route does not take → 400 naming them; the service is not called', async () => {
    const { app, service } = buildTestServer();
    const cases = [
      ['POST', '/lock/a?x=1', 'Unknown parameter x (accepted here: owner, ttl, wait, mode, limit)'],
      ['GET', '/lock/a?owner=me', 'Unknown parameter owner (accepted here: stale)'],
      ['DELETE', '/lock/a?ttl=1s', 'Unknown parameter ttl (accepted here: owner, force)'],
      ['GET', '/lock/a?stale=%G1&y', 'Invalid percent-encoding in query string'],
      ['GET', '/lock/a?stale=true&stale=false', 'Parameter stale is given more than once'],
    ] as const;
    for (const [method, url, message] of cases) {
      assertJsonResponse(await app.inject({ method, url }), badRequest(message));
    }
    assert.deepEqual(service.calls, []);
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
      assert.equal(service.events.length, 0);
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
    assertJsonResponse(
      await app.inject({ method: 'POST', url: `/lock/${name}` }),
      granted({ name, token: 1 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'POST', url: `/lock/${'%78'.repeat(128)}` }),
      conflict,
    );
    assert.deepEqual(service.callSummary(), [`acquire ${name}`, `acquire ${name}`]);
  });

  test('every allowed byte class', async () => {
    const { app, service } = buildTestServer();
    const name = '$-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
    assertJsonResponse(
      await app.inject({ method: 'POST', url: `/lock/${name}` }),
      granted({ name, token: 1 }),
    );
    assert.deepEqual(service.callSummary(), [`acquire ${name}`]);
  });

  test('the sub-paths check the name the same way', async () => {
    const { app, service } = buildTestServer();
    const message = 'Name contains non-printable/non-ascii byte 32 at offset 1';
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/a%20b/refresh?owner=me' }),
      badName(message),
    );
    assertJsonResponse(
      await app.inject({ method: 'GET', url: '/lock/a%20b/events' }),
      badName(message),
    );
    assertJsonResponse(
      await app.inject({ method: 'GET', url: '/lock/%BD/events' }),
      badName('Name contains non-printable/non-ascii byte 189 at offset 0'),
    );
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/%G1/refresh' }),
      badName('Invalid percent-encoding in lock name'),
    );
    assert.deepEqual(service.calls, []);
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
    '/lock/foo/bar',
    '/lock/foo/refresh/',
    '/lock/foo/Refresh',
    '/lock/foo/constructor',
    '/lock/a%2Fb/refresh',
    '/lock//refresh',
    '/locks/',
    '/events/',
    '/lockx',
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

  test('another method on the new paths → 405 with their Allow', async () => {
    const { app, service } = buildTestServer();
    const cases = [
      ['GET', '/lock/foo/refresh', 'POST'],
      ['DELETE', '/lock/%BD/refresh', 'POST'],
      ['POST', '/lock/foo/events', 'GET'],
      ['HEAD', '/lock/foo/events', 'GET'],
      ['POST', '/locks', 'GET, HEAD'],
      ['DELETE', '/locks?prefix=a', 'GET, HEAD'],
      ['POST', '/events', 'GET'],
      ['HEAD', '/events', 'GET'],
    ] as const;
    for (const [method, url, allow] of cases) {
      assertJsonResponse(await app.inject({ method, url }), methodNotAllowed(method, allow), {
        head: method === 'HEAD',
      });
    }
    assert.deepEqual(service.calls, []);
  });

  test('a lock name is never taken from the query string', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/?name=foo' }), notFound);
    assert.deepEqual(service.calls, []);
  });
});
