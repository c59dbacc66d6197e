// Membership changes on a running cluster: a fourth node joins (learner, catch-up, promotion) and
// serves; a follower is removed; the leader is removed (it hands over). Addresses travel in the
// log, so every node can reach every member whoever leads.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LockdError } from '../../src/errors.js';
import { retryUnavailable, TestCluster, tokenOf, voters } from './cluster-helpers.js';
import { acquireRequest } from './helpers.js';

const clusters: TestCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.close();
});

describe('membership changes', () => {
  test('a fourth node joins through a follower, then a follower and the leader are removed', async () => {
    const cluster = await TestCluster.start({ size: 3 });
    clusters.push(cluster);
    const leader = await cluster.leader(1);
    const follower = [1, 2, 3].find((id) => id !== leader.id) ?? 0;
    const first = tokenOf(await leader.node.acquire(acquireRequest('first', { owner: 'a' })));

    // The new node knows nobody; it is told the members (as the CLI does from GET /cluster).
    const joining = await cluster.startJoining(4);
    assert.deepEqual(joining.node.clusterStatus().members, []);
    joining.node.learnMembers(cluster.contacts());
    const added = await cluster.node(follower).addMember({
      id: 4,
      clientAddress: '127.0.0.1:0',
      peerAddress: `127.0.0.1:${joining.peerPort}`,
    });
    assert.deepEqual(voters(added), [1, 2, 3, 4]);
    assert.equal(added.members.find((member) => member.id === 4)?.role, 'follower');

    // The new member serves reads and writes.
    await cluster.untilServing(4);
    const view = await joining.node.describe('first', { stale: false });
    assert.equal(view?.holders[0]?.token, first);
    const written = tokenOf(await joining.node.acquire(acquireRequest('from-4', { owner: 'd' })));
    assert.equal(
      (await leader.node.describe('from-4', { stale: false }))?.holders[0]?.token,
      written,
    );
    // Every node learned node 4's address from the log.
    for (const id of [1, 2, 3]) {
      const four = cluster
        .node(id)
        .clusterStatus()
        .members.find((member) => member.id === 4);
      assert.equal(four?.peerAddress, `127.0.0.1:${joining.peerPort}`, `node ${id}`);
    }
    // Adding it again changes nothing.
    assert.deepEqual(
      voters(
        await leader.node.addMember({
          id: 4,
          clientAddress: '127.0.0.1:0',
          peerAddress: `127.0.0.1:${joining.peerPort}`,
        }),
      ),
      [1, 2, 3, 4],
    );

    // A follower goes.
    const removed = await leader.node.removeMember(follower);
    assert.deepEqual(
      voters(removed),
      [1, 2, 3, 4].filter((id) => id !== follower),
    );
    await cluster.stop(follower);
    await assert.rejects(leader.node.removeMember(follower), (error: unknown) => {
      assert.ok(error instanceof LockdError);
      assert.equal(error.code, 'LOCKD_ERR_NOT_FOUND');
      return true;
    });

    // The leader goes, asked through another node: it hands over once its removal commits.
    const other = [1, 2, 3, 4].find((id) => id !== follower && id !== leader.id) ?? 0;
    const withoutLeader = await cluster.node(other).removeMember(leader.id);
    assert.ok(!voters(withoutLeader).includes(leader.id));
    const remaining = [1, 2, 3, 4].filter((id) => id !== follower && id !== leader.id);
    const last = await retryUnavailable(() =>
      cluster.node(other).acquire(acquireRequest('last', { owner: 'z' })),
    );
    const next = await cluster.leader(other);
    assert.ok(remaining.includes(next.id), `node ${next.id} leads`);
    for (const id of remaining) {
      const status = cluster.node(id).clusterStatus();
      assert.deepEqual(voters(status), remaining);
      const seen = await cluster.node(id).describe('last', { stale: false });
      assert.equal(seen?.holders[0]?.token, tokenOf(last));
      const firstSeen = await cluster.node(id).describe('first', { stale: false });
      assert.equal(firstSeen?.holders[0]?.token, first);
    }
    assert.equal(leader.node.clusterStatus().role, 'follower');
  });

  test('bad requests are refused before anything is proposed', async () => {
    const cluster = await TestCluster.start({ size: 1 });
    clusters.push(cluster);
    await cluster.untilServing(1);
    const node = cluster.node(1);
    const refused = (pattern: RegExp) => (error: unknown) => {
      assert.ok(error instanceof LockdError, String(error));
      assert.equal(error.code, 'LOCKD_ERR_BAD_REQUEST');
      assert.match(error.message, pattern);
      return true;
    };
    await assert.rejects(
      node.addMember({ id: 0, clientAddress: '127.0.0.1:1', peerAddress: '127.0.0.1:2' }),
      refused(/node id 0 is not a positive integer/),
    );
    await assert.rejects(
      node.addMember({ id: 2, clientAddress: 'nowhere', peerAddress: '127.0.0.1:2' }),
      refused(/client address of node 2 must be host:port/),
    );
    await assert.rejects(
      node.addMember({ id: 2, clientAddress: '127.0.0.1:1', peerAddress: '127.0.0.1:0' }),
      refused(/peer address of node 2 must be host:port with a port/),
    );
    await assert.rejects(node.removeMember(1), refused(/node 1 is the last voter/));
    assert.throws(
      () => node.learnMembers([{ id: 5, clientAddress: '', peerAddress: 'nowhere' }]),
      refused(/peer address of node 5 must be host:port/),
    );
    // Members whose addresses the answering node did not know (empty) are skipped, not refused.
    assert.doesNotThrow(() => node.learnMembers([{ id: 6, clientAddress: '', peerAddress: '' }]));
  });
});
