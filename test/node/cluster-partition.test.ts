// A partition injected with setPeerFaults: the majority elects and serves; the cut-off node's
// writes and linearizable reads are answered 503 within the bound (never left hanging); once
// healed, every node holds the same locks (nothing the minority did survived, nothing diverged).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { isLockdError, LockdError } from '../../src/errors.js';
import type { LockNode } from '../../src/node/lock-node.js';
import {
  clusterTiming,
  retryUnavailable,
  TestCluster,
  tokenOf,
  untilWaiters,
} from './cluster-helpers.js';
import { acquireRequest } from './helpers.js';

const clusters: TestCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.close();
});

/** The longest a request may take before its 503: a wait for a leader, then a commit or a read. */
const answerBoundMs = 1.5 * clusterTiming.requestTimeoutMs + 1_000;

async function assertUnavailableWithinBound(operation: () => Promise<unknown>): Promise<void> {
  const startedMs = Date.now();
  await assert.rejects(operation(), (error: unknown) => {
    assert.ok(isLockdError(error), String(error));
    assert.equal(error.status, 503, `${error.code}: ${error.message}`);
    assert.ok(error.retryAfterSeconds !== undefined, 'a 503 says when to retry');
    return true;
  });
  const elapsedMs = Date.now() - startedMs;
  assert.ok(elapsedMs < answerBoundMs, `answered after ${elapsedMs} ms`);
}

async function lockTable(node: LockNode): Promise<string[]> {
  const page = await node.list({ prefix: '', after: '', limit: 1_000 });
  return page.locks.map(
    (lock) => `${lock.name}:${lock.holders.map((hold) => hold.token).join(',')}`,
  );
}

describe('a partition', () => {
  test('the majority serves, the minority answers 503 in bounded time, healing converges', async () => {
    const cluster = await TestCluster.start({ size: 3 });
    clusters.push(cluster);
    const old = await cluster.leader(1);
    const [left, right] = [1, 2, 3].filter((id) => id !== old.id);
    assert.ok(left !== undefined && right !== undefined);
    const before = tokenOf(await old.node.acquire(acquireRequest('before', { owner: 'a' })));

    // A request queued on the old leader for the held lock: answered when leadership moves.
    const queued = assert.rejects(
      old.node.acquire(acquireRequest('before', { owner: 'q', waitMs: 60_000 })),
      (error: unknown) => {
        assert.ok(isLockdError(error), String(error));
        assert.equal(error.code, 'LOCKD_ERR_NOT_LEADER');
        return true;
      },
    );
    await untilWaiters(old.node, 'before', 1);

    // The old leader is cut off from both others, both ways.
    old.node.setPeerFaults([left, right]);
    cluster.node(left).setPeerFaults([old.id]);
    cluster.node(right).setPeerFaults([old.id]);
    // At once, while the old leader still believes it leads: its write cannot commit and its
    // read cannot be confirmed; both are answered 503 when it steps down, or at their bound.
    const early = Promise.all([
      assertUnavailableWithinBound(() => old.node.acquire(acquireRequest('early', { owner: 'x' }))),
      assertUnavailableWithinBound(() => old.node.describe('before', { stale: false })),
    ]);

    const majorityWrite = await retryUnavailable(() =>
      cluster.node(left).acquire(acquireRequest('majority', { owner: 'm' })),
    );
    const majorityLeader = await cluster.leader(left);
    assert.notEqual(majorityLeader.id, old.id);
    assert.ok(tokenOf(majorityWrite) > before);

    await early;
    await queued;
    await assertUnavailableWithinBound(() =>
      old.node.acquire(acquireRequest('minority', { owner: 'x' })),
    );
    await assertUnavailableWithinBound(() => old.node.describe('majority', { stale: false }));
    // A stale read answers at once from what the cut-off node has.
    assert.equal(await old.node.describe('majority', { stale: true }), undefined);

    for (const id of [1, 2, 3]) cluster.node(id).setPeerFaults([]);
    // The old leader learns the new term and catches up; its uncommitted write is gone.
    await cluster.untilServing(old.id);
    const view = await old.node.describe('majority', { stale: false });
    assert.equal(view?.holders[0]?.token, tokenOf(majorityWrite));
    const tables = await Promise.all([1, 2, 3].map((id) => lockTable(cluster.node(id))));
    assert.deepEqual(tables[1], tables[0]);
    assert.deepEqual(tables[2], tables[0]);
    assert.deepEqual(
      tables[0]?.map((row) => row.split(':')[0]),
      ['before', 'majority'],
      'the minority write never took effect',
    );
  });

  test('setPeerFaults is refused where fault injection is disabled', async () => {
    const cluster = await TestCluster.start({ size: 1, allowFaultInjection: false });
    clusters.push(cluster);
    assert.throws(
      () => cluster.node(1).setPeerFaults([2]),
      (error: unknown) =>
        error instanceof LockdError &&
        error.code === 'LOCKD_ERR_BAD_REQUEST' &&
        error.message === 'fault injection is disabled',
    );
  });
});
