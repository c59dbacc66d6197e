import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TimeoutNow } from '../../src/raft/types.js';
import {
  appendEntries,
  appendResponse,
  drain,
  electionTicks,
  electNode1,
  newNode,
  ofType,
  take,
} from './helpers.js';
import { bytes, Network } from './network.js';

const data = bytes('x');

describe('leadership transfer (thesis §3.10)', () => {
  test('an up-to-date follower is told to campaign and leads the next term, with no timeout waited', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 40 });
    const leader = network.electLeader();
    const term = network.node(leader).status().term;
    const target = network.ids.find((id) => id !== leader) ?? 0;
    assert.deepEqual(network.node(leader).transferLeadership(target), { ok: true });
    network.stabilize(); // No tick: the handover takes messages only.
    for (const id of network.ids) {
      assert.deepEqual(
        [network.node(id).status().leader, network.node(id).status().term],
        [target, term + 1],
      );
    }
    const write = network.propose(target, data);
    assert.ok(write.ok);
    network.stabilize();
    assert.ok(network.ids.every((id) => network.simulated(id).applied.length >= write.index));
  });

  test('a lagging target is first brought up to date, then sent TimeoutNow', () => {
    const node = newNode();
    electNode1(node);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
    node.step(appendResponse({ from: 3, term: 1, matchIndex: 1 }));
    node.propose(data);
    drain(node);
    node.transferLeadership(3);
    const first = take(node);
    assert.equal(ofType(first.messages, 'TimeoutNow').length, 0, 'node 3 lacks entry 2');
    node.step(appendResponse({ from: 3, term: 1, matchIndex: 2 }));
    const timeoutNow = ofType(take(node).messages, 'TimeoutNow');
    assert.deepEqual(
      timeoutNow.map((m) => [m.to, m.term]),
      [[3, 1]],
    );
  });

  test('proposals are refused during a transfer, which is abandoned after an election timeout', () => {
    const node = newNode();
    electNode1(node);
    node.transferLeadership(3);
    assert.deepEqual(node.propose(data), {
      ok: false,
      reason: 'transferring-leadership',
      leader: 1,
    });
    for (let tick = 1; tick < electionTicks; tick++) node.tick();
    assert.equal(node.propose(data).ok, false);
    node.tick();
    assert.equal(node.propose(data).ok, true);
    assert.equal(node.status().role, 'leader');
  });

  test('only a leader transfers, and only to a voter', () => {
    const node = newNode();
    assert.deepEqual(node.transferLeadership(2), { ok: false, reason: 'not-leader', leader: 0 });
    electNode1(node);
    assert.deepEqual(node.transferLeadership(9), { ok: false, reason: 'not-a-voter', leader: 1 });
    assert.deepEqual(node.transferLeadership(1), { ok: true }, 'to itself: nothing to do');
    assert.equal(node.propose(data).ok, true);
  });

  test('TimeoutNow from its leader makes a follower campaign at once, without a pre-vote', () => {
    const node = newNode({ preVote: true, checkQuorum: true });
    node.step(appendEntries({ from: 2, term: 1 }));
    drain(node);
    const timeoutNow: TimeoutNow = { type: 'TimeoutNow', from: 2, to: 1, term: 1 };
    node.step(timeoutNow);
    assert.deepEqual([node.status().role, node.status().term], ['candidate', 2]);
    const requests = ofType(take(node).messages, 'RequestVote');
    assert.deepEqual(
      requests.map((m) => [m.to, m.term, m.leadershipTransfer]),
      [
        [2, 2, true],
        [3, 2, true],
      ],
    );
  });

  test('TimeoutNow from anyone but the leader is ignored', () => {
    const node = newNode();
    node.step(appendEntries({ from: 2, term: 1 }));
    node.step({ type: 'TimeoutNow', from: 3, to: 1, term: 1 });
    assert.deepEqual([node.status().role, node.status().term], ['follower', 1]);
  });
});
