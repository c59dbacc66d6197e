import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode } from '../../src/raft/raw-node.js';
import { emptyHardState, type HeartbeatResponse } from '../../src/raft/types.js';
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

function heartbeatResponse(from: number, readRound: number, term = 1): HeartbeatResponse {
  return { type: 'HeartbeatResponse', from, to: 1, term, readRound };
}

/** Node 1 leads term 1 and has committed its noop (index 1) with node 2. */
function committedLeader(options: Parameters<typeof newNode>[0] = {}) {
  const node = newNode(options);
  electNode1(node);
  node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
  drain(node);
  return node;
}

describe('ReadIndex (thesis §6.4)', () => {
  test('the leader answers a read only after a quorum confirms it still leads', () => {
    const node = committedLeader();
    assert.deepEqual(node.readIndex(7), { ok: true });
    const first = take(node);
    assert.deepEqual(first.readStates, []);
    assert.deepEqual(
      ofType(first.messages, 'Heartbeat').map((m) => [m.to, m.term, m.readRound]),
      [
        [2, 1, 1],
        [3, 1, 1],
      ],
    );
    node.step(heartbeatResponse(3, 1));
    assert.deepEqual(take(node).readStates, [{ requestId: 7, ok: true, index: 1 }]);
  });

  test('the reads of one turn share one quorum round; an answer to an older round confirms none of a newer', () => {
    const node = committedLeader();
    node.readIndex(1);
    node.readIndex(2);
    assert.equal(ofType(take(node).messages, 'Heartbeat').length, 2, 'one round, to each follower');
    node.propose(bytes('x'));
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 2 }));
    node.readIndex(3);
    assert.deepEqual(
      ofType(take(node).messages, 'Heartbeat').map((m) => m.readRound),
      [2, 2],
    );
    node.step(heartbeatResponse(2, 1));
    assert.deepEqual(take(node).readStates, [
      { requestId: 1, ok: true, index: 1 },
      { requestId: 2, ok: true, index: 1 },
    ]);
    node.step(heartbeatResponse(3, 2));
    assert.deepEqual(take(node).readStates, [{ requestId: 3, ok: true, index: 2 }]);
  });

  test('a new leader holds reads until it has committed an entry of its term (§8)', () => {
    const node = newNode({ terms: [1, 1], hardState: { term: 1, vote: 0, commit: 0 } });
    electNode1(node);
    drain(node);
    node.readIndex(5);
    assert.equal(
      ofType(take(node).messages, 'Heartbeat').length,
      0,
      'the commit index may be stale',
    );
    node.step(appendResponse({ from: 2, term: 2, matchIndex: 3 }));
    const ready = take(node);
    assert.deepEqual(
      ofType(ready.messages, 'Heartbeat').map((m) => m.readRound),
      [1, 1],
    );
    assert.deepEqual(ready.readStates, []);
    node.step(heartbeatResponse(2, 1, 2));
    // The read waited for the noop (index 3), so it is served at the commit index that covers it.
    assert.deepEqual(take(node).readStates, [{ requestId: 5, ok: true, index: 3 }]);
  });

  test('a single node answers a read at once', () => {
    const node = new RawNode({
      id: 1,
      peers: [1],
      electionTicks: 10,
      heartbeatTicks: 1,
      random: new SeededRandom(1),
      persisted: { hardState: emptyHardState, entries: [] },
    });
    node.readIndex(9);
    assert.deepEqual(take(node).readStates, [{ requestId: 9, ok: true, index: 1 }]);
  });

  test('a read fails at once when no leader is known, or when too many wait', () => {
    assert.deepEqual(newNode().readIndex(1), { ok: false, reason: 'no-leader', leader: 0 });
    const node = committedLeader({ maxPendingReads: 2 });
    node.readIndex(1);
    node.readIndex(2);
    assert.deepEqual(node.readIndex(3), { ok: false, reason: 'too-many-pending', leader: 1 });
  });

  test('a follower forwards a read to its leader, and fails it if no answer comes in an election timeout', () => {
    const node = newNode({ seed: 2 });
    node.step(appendEntries({ from: 2, term: 1 }));
    drain(node);
    node.readIndex(4);
    assert.deepEqual(
      ofType(take(node).messages, 'ReadIndex').map((m) => [m.to, m.term, m.requestId]),
      [[2, 1, 4]],
    );
    for (let tick = 1; tick < electionTicks; tick++) node.tick();
    assert.deepEqual(take(node).readStates, []);
    node.tick();
    assert.deepEqual(take(node).readStates, [{ requestId: 4, ok: false, reason: 'timeout' }]);
  });

  test("a follower's forwarded read fails when its leader changes", () => {
    const node = newNode();
    node.step(appendEntries({ from: 2, term: 1 }));
    node.readIndex(4);
    node.step(appendEntries({ from: 3, term: 2 }));
    assert.deepEqual(take(node).readStates, [
      { requestId: 4, ok: false, reason: 'leader-changed' },
    ]);
  });

  test('a follower reads through its leader, at an index covering every write committed before', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 12 });
    const leader = network.electLeader();
    const follower = network.ids.find((id) => id !== leader) ?? 0;
    const write = network.propose(leader, bytes('w'));
    assert.ok(write.ok);
    network.runUntil(() => network.simulated(leader).applied.length >= write.index, 10);
    const read = network.read(follower);
    network.stabilize();
    assert.deepEqual(read.answer, { requestId: read.requestId, ok: true, index: write.index });
    assert.ok(network.simulated(follower).applied.length >= write.index, 'and it can serve it now');
  });

  test('a deposed leader cannot serve a read: it waits, then fails once the leader steps down', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 12 });
    const oldLeader = network.electLeader();
    network.isolate(oldLeader);
    const read = network.read(oldLeader);
    // The others elect a new leader and commit a write the old one never sees.
    const others = network.ids.filter((id) => id !== oldLeader);
    network.runUntil(() => others.some((id) => network.node(id).status().role === 'leader'), 100);
    const newLeader = others.find((id) => network.node(id).status().role === 'leader') ?? 0;
    const write = network.propose(newLeader, bytes('w'));
    assert.ok(write.ok);
    network.runUntil(() => network.simulated(newLeader).applied.length >= write.index, 10);
    // CheckQuorum has made the old leader step down: the read failed, it was never answered ok.
    assert.deepEqual(read.answer, {
      requestId: read.requestId,
      ok: false,
      reason: 'leader-changed',
    });
  });

  test('without CheckQuorum, a deposed leader keeps the read waiting for ever, never answered stale', () => {
    const network = new Network({
      ids: [1, 2, 3],
      seed: 12,
      nodeOptions: { checkQuorum: false },
    });
    const oldLeader = network.electLeader();
    network.isolate(oldLeader);
    const read = network.read(oldLeader);
    network.runFor(10 * electionTicks);
    assert.equal(network.node(oldLeader).status().role, 'leader');
    assert.equal(read.answer, undefined);
    network.heal();
    network.runFor(electionTicks);
    assert.deepEqual(read.answer, {
      requestId: read.requestId,
      ok: false,
      reason: 'leader-changed',
    });
  });
});
