import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EntryType, type NodeId } from '../../src/raft/types.js';
import { bytes, Network, text } from './network.js';

/** The commands (not noops) a node applied, as text. */
function commands(network: Network, id: NodeId): string[] {
  return network
    .simulated(id)
    .applied.filter((entry) => entry.type === EntryType.normal)
    .map((entry) => text(entry.data));
}

function allApplied(network: Network, index: number): boolean {
  return network.aliveIds().every((id) => network.simulated(id).applied.length >= index);
}

function proposeAll(network: Network, leader: NodeId, prefix: string, count: number): number {
  let last = 0;
  for (let n = 0; n < count; n++) {
    const result = network.propose(leader, bytes(`${prefix}${n}`));
    assert.equal(result.ok, true);
    if (result.ok) last = result.index;
  }
  return last;
}

describe('a cluster on the in-memory network', () => {
  test('a 3-node cluster elects exactly one leader per term, followed by all', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const network = new Network({ ids: [1, 2, 3], seed });
      const leader = network.electLeader();
      assert.equal(network.leaders().length, 1);
      const term = network.node(leader).status().term;
      for (const id of network.ids) {
        assert.deepEqual(
          [network.node(id).status().leader, network.node(id).status().term],
          [leader, term],
        );
      }
      // The leader keeps its followers with heartbeats: no new election for a long while.
      for (let tick = 0; tick < 100; tick++) {
        network.tickAll();
        network.stabilize();
      }
      assert.deepEqual(network.leaders(), [{ id: leader, term }]);
      for (const [, elected] of network.safety.leaderOfTerm)
        assert.ok(network.ids.includes(elected));
    }
  });

  test('proposals replicate and commit, and every node applies the same sequence', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 11 });
    const leader = network.electLeader();
    const last = proposeAll(network, leader, 'cmd', 50);
    network.runUntil(() => allApplied(network, last), 10);
    const expected = Array.from({ length: 50 }, (_, n) => `cmd${n}`);
    for (const id of network.ids) assert.deepEqual(commands(network, id), expected);
    network.checkSafety();
  });

  test('a partitioned leader is replaced, and its uncommitted entries are overwritten on healing', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 5 });
    const oldLeader = network.electLeader();
    const oldTerm = network.node(oldLeader).status().term;
    const committed = proposeAll(network, oldLeader, 'before', 3);
    network.runUntil(() => allApplied(network, committed), 10);

    network.isolate(oldLeader);
    proposeAll(network, oldLeader, 'lost', 3);
    network.stabilize();
    assert.equal(network.node(oldLeader).status().commitIndex, committed, 'no quorum, no commit');

    const others = network.ids.filter((id) => id !== oldLeader);
    network.runUntil(() => others.some((id) => network.node(id).status().role === 'leader'), 200);
    const newLeader = others.find((id) => network.node(id).status().role === 'leader');
    assert.ok(newLeader !== undefined);
    const last = proposeAll(network, newLeader, 'after', 2);
    network.runUntil(() => others.every((id) => network.simulated(id).applied.length >= last), 20);
    // CheckQuorum: cut off from every follower for an election timeout, it stepped down; PreVote:
    // it has not raised its term since, however long it was cut off.
    assert.deepEqual(
      [network.node(oldLeader).status().role, network.node(oldLeader).status().term],
      ['follower', oldTerm],
    );

    network.heal();
    network.runUntil(() => allApplied(network, last), 50);
    assert.equal(network.node(oldLeader).status().leader, newLeader);
    const expected = ['before0', 'before1', 'before2', 'after0', 'after1'];
    for (const id of network.ids) assert.deepEqual(commands(network, id), expected);
    const oldLog = network.simulated(oldLeader).durable.entries.map((entry) => text(entry.data));
    assert.ok(!oldLog.some((data) => data.startsWith('lost')), 'the uncommitted entries are gone');
    network.checkSafety();
  });

  test('a restarted follower, rebuilt from its persisted state, catches up', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 3 });
    const leader = network.electLeader();
    const follower = network.ids.find((id) => id !== leader) ?? 0;
    const first = proposeAll(network, leader, 'a', 20);
    network.runUntil(() => allApplied(network, first), 10);

    network.crash(follower);
    const last = proposeAll(network, leader, 'b', 30);
    network.runUntil(() => network.node(leader).status().commitIndex >= last, 10);

    network.restart(follower);
    assert.equal(network.node(follower).status().commitIndex, first);
    network.runUntil(() => allApplied(network, last), 20);
    assert.deepEqual(commands(network, follower), commands(network, leader));
    assert.equal(commands(network, follower).length, 50);
  });

  test('§5.3 fast backtracking repairs a long divergent suffix in a few round trips', () => {
    const network = new Network({ ids: [1, 2, 3, 4, 5], seed: 8 });
    const leaderOf = (ids: readonly NodeId[]) =>
      ids.find((id) => network.node(id).status().role === 'leader');
    // A leads term 1, is cut off, and piles up 500 entries nobody else has.
    const stale = network.electLeader();
    network.isolate(stale);
    proposeAll(network, stale, 'stale', 500);
    network.stabilize();
    // The others elect B, which commits 600 entries of its own term.
    const rest = network.ids.filter((id) => id !== stale);
    network.runUntil(() => leaderOf(rest) !== undefined, 200);
    const second = leaderOf(rest) ?? 0;
    const committed = proposeAll(network, second, 'second', 600);
    network.runUntil(
      () => rest.every((id) => network.simulated(id).applied.length >= committed),
      50,
    );
    // B is cut off too; C, elected in a third term, knows nothing of A's log and probes it from
    // its own last index, far above where the two diverge.
    const third = rest.filter((id) => id !== second);
    network.partition([stale], [second], third);
    network.runUntil(() => leaderOf(third) !== undefined, 200);
    const newLeader = leaderOf(third) ?? 0;
    const last = proposeAll(network, newLeader, 'third', 5);
    network.stabilize();

    let rejections = 0;
    network.onSend = (message) => {
      if (message.type === 'AppendEntriesResponse' && !message.success && message.from === stale) {
        rejections++;
      }
    };
    network.partition([stale, ...third], [second]);
    network.runUntil(
      () => [stale, ...third].every((id) => network.simulated(id).applied.length >= last),
      50,
    );
    // One step back per entry would take hundreds of rejections: the hints skip whole terms.
    assert.ok(rejections >= 1 && rejections <= 3, `${rejections} rejections`);
    assert.deepEqual(commands(network, stale), commands(network, newLeader));
    network.checkSafety();
  });

  test('a 5-node cluster keeps committing with two nodes down, and they catch up', () => {
    const network = new Network({ ids: [1, 2, 3, 4, 5], seed: 21 });
    const leader = network.electLeader();
    const [down1, down2] = network.ids.filter((id) => id !== leader);
    network.crash(down1 ?? 0);
    network.crash(down2 ?? 0);
    const last = proposeAll(network, leader, 'x', 10);
    network.runUntil(() => allApplied(network, last), 10);
    network.restart(down1 ?? 0);
    network.restart(down2 ?? 0);
    network.runUntil(() => allApplied(network, last), 20);
    for (const id of network.ids) assert.equal(commands(network, id).length, 10);
  });

  test('proposals commit despite message loss and reordering', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 99, dropRate: 0.2, reorder: true });
    let proposed = 0;
    const wanted = 30;
    network.runUntil(() => {
      const leader = network.currentLeader();
      if (leader !== undefined && commands(network, leader).length < wanted) {
        const status = network.node(leader).status();
        // A few at a time: some are lost when leadership changes, and are proposed anew.
        if (status.lastIndex - status.commitIndex < 5)
          network.propose(leader, bytes(`m${proposed++}`));
      }
      const applied = network.ids.map((id) => commands(network, id).join());
      return applied.every((list) => list === applied[0]) && commands(network, 1).length >= wanted;
    }, 3000);
    network.checkSafety();
  });
});
