import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  confState,
  decodeConfChangeEntry,
  encodeConfChangeEntry,
} from '../../src/raft/configuration.js';
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode } from '../../src/raft/raw-node.js';
import { type ConfChange, type Entry, EntryType, emptyHardState } from '../../src/raft/types.js';
import {
  appendEntries,
  appendResponse,
  drain,
  electionTicks,
  electNode1,
  entry,
  newNode,
  take,
  tickUntilCampaign,
  voteResponse,
} from './helpers.js';
import { bytes, Network } from './network.js';

function confEntry(
  index: number,
  term: number,
  change: ConfChange,
  voters: number[],
  learners: number[],
): Entry {
  const data = encodeConfChangeEntry({ change, confState: confState(voters, learners) });
  return { index, term, type: EntryType.confChange, data };
}

/** Proposes `change` on the leader and runs until every running node applied it. */
function changeAndWait(network: Network, leader: number, change: ConfChange): number {
  const result = network.proposeConfChange(leader, change);
  assert.ok(result.ok, `change refused: ${JSON.stringify(result)}`);
  network.runUntil(
    () =>
      network
        .membersSeenBy(leader)
        .every((id) =>
          network.isAlive(id) ? network.simulated(id).applied.length >= result.index : true,
        ),
    50,
  );
  return result.index;
}

describe('membership changes (thesis §4)', () => {
  test('a node joins as a learner, catches up, is promoted, and a voter is removed', () => {
    const network = new Network({ ids: [1, 2, 3, 4], voters: [1, 2, 3], seed: 50 });
    const leader = network.electLeader();
    for (let n = 0; n < 20; n++) network.propose(leader, bytes(`before ${n}`));
    network.stabilize();
    assert.deepEqual(network.node(4).status().voters, [], 'the joining node knows nothing yet');

    const added = changeAndWait(network, leader, { type: 'add-learner', node: 4 });
    assert.deepEqual(
      [network.node(4).status().voters, network.node(4).status().learners],
      [[1, 2, 3], [4]],
    );
    assert.deepEqual(network.simulated(4).applied, network.simulated(leader).applied);
    const record = decodeConfChangeEntry(
      network.simulated(4).applied[added - 1]?.data ?? bytes(''),
    );
    assert.deepEqual(record?.change, { type: 'add-learner', node: 4 }, 'the host sees the change');

    changeAndWait(network, leader, { type: 'promote-learner', node: 4 });
    assert.deepEqual(network.node(4).status().voters, [1, 2, 3, 4]);

    const removed = network.ids.find((id) => id !== leader && id !== 4) ?? 0;
    changeAndWait(network, leader, { type: 'remove-voter', node: removed });
    const voters = [1, 2, 3, 4].filter((id) => id !== removed);
    for (const id of voters) assert.deepEqual(network.node(id).status().voters, voters);
    // The removed node gets nothing more, and commitment needs 3 of the 3 remaining voters' majority.
    const write = network.propose(leader, bytes('after'));
    assert.ok(write.ok);
    network.runUntil(
      () => voters.every((id) => network.simulated(id).applied.length >= write.index),
      10,
    );
    assert.ok(network.simulated(removed).applied.length < write.index);
    network.checkSafety();
  });

  test('removing the leader: it leads until the change commits, then hands over and stays out', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 51 });
    const leader = network.electLeader();
    const term = network.node(leader).status().term;
    const result = network.proposeConfChange(leader, { type: 'remove-voter', node: leader });
    assert.ok(result.ok);
    network.stabilize(); // No tick: TimeoutNow hands leadership over at once.
    assert.equal(network.node(leader).status().role, 'follower');
    const next = network.currentLeader();
    assert.ok(next !== undefined && next !== leader);
    assert.equal(network.node(next).status().term, term + 1);
    network.runFor(10 * electionTicks);
    assert.deepEqual(
      network.leaders(),
      [{ id: next, term: term + 1 }],
      'the removed node never campaigns',
    );
    const write = network.propose(next, bytes('w'));
    assert.ok(write.ok);
    network.stabilize();
    assert.ok(network.node(next).status().commitIndex >= write.index);
  });

  test('the single-server change rule: no change before the leader commits in its term, one at a time', () => {
    const node = newNode({ peers: [1, 2, 3, 4] });
    tickUntilCampaign(node);
    node.step(voteResponse({ from: 2, term: 1, granted: true }));
    node.step(voteResponse({ from: 3, term: 1, granted: true }));
    const add = { type: 'add-learner', node: 5 } as const;
    const early = node.proposeConfChange(add);
    assert.deepEqual([early.ok, early.ok ? '' : early.reason], [false, 'leader-not-ready']);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
    node.step(appendResponse({ from: 3, term: 1, matchIndex: 1 }));
    assert.equal(node.status().commitIndex, 1, 'the noop of term 1 is committed');
    assert.deepEqual(node.proposeConfChange(add), { ok: true, index: 2, term: 1 });
    const second = node.proposeConfChange({ type: 'remove-voter', node: 4 });
    assert.deepEqual([second.ok, second.ok ? '' : second.reason], [false, 'change-pending']);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 2 }));
    node.step(appendResponse({ from: 3, term: 1, matchIndex: 2 }));
    assert.deepEqual(node.proposeConfChange({ type: 'remove-voter', node: 4 }), {
      ok: true,
      index: 3,
      term: 1,
    });
  });

  test('changes that do not apply are refused with the reason', () => {
    const node = newNode({ peers: [1, 2], learners: [3], maxEntriesPerAppend: 1 });
    electNode1(node);
    node.propose(bytes('a'));
    node.propose(bytes('b'));
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 3 }));
    const refusal = (change: ConfChange) => {
      const result = node.proposeConfChange(change);
      return result.ok ? 'accepted' : `${result.reason}: ${result.detail}`;
    };
    assert.equal(
      refusal({ type: 'add-learner', node: 2 }),
      'invalid-change: node 2 is already a member',
    );
    assert.equal(
      refusal({ type: 'promote-learner', node: 2 }),
      'invalid-change: node 2 is not a learner',
    );
    assert.equal(
      refusal({ type: 'remove-voter', node: 3 }),
      'invalid-change: node 3 is not a voter',
    );
    assert.equal(
      refusal({ type: 'remove-learner', node: 9 }),
      'invalid-change: node 9 is not a learner',
    );
    assert.equal(
      refusal({ type: 'promote-learner', node: 3 }),
      'learner-behind: learner 3 matches up to 0',
    );
    const single = new RawNode({
      id: 1,
      peers: [1],
      electionTicks: 10,
      heartbeatTicks: 1,
      random: new SeededRandom(1),
      persisted: { hardState: emptyHardState, entries: [] },
    });
    const last = single.proposeConfChange({ type: 'remove-voter', node: 1 });
    assert.deepEqual(last.ok ? '' : last.detail, 'node 1 is the last voter');
  });

  test('learners do not count towards commitment and never campaign', () => {
    const leader = newNode({ peers: [1, 2], learners: [3] });
    electNode1(leader);
    leader.step(appendResponse({ from: 3, term: 1, matchIndex: 1 }));
    assert.equal(leader.status().commitIndex, 0, "a learner's copy does not count");
    leader.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
    assert.equal(leader.status().commitIndex, 1);
    const learner = newNode({ peers: [2, 3], learners: [1] });
    for (let tick = 0; tick < 10 * electionTicks; tick++) learner.tick();
    assert.deepEqual([learner.status().role, learner.status().term], ['follower', 0]);
  });

  test('a membership takes effect when appended and is undone when its entry is truncated (thesis §4.1)', () => {
    const node = newNode();
    node.step(
      appendEntries({
        from: 2,
        term: 1,
        entries: [entry(1, 1), confEntry(2, 1, { type: 'add-learner', node: 4 }, [1, 2, 3], [4])],
        commit: 1,
      }),
    );
    assert.deepEqual(node.status().learners, [4], 'uncommitted, yet in effect');
    node.step(
      appendEntries({ from: 3, term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [entry(2, 2)] }),
    );
    assert.deepEqual([node.status().voters, node.status().learners], [[1, 2, 3], []]);
    drain(node);
  });

  test('a node removed by an entry it holds stops campaigning; one added as voter starts', () => {
    const node = newNode({ seed: 4 });
    node.step(
      appendEntries({
        from: 2,
        term: 1,
        entries: [confEntry(1, 1, { type: 'remove-voter', node: 1 }, [2, 3], [])],
      }),
    );
    for (let tick = 0; tick < 10 * electionTicks; tick++) node.tick();
    assert.deepEqual([node.status().role, node.status().term], ['follower', 1]);
    const joining = newNode({ peers: [], seed: 4 });
    for (let tick = 0; tick < 10 * electionTicks; tick++) joining.tick();
    assert.equal(joining.status().term, 0, 'no membership, no campaign');
    joining.step(
      appendEntries({
        from: 2,
        term: 1,
        entries: [confEntry(1, 1, { type: 'promote-learner', node: 1 }, [1, 2], [])],
      }),
    );
    take(joining);
    for (let tick = 0; tick < 2 * electionTicks; tick++) joining.tick();
    assert.equal(joining.status().role, 'candidate', 'a voter now, it times out and campaigns');
  });
});
