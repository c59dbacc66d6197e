// Snapshots in a running cluster, on LMDB: every node snapshots every N entries and compacts its
// log; a node that was down while the others compacted past what it has receives the leader's
// snapshot over the peer link; a node restarts from its own snapshot and the log tail.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { retryUnavailable, TestCluster, tokenOf } from './cluster-helpers.js';
import { acquireRequest, releaseRequest } from './helpers.js';

const clusters: TestCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.close();
});

const snapshotEvery = 20;

describe('snapshots in a cluster', () => {
  test('a node that was down catches up from the leader’s snapshot, then restarts from its own', async () => {
    const cluster = await TestCluster.start({ size: 3, storage: 'lmdb', snapshotEvery });
    clusters.push(cluster);
    const leader = await cluster.leader(1);
    const lagging = [1, 2, 3].find((id) => id !== leader.id) ?? 0;
    const early = tokenOf(await leader.node.acquire(acquireRequest('early', { owner: 'e' })));
    await cluster.stop(lagging);

    // Enough entries for the others to compact well past what the stopped node holds.
    const tokens = new Map<string, number>();
    for (let index = 0; index < 3 * snapshotEvery; index++) {
      const name = `lock-${index}`;
      tokens.set(name, tokenOf(await leader.node.acquire(acquireRequest(name, { owner: 'o' }))));
      if (index % 2 === 0) await leader.node.release(releaseRequest(name, { owner: 'o' }));
    }
    const compactedAt = leader.node.status().snapshotIndex;
    assert.ok(compactedAt > snapshotEvery, `the leader compacted: ${compactedAt}`);
    assert.ok(leader.logs.some((line) => line.message === 'snapshot taken, log compacted'));

    const back = await cluster.restart(lagging);
    await cluster.untilServing(lagging);
    assert.ok(
      back.logs.some((line) => line.message === 'state restored from a snapshot'),
      'the node was brought up to date by a snapshot, not the log',
    );
    assert.ok(back.node.status().snapshotIndex >= compactedAt);
    await assertHolds(back.node, 'early', early);
    for (const [name, token] of tokens) {
      const index = Number(name.slice(5));
      const view = await back.node.describe(name, { stale: false });
      assert.equal(view?.holders[0]?.token, index % 2 === 0 ? undefined : token, name);
    }

    // A restart restores the node's own snapshot and replays the tail, before any peer speaks.
    await cluster.stop(lagging);
    const restarted = await cluster.restart(lagging);
    assert.ok(restarted.logs.some((line) => line.message === 'state restored from a snapshot'));
    await assertHolds(restarted.node, 'early', early, { stale: true });
    await cluster.untilServing(lagging);
    const last = await retryUnavailable(() =>
      restarted.node.acquire(acquireRequest('after-restart', { owner: 'r' })),
    );
    await assertHolds(leader.node, 'after-restart', tokenOf(last));
  });
});

async function assertHolds(
  node: ReturnType<TestCluster['node']>,
  name: string,
  token: number,
  options = { stale: false },
): Promise<void> {
  const view = await node.describe(name, options);
  assert.equal(view?.holders[0]?.token, token, `${name} is held with token ${token}`);
}
