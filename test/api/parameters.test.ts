import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDurationMs } from '../../src/api/durations.js';
import type { Limits } from '../../src/api/lock-service.js';
import {
  acquireParameters,
  describeParameters,
  eventsParameters,
  listParameters,
  refreshParameters,
  releaseParameters,
} from '../../src/api/route-parameters.js';
import { LockdError } from '../../src/errors.js';

const limits: Limits = {
  maxLocks: 10,
  maxWaitersPerLock: 5,
  maxHoldersPerLock: 8,
  maxOwnerBytes: 16,
  maxTtlMs: 60_000,
  maxWaitMs: 30_000,
};

function input(query: string, body?: unknown): { rawUrl: string; body: unknown } {
  return { rawUrl: `/lock/x${query}`, body };
}

/** `run` throws a 400 LOCKD_ERR_BAD_REQUEST with exactly `message`. */
function assertBadRequest(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof LockdError, String(error));
    assert.equal(error.code, 'LOCKD_ERR_BAD_REQUEST');
    assert.equal(error.status, 400);
    assert.equal(error.message, message);
    return true;
  });
}

describe('durations', () => {
  test('whole milliseconds, or a whole number with ms, s, m or h', () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['0', 0],
      ['1500', 1_500],
      ['500ms', 500],
      ['30s', 30_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['007s', 7_000],
      ['999999999', 999_999_999],
      ['999999999h', 999_999_999 * 3_600_000],
    ];
    for (const [text, durationMs] of cases) assert.equal(parseDurationMs(text), durationMs, text);
  });

  test('anything else is not a duration', () => {
    const refused = [
      '',
      'ms',
      's',
      '1.5s',
      '-1',
      '+1',
      ' 1s',
      '1s ',
      '1 s',
      '1S',
      '1d',
      '1us',
      '1e3',
      '0x10',
      '1h30m',
      '1000000000',
      'Infinity',
      'NaN',
    ];
    for (const text of refused) assert.equal(parseDurationMs(text), undefined, text);
  });
});

describe('acquire parameters', () => {
  test('none: the seed acquire (anonymous, exclusive, no lease, no wait)', () => {
    assert.deepEqual(acquireParameters(input(''), limits), {
      owner: null,
      ttlMs: null,
      waitMs: 0,
      mode: 'exclusive',
      limit: null,
    });
  });

  test('all of them from the query', () => {
    assert.deepEqual(
      acquireParameters(input('?owner=worker-1&ttl=30s&wait=500ms&mode=shared&limit=3'), limits),
      { owner: 'worker-1', ttlMs: 30_000, waitMs: 500, mode: 'shared', limit: 3 },
    );
  });

  test('all of them from a JSON body, numbers as numbers', () => {
    const body = { owner: 'w', ttl: 1500, wait: '2s', mode: 'shared', limit: 8 };
    assert.deepEqual(acquireParameters(input('', body), limits), {
      owner: 'w',
      ttlMs: 1_500,
      waitMs: 2_000,
      mode: 'shared',
      limit: 8,
    });
  });

  test('the body wins over the query; a null in the body leaves the query value', () => {
    assert.deepEqual(
      acquireParameters(input('?owner=query&ttl=5s', { owner: 'body', ttl: null }), limits),
      { owner: 'body', ttlMs: 5_000, waitMs: 0, mode: 'exclusive', limit: null },
    );
  });

  test('owners: printable ASCII, 1 to maxOwnerBytes bytes; + is a space; escapes decode', () => {
    const owner = (query: string) => acquireParameters(input(query), limits).owner;
    assert.equal(owner('?owner=%21~%7E'), '!~~');
    assert.equal(owner(`?owner=${'o'.repeat(16)}`), 'o'.repeat(16));
    assert.equal(owner('?owner=a%2Bb'), 'a+b');
    assertBadRequest(() => owner('?owner='), 'owner is empty string');
    assertBadRequest(() => owner('?owner'), 'owner is empty string');
    assertBadRequest(
      () => owner(`?owner=${'o'.repeat(17)}`),
      'owner is too long (17 bytes > maxOwnerBytes of 16)',
    );
    assertBadRequest(
      () => owner('?owner=a+b'),
      'owner contains non-printable/non-ascii byte 32 at offset 1',
    );
    assertBadRequest(
      () => owner('?owner=ab%7F'),
      'owner contains non-printable/non-ascii byte 127 at offset 2',
    );
    assertBadRequest(
      () => owner('?owner=%E6%97%A5'),
      'owner contains non-printable/non-ascii byte 230 at offset 0',
    );
    assertBadRequest(() => owner('?owner=%zz'), 'Invalid percent-encoding in query string');
    const fromBody = (value: unknown) => acquireParameters(input('', { owner: value }), limits);
    assertBadRequest(
      () => fromBody('\u65e5'),
      'owner contains non-printable/non-ascii byte 230 at offset 0',
    );
    assertBadRequest(() => fromBody(7), 'owner must be a string');
    assertBadRequest(() => fromBody(['a']), 'owner must be a string');
  });

  test('ttl: 1 s to maxTtlMs', () => {
    const ttl = (value: string) => acquireParameters(input(`?ttl=${value}`), limits).ttlMs;
    assert.equal(ttl('1s'), 1_000);
    assert.equal(ttl('1m'), 60_000);
    assertBadRequest(() => ttl('999'), 'ttl is too short (999 ms < min of 1000 ms)');
    assertBadRequest(() => ttl('0'), 'ttl is too short (0 ms < min of 1000 ms)');
    assertBadRequest(() => ttl('60001'), 'ttl is too long (60001 ms > maxTtlMs of 60000 ms)');
    assertBadRequest(() => ttl('1h'), 'ttl is too long (3600000 ms > maxTtlMs of 60000 ms)');
    const format =
      'ttl must be whole milliseconds or a whole number with a unit: 500ms, 30s, 5m, 1h';
    for (const bad of ['', '1.5s', '-1s', '10d', 'soon']) assertBadRequest(() => ttl(bad), format);
    for (const bad of [1.5, -1, true, {}, [1]]) {
      assertBadRequest(() => acquireParameters(input('', { ttl: bad }), limits), format);
    }
  });

  test('wait: 0 to maxWaitMs', () => {
    const wait = (value: string) => acquireParameters(input(`?wait=${value}`), limits).waitMs;
    assert.equal(wait('0'), 0);
    assert.equal(wait('30s'), 30_000);
    assertBadRequest(() => wait('30001'), 'wait is too long (30001 ms > maxWaitMs of 30000 ms)');
  });

  test('mode and limit', () => {
    const parse = (query: string) => acquireParameters(input(query), limits);
    assert.equal(parse('?mode=exclusive').mode, 'exclusive');
    assert.equal(parse('?mode=shared&owner=a').limit, null);
    assertBadRequest(() => parse('?mode=Shared'), 'mode must be exclusive or shared');
    assertBadRequest(
      () => parse('?mode=shared&owner=a&limit=0'),
      'limit is too small (0 < min of 1)',
    );
    assertBadRequest(
      () => parse('?mode=shared&owner=a&limit=9'),
      'limit is too large (9 > maxHoldersPerLock of 8)',
    );
    assertBadRequest(() => parse('?mode=shared&owner=a&limit=two'), 'limit must be a whole number');
    assertBadRequest(() => parse('?mode=shared&owner=a&limit=1.0'), 'limit must be a whole number');
    assertBadRequest(() => parse('?limit=2&owner=a'), 'limit requires mode=shared');
    assertBadRequest(() => parse('?mode=shared'), 'mode=shared requires an owner');
  });

  test('unknown and repeated parameters, checked first', () => {
    const parse = (query: string, body?: unknown) => acquireParameters(input(query, body), limits);
    const accepted = '(accepted here: owner, ttl, wait, mode, limit)';
    assertBadRequest(() => parse('?ttl=0&force=true'), `Unknown parameter force ${accepted}`);
    assertBadRequest(() => parse('', { Owner: 'a' }), `Unknown parameter Owner ${accepted}`);
    assertBadRequest(
      () => parse('', { 'a b': 1 }),
      `Unknown parameter (a name of 3 characters) ${accepted}`,
    );
    assertBadRequest(
      () => parse(`?${'k'.repeat(40)}=1`),
      `Unknown parameter (a name of 40 characters) ${accepted}`,
    );
    assertBadRequest(() => parse('?ttl=1s&ttl=2s'), 'Parameter ttl is given more than once');
    assertBadRequest(() => parse('', []), 'JSON body must be an object');
    // Checks run in the order of the list: owner before ttl.
    assertBadRequest(() => parse('?ttl=0&owner='), 'owner is empty string');
  });
});

describe('the other routes', () => {
  test('refresh: owner required, ttl optional', () => {
    assert.deepEqual(refreshParameters(input('?owner=a'), limits), { owner: 'a', ttlMs: null });
    assert.deepEqual(refreshParameters(input('', { owner: 'a', ttl: '2s' }), limits), {
      owner: 'a',
      ttlMs: 2_000,
    });
    assertBadRequest(() => refreshParameters(input(''), limits), 'owner is required');
    assertBadRequest(
      () => refreshParameters(input('?owner=a&wait=1s'), limits),
      'Unknown parameter wait (accepted here: owner, ttl)',
    );
  });

  test('release: owner, force', () => {
    assert.deepEqual(releaseParameters(input(''), limits), { owner: null, force: false });
    assert.deepEqual(releaseParameters(input('?owner=a&force=true'), limits), {
      owner: 'a',
      force: true,
    });
    assert.deepEqual(releaseParameters(input('', { force: false }), limits), {
      owner: null,
      force: false,
    });
    for (const bad of ['?force=1', '?force=yes', '?force', '?force=TRUE']) {
      assertBadRequest(() => releaseParameters(input(bad), limits), 'force must be true or false');
    }
  });

  test('describe: stale', () => {
    assert.deepEqual(describeParameters(input('')), { stale: false });
    assert.deepEqual(describeParameters(input('?stale=true')), { stale: true });
    assertBadRequest(() => describeParameters(input('?stale=0')), 'stale must be true or false');
  });

  test('list: prefix and after are lock-name bytes, limit 1 to 1000 (default 100)', () => {
    const list = (query: string) => listParameters({ rawUrl: `/locks${query}`, body: undefined });
    assert.deepEqual(list(''), { prefix: '', after: '', limit: 100 });
    assert.deepEqual(list('?prefix=job-&after=job-7&limit=1000'), {
      prefix: 'job-',
      after: 'job-7',
      limit: 1_000,
    });
    assert.deepEqual(list('?prefix='), { prefix: '', after: '', limit: 100 });
    assertBadRequest(() => list('?limit=0'), 'limit is too small (0 < min of 1)');
    assertBadRequest(() => list('?limit=1001'), 'limit is too large (1001 > max of 1000)');
    assertBadRequest(
      () => list('?prefix=a/b'),
      'prefix contains non-printable/non-ascii byte 47 at offset 1',
    );
    assertBadRequest(
      () => list(`?after=${'a'.repeat(129)}`),
      'after is too long (129 bytes > max of 128)',
    );
  });

  test('events: Last-Event-ID header over lastEventId', () => {
    const events = (query: string, header?: string | string[]) =>
      eventsParameters({ rawUrl: `/events${query}`, body: undefined }, header, {
        prefixAccepted: true,
      });
    assert.deepEqual(events(''), { prefix: '', lastEventId: null });
    assert.deepEqual(events('?prefix=a&lastEventId=12-0'), { prefix: 'a', lastEventId: '12-0' });
    assert.deepEqual(events('?lastEventId=12-0', '15-3'), { prefix: '', lastEventId: '15-3' });
    const example = 'must be an event id such as 42-0';
    assertBadRequest(() => events('?lastEventId=12'), `lastEventId ${example}`);
    assertBadRequest(() => events('', 'abc'), `Last-Event-ID ${example}`);
    assertBadRequest(() => events('', ['1-0', '2-0']), `Last-Event-ID ${example}`);
    assertBadRequest(
      () =>
        eventsParameters({ rawUrl: '/lock/a/events?prefix=a', body: undefined }, undefined, {
          prefixAccepted: false,
        }),
      'Unknown parameter prefix (accepted here: lastEventId)',
    );
  });
});
