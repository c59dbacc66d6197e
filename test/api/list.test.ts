/** `GET /locks`: sorted, filtered by prefix, paginated with `after`/`next`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertJsonResponse,
  badRequest,
  buildTestServer,
  fakeInstant,
  methodNotAllowed,
  seedHold,
} from './helpers.js';

function summaryText(name: string, owner: string | null, token: number, waiters = 0): string {
  const holder = `{"owner":${JSON.stringify(owner)},"token":${token},"acquiredAt":"${fakeInstant()}","ttlMs":null,"expiresAt":null}`;
  return `{"name":"${name}","mode":"exclusive","holders":[${holder}],"waiters":${waiters}}`;
}

describe('GET /locks', () => {
  test('sorted by name, a page at a time, next → after', async () => {
    const { app, service } = buildTestServer();
    for (const name of ['job-b', 'job-a', 'other', 'job-c']) {
      await seedHold(service, name, { owner: `${name}-owner` });
    }
    assertJsonResponse(await app.inject({ method: 'GET', url: '/locks?prefix=job-&limit=2' }), {
      status: 200,
      body: `{"locks":[${summaryText('job-a', 'job-a-owner', 2)},${summaryText('job-b', 'job-b-owner', 1)}],"next":"job-b"}\n`,
    });
    assertJsonResponse(
      await app.inject({ method: 'GET', url: '/locks?prefix=job-&limit=2&after=job-b' }),
      { status: 200, body: `{"locks":[${summaryText('job-c', 'job-c-owner', 4)}],"next":null}\n` },
    );
    assert.deepEqual(
      service.calls.map((call) => call.request),
      [
        { prefix: 'job-', after: '', limit: 2 },
        { prefix: 'job-', after: 'job-b', limit: 2 },
      ],
    );
  });

  test('defaults: every lock, 100 a page; none held → an empty page; HEAD has no body', async () => {
    const { app, service } = buildTestServer();
    const empty = { status: 200, body: '{"locks":[],"next":null}\n' };
    assertJsonResponse(await app.inject({ method: 'GET', url: '/locks' }), empty);
    assertJsonResponse(await app.inject({ method: 'HEAD', url: '/locks' }), empty, { head: true });
    assert.deepEqual(service.calls[0]?.request, { prefix: '', after: '', limit: 100 });
  });

  test('waiters are counted', async () => {
    const { app, service } = buildTestServer();
    await seedHold(service, 'job');
    const waiting = app.inject({ method: 'POST', url: '/lock/job?wait=1m' });
    await service.until(() => service.waiterCount('job') === 1);
    assertJsonResponse(await app.inject({ method: 'GET', url: '/locks' }), {
      status: 200,
      body: `{"locks":[${summaryText('job', null, 1, 1)}],"next":null}\n`,
    });
    await app.inject({ method: 'DELETE', url: '/lock/job' });
    assert.equal((await waiting).statusCode, 200);
  });

  test('bad parameters → 400; other methods → 405', async () => {
    const { app, service } = buildTestServer();
    const cases = [
      ['/locks?limit=0', 'limit is too small (0 < min of 1)'],
      ['/locks?limit=5000', 'limit is too large (5000 > max of 1000)'],
      ['/locks?prefix=a%20', 'prefix contains non-printable/non-ascii byte 32 at offset 1'],
      ['/locks?owner=a', 'Unknown parameter owner (accepted here: prefix, after, limit)'],
    ] as const;
    for (const [url, message] of cases) {
      assertJsonResponse(await app.inject({ method: 'GET', url }), badRequest(message));
    }
    assertJsonResponse(
      await app.inject({ method: 'PUT', url: '/locks' }),
      methodNotAllowed('PUT', 'GET, HEAD'),
    );
    assert.deepEqual(service.calls, []);
  });

  test('a page longer than asked, or a next that does not advance, is a bug → 500', async () => {
    const { app, service } = buildTestServer();
    const lock = { name: 'a', mode: 'exclusive', holders: [], waiters: 0 };
    const cases = [
      ['/locks?limit=1', { locks: [lock, { ...lock, name: 'b' }], next: null }],
      ['/locks?after=a', { locks: [], next: 'a' }],
    ] as const;
    for (const [url, answer] of cases) {
      service.behaviour = { kind: 'custom', answer: () => Promise.resolve(answer) };
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 500, response.body);
    }
  });
});
