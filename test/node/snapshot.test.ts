// A single node's snapshots, on fake time: every N applied entries the state is snapshotted and
// the log compacted; a restart restores the snapshot and replays the tail after it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MalformedNodeSnapshotError } from '../../src/node/node-snapshot.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { FakeTime } from './fake-time.js';
import { acquireRequest, releaseRequest, startLeader, startNode } from './helpers.js';

describe('snapshots of a single node', () => {
  test('every N entries the log is compacted; a restart restores the snapshot and the tail', async () => {
    const time = new FakeTime();
    const storage = new MemoryStorage();
    const before = await startLeader({ time, storage, snapshotEvery: 5 });
    const tokens = new Map<string, number>();
    for (let index = 0; index < 12; index++) {
      const result = await before.node.acquire(acquireRequest(`lock-${index}`, { owner: 'o' }));
      tokens.set(`lock-${index}`, result.outcome === 'acquired' ? result.grant.token : -1);
    }
    await before.node.release(releaseRequest('lock-0', { owner: 'o' }));
    await before.node.idle();
    // Entries 1-2 are the term's no-op and lease extension; 3-14 the grants; 15 the release.
    assert.equal(before.node.status().lastIndex, 15);
    assert.equal(before.node.status().snapshotIndex, 15);
    assert.equal(storage.snapshotIndex, 15);
    assert.equal(storage.snapshot().entries.length, 0, 'the log before the snapshot is gone');
    await before.node.stop();

    const after = await startNode({ time, storage: new MemoryStorage(storage.snapshot()) });
    assert.ok(after.logs.some((line) => line.message === 'state restored from a snapshot'));
    for (const [name, token] of tokens) {
      const view = await after.node.describe(name, { stale: true });
      assert.equal(view?.holders[0]?.token, name === 'lock-0' ? undefined : token, name);
    }
    // Events from before the snapshot are not there to replay.
    const replay = after.node.subscribe({ name: null, prefix: '' }, '3-0', () => {});
    assert.equal(replay.replay, 'gap');
    replay.unsubscribe();
    const next = await after.node.acquire(acquireRequest('lock-0'));
    // Entries 16-17: the new term's no-op and lease extension.
    assert.equal(next.outcome === 'acquired' ? next.grant.token : -1, 18);
    await after.node.stop();
  });

  test('a snapshot whose data is not a node snapshot stops the start with a clear error', async () => {
    const storage = new MemoryStorage({
      hardState: { term: 1, vote: 1, commit: 4 },
      snapshot: {
        index: 4,
        term: 1,
        confState: { voters: [1], learners: [] },
        data: new TextEncoder().encode('garbage'),
      },
      entries: [],
    });
    await assert.rejects(startNode({ storage }), MalformedNodeSnapshotError);
  });
});
