// Three LockNodes in one process on real peer links: writes through any node (a follower forwards
// them), linearizable reads through any node (ReadIndex), a leader that stops, and a waiting
// acquire forwarded by a follower whose client goes away.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LockdError } from '../../src/errors.js';
import { decodeCommand } from '../../src/locks/codec.js';
import { Membership } from '../../src/node/membership.js';
import { type Entry, EntryType } from '../../src/raft/types.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import {
  nextEvent,
  retryUnavailable,
  TestCluster,
  tokenOf,
  untilWaiters,
} from './cluster-helpers.js';
import { acquireRequest, releaseRequest } from './helpers.js';

const clusters: TestCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.close();
});

async function startCluster(
  options: ConstructorParameters<typeof TestCluster>[0],
): Promise<TestCluster> {
  const cluster = await TestCluster.start(options);
  clusters.push(cluster);
  return cluster;
}

/** Whether `entry` is an acquire of `name`. */
function acquires(entry: Entry, name: string): boolean {
  if (entry.type !== EntryType.normal || Membership.isNodeEntry(entry)) return false;
  const command = decodeCommand(entry.data);
  return command.kind === 'acquire' && command.name === name;
}

/**
 * MemoryStorage whose disk stalls, once armed, right after it stores an acquire of the armed name:
 * every later save waits until resume().
 */
class StallingStorage extends MemoryStorage {
  #armedFor: string | undefined;
  #stall: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  /** Saves that found the disk stalled. */
  stalledSaves = 0;
  resumed = false;

  stallAfter(name: string): void {
    this.#armedFor = name;
  }

  resume(): void {
    this.resumed = true;
    this.#resume?.();
    this.#stall = undefined;
  }

  override async save(batch: Parameters<MemoryStorage['save']>[0]): Promise<void> {
    if (this.#stall !== undefined) {
      this.stalledSaves++;
      await this.#stall;
    }
    await super.save(batch);
    const name = this.#armedFor;
    if (name === undefined || !batch.entries.some((entry) => acquires(entry, name))) return;
    this.#armedFor = undefined;
    this.#stall = new Promise((resolve) => {
      this.#resume = resolve;
    });
  }
}

describe('a three-node cluster', () => {
  test('writes through every node, reads through every node', async () => {
    const cluster = await startCluster({ size: 3 });
    const leader = await cluster.leader(1);
    const tokens = new Map<string, number>();
    for (const id of [1, 2, 3]) {
      const name = `lock-${id}`;
      const result = await retryUnavailable(() =>
        cluster.node(id).acquire(acquireRequest(name, { owner: `owner-${id}` })),
      );
      tokens.set(name, tokenOf(result));
    }
    for (const id of [1, 2, 3]) {
      for (const [name, token] of tokens) {
        const view = await cluster.node(id).describe(name, { stale: false });
        assert.deepEqual(
          view?.holders.map((hold) => [hold.owner, hold.token]),
          [[`owner-${name.slice(5)}`, token]],
          `node ${id} reads ${name}`,
        );
      }
    }
    // A release through a follower, a conflict answered through another.
    const follower = [1, 2, 3].find((id) => id !== leader.id) ?? 0;
    assert.deepEqual(
      await cluster.node(follower).release(releaseRequest('lock-1', { owner: 'owner-1' })),
      { outcome: 'released', name: 'lock-1', token: tokens.get('lock-1') },
    );
    const conflict = await cluster.node(follower).acquire(acquireRequest('lock-2', { owner: 'x' }));
    assert.equal(conflict.outcome, 'conflict');
    for (const id of [1, 2, 3]) {
      assert.equal(await cluster.node(id).describe('lock-1', { stale: false }), undefined);
    }
    const status = cluster.node(leader.id).clusterStatus();
    assert.equal(status.role, 'leader');
    assert.deepEqual(
      status.members.map((member) => [member.id, member.role, member.reachable]),
      [1, 2, 3].map((id) => [id, id === leader.id ? 'leader' : 'follower', true]),
    );
    assert.ok(status.members.every((member) => typeof member.matchIndex === 'number'));
  });

  test('a read on a follower sees the write acknowledged just before it (ReadIndex)', async () => {
    const cluster = await startCluster({ size: 3 });
    const leader = await cluster.leader(1);
    const followers = [1, 2, 3].filter((id) => id !== leader.id);
    for (let round = 0; round < 20; round++) {
      const name = `fresh-${round}`;
      const token = tokenOf(await leader.node.acquire(acquireRequest(name, { owner: 'w' })));
      for (const id of followers) {
        const view = await cluster.node(id).describe(name, { stale: false });
        assert.equal(view?.holders[0]?.token, token, `round ${round}, node ${id}`);
      }
    }
  });

  test('a leader answers a committed write without waiting for its next batch to reach its disk', async () => {
    const disks = new Map<number, StallingStorage>();
    const cluster = await startCluster({
      size: 3,
      memoryStorage: (id) => {
        const disk = new StallingStorage();
        disks.set(id, disk);
        return disk;
      },
    });
    const leader = await cluster.leader(1);
    // Whatever the leader proposed as it took office (member addresses) commits before this.
    tokenOf(await leader.node.acquire(acquireRequest('settled', { owner: 'a' })));
    const disk = disks.get(leader.id);
    assert.ok(disk !== undefined);
    // The entry is on the leader's disk; the batch that learns it committed (and persists the new
    // commit index) finds the disk stalled. Without an answer, the disk resumes after 5 s.
    disk.stallAfter('early');
    const bound = setTimeout(() => disk.resume(), 5_000);
    const answered = await leader.node
      .acquire(acquireRequest('early', { owner: 'a' }))
      .then((result) => ({ result, resumed: disk.resumed, stalledSaves: disk.stalledSaves }))
      .finally(() => clearTimeout(bound));
    assert.equal(answered.resumed, false, 'the answer waited for the stalled disk');
    assert.equal(answered.stalledSaves, 1);
    const token = tokenOf(answered.result);
    disk.resume();
    for (const id of [1, 2, 3]) {
      const view = await cluster.node(id).describe('early', { stale: false });
      assert.deepEqual(
        view?.holders.map((hold) => [hold.owner, hold.token]),
        [['a', token]],
      );
    }
    assert.deepEqual(
      [...cluster.nodes.values()].flatMap((member) => member.fatal),
      [],
    );
  });

  test('the leader stops: a new one serves, and every acknowledged lock is still held', async () => {
    const cluster = await startCluster({ size: 3 });
    const old = await cluster.leader(1);
    // A short lease: the next leader extends it by its TTL, then expires it (its duties started).
    const leased = tokenOf(
      await old.node.acquire(acquireRequest('leased', { owner: 'l', ttlMs: 300 })),
    );
    const held = new Map<string, number>();
    for (let index = 0; index < 5; index++) {
      const name = `held-${index}`;
      held.set(name, tokenOf(await old.node.acquire(acquireRequest(name, { owner: 'keep' }))));
    }
    const survivor = [1, 2, 3].find((id) => id !== old.id) ?? 0;
    const expired = nextEvent(
      cluster.node(survivor),
      (event) => event.type === 'expire' && event.token === leased,
    );
    await cluster.stop(old.id);
    // The write waits (bounded) for the election and is then forwarded or served.
    const after = await retryUnavailable(() =>
      cluster.node(survivor).acquire(acquireRequest('after', { owner: 'new' })),
    );
    assert.ok(tokenOf(after) > Math.max(...held.values()));
    const leader = await cluster.leader(survivor);
    assert.notEqual(leader.id, old.id);
    assert.ok(leader.node.clusterStatus().term > 1);
    for (const id of [...cluster.nodes.keys()]) {
      for (const [name, token] of held) {
        const view = await cluster.node(id).describe(name, { stale: false });
        assert.deepEqual(
          view?.holders.map((hold) => [hold.owner, hold.token]),
          [['keep', token]],
        );
      }
    }
    // The new leader's expire entry applies on every node: its event comes.
    await expired;
    assert.equal(await leader.node.describe('leased', { stale: false }), undefined);
  });

  test('a waiting acquire forwarded by a follower: granted on release, or withdrawn when its client goes', async () => {
    const cluster = await startCluster({ size: 3 });
    const leader = await cluster.leader(1);
    const follower = cluster.node([1, 2, 3].find((id) => id !== leader.id) ?? 0);
    await leader.node.acquire(acquireRequest('queue', { owner: 'a' }));

    // b waits through the follower; the release hands the lock to b.
    const waitingB = follower.acquire(acquireRequest('queue', { owner: 'b', waitMs: 10_000 }));
    await untilWaiters(leader.node, 'queue', 1);
    await leader.node.release(releaseRequest('queue', { owner: 'a' }));
    const granted = await waitingB;
    assert.equal(granted.outcome === 'acquired' ? granted.grant.owner : null, 'b');

    // c waits through the follower; its client goes away: the leader's queue forgets it.
    const gone = new AbortController();
    const waitingC = follower.acquire(
      acquireRequest('queue', { owner: 'c', waitMs: 10_000, signal: gone.signal }),
    );
    await untilWaiters(leader.node, 'queue', 1);
    gone.abort();
    await assert.rejects(waitingC, (error: unknown) => {
      assert.ok(error instanceof LockdError, String(error));
      assert.equal(error.code, 'LOCKD_ERR_BAD_REQUEST');
      assert.match(error.message, /the client went away/);
      return true;
    });
    assert.deepEqual((await leader.node.describe('queue', { stale: false }))?.waiters, []);
    await follower.release(releaseRequest('queue', { owner: 'b' }));
    // Nobody was left to hand the lock to.
    assert.equal(await follower.describe('queue', { stale: false }), undefined);
  });
});
