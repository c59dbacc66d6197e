// Restarts: the log replays into the same locks, tokens and event ids; the new term's leader
// extends every live lease by its full TTL before it expires anything; logs written by the seed's
// build (legacy command kinds) still replay.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EntryType } from '../../src/raft/types.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { FakeTime } from './fake-time.js';
import {
  acquireRequest,
  advance,
  brief,
  iso,
  recordEvents,
  releaseRequest,
  startLeader,
} from './helpers.js';

describe('restart', () => {
  test('a new leader lengthens live leases by their TTL; a lease that ran out meanwhile expires', async () => {
    const time = new FakeTime();
    const storage = new MemoryStorage();
    const t0 = time.nowMs;
    const before = await startLeader({ time, storage });
    await before.node.acquire(acquireRequest('long', { owner: 'a', ttlMs: 10_000 }));
    await before.node.acquire(acquireRequest('short', { owner: 'b', ttlMs: 1_000 }));
    await before.node.acquire(acquireRequest('forever'));
    await before.node.stop();

    // Down for 5 s: 'short' ran out while nobody could refresh it; 'long' did not.
    time.jump(5_000);
    const after = await startLeader({ time, storage: new MemoryStorage(storage.snapshot()) });
    const { node } = after;
    await advance(after, 0);
    assert.deepEqual(await node.describe('long', { stale: false }), {
      name: 'long',
      mode: 'exclusive',
      limit: null,
      holders: [
        { owner: 'a', token: 3, acquiredAt: iso(t0), ttlMs: 10_000, expiresAt: iso(t0 + 15_000) },
      ],
      waiters: [],
    });
    assert.equal(await node.describe('short', { stale: false }), undefined);
    assert.equal((await node.describe('forever', { stale: false }))?.holders[0]?.token, 5);
    // Entries 6 and 7: the new term's no-op and extend-leases; 8: the expiry of 'short'.
    const replay = node.subscribe({ name: null, prefix: '' }, '3-0', () => {});
    assert.deepEqual(replay.replay === 'gap' ? 'gap' : brief(replay.replay), [
      'grant short b 4 4-0',
      'grant forever - 5 5-0',
      'expire short b 4 8-0',
    ]);
    replay.unsubscribe();
    const next = await node.acquire(acquireRequest('short'));
    assert.equal(next.outcome === 'acquired' ? next.grant.token : 0, 9);
    await node.stop();
  });

  test('a log written by the seed build (kinds 1 and 2) replays as anonymous locks', async () => {
    const bytes = (kind: number, name: string) =>
      new Uint8Array([kind, ...[...name].map((character) => character.charCodeAt(0))]);
    const storage = new MemoryStorage({
      hardState: { term: 1, vote: 1, commit: 4 },
      entries: [
        { term: 1, index: 1, type: EntryType.noop, data: new Uint8Array() },
        { term: 1, index: 2, type: EntryType.normal, data: bytes(1, 'foo') },
        { term: 1, index: 3, type: EntryType.normal, data: bytes(1, 'bar') },
        { term: 1, index: 4, type: EntryType.normal, data: bytes(2, 'bar') },
      ],
    });
    const started = await startLeader({ storage });
    const { node } = started;
    const events = recordEvents(node);
    assert.equal((await node.describe('foo', { stale: false }))?.holders[0]?.token, 2);
    assert.equal(await node.describe('bar', { stale: false }), undefined);
    assert.deepEqual(await node.release(releaseRequest('foo')), {
      outcome: 'released',
      name: 'foo',
      token: 2,
    });
    assert.deepEqual(brief(events), ['release foo - 2 7-0']);
    await node.stop();
  });
});
