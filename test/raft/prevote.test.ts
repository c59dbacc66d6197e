import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  appendEntries,
  appendResponse,
  drain,
  electionTicks,
  electNode1,
  newNode,
  ofType,
  preVote,
  preVoteResponse,
  requestVote,
  sent,
  take,
  tickUntil,
} from './helpers.js';
import { Network } from './network.js';

const role = (node: ReturnType<typeof newNode>) => node.status().role;

describe('PreVote (thesis §9.6)', () => {
  test('an election timeout makes a pre-candidate: it asks about term + 1 and changes no durable state', () => {
    const node = newNode({
      preVote: true,
      terms: [1, 2],
      hardState: { term: 2, vote: 3, commit: 1 },
    });
    drain(node);
    tickUntil(node, () => role(node) !== 'follower', 2 * electionTicks);
    const ready = take(node);
    assert.deepEqual(ready.softState, { role: 'pre-candidate', leader: 0 });
    assert.equal(ready.hardState, undefined, 'no new term, no new vote');
    assert.deepEqual(
      ofType(ready.messages, 'PreVote').map((m) => [m.to, m.term, m.lastLogIndex, m.lastLogTerm]),
      [
        [2, 3, 2, 2],
        [3, 3, 2, 2],
      ],
    );
    assert.equal(ofType(ready.messages, 'RequestVote').length, 0);
  });

  test('pre-votes from a majority start the real election, in term + 1', () => {
    const node = newNode({ preVote: true });
    tickUntil(node, () => role(node) === 'pre-candidate', 2 * electionTicks);
    drain(node);
    node.step(preVoteResponse({ from: 3, term: 1, granted: true }));
    assert.deepEqual([role(node), node.status().term], ['candidate', 1]);
    const ready = take(node);
    assert.deepEqual(ready.hardState, { term: 1, vote: 1, commit: 0 });
    assert.deepEqual(
      ofType(ready.messages, 'RequestVote').map((m) => [m.to, m.term]),
      [
        [2, 1],
        [3, 1],
      ],
    );
  });

  test('refusals from a majority return the pre-candidate to follower, its term unchanged', () => {
    const node = newNode({ preVote: true, hardState: { term: 4, vote: 0, commit: 0 } });
    tickUntil(node, () => role(node) === 'pre-candidate', 2 * electionTicks);
    node.step(preVoteResponse({ from: 2, term: 4, granted: false }));
    node.step(preVoteResponse({ from: 3, term: 4, granted: false }));
    assert.deepEqual([role(node), node.status().term], ['follower', 4]);
  });

  test('a refusal from a higher term makes the pre-candidate a follower of that term', () => {
    const node = newNode({ preVote: true });
    tickUntil(node, () => role(node) === 'pre-candidate', 2 * electionTicks);
    node.step(preVoteResponse({ from: 2, term: 7, granted: false }));
    assert.deepEqual([role(node), node.status().term, node.status().leader], ['follower', 7, 0]);
  });

  test('a voter grants a pre-vote without changing its term or vote', () => {
    const node = newNode({ terms: [1], hardState: { term: 1, vote: 2, commit: 0 } });
    node.step(preVote({ from: 3, term: 2, lastLogIndex: 1, lastLogTerm: 1 }));
    const ready = take(node);
    assert.equal(ready.hardState, undefined);
    assert.deepEqual(
      ofType(ready.messages, 'PreVoteResponse').map((m) => [m.to, m.term, m.granted]),
      [[3, 2, true]],
    );
    assert.deepEqual([node.status().term, node.status().role], [1, 'follower']);
  });

  test('a voter refuses a pre-vote while it hears from a leader, and for a log behind its own', () => {
    const node = newNode({ terms: [1, 1], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(appendEntries({ from: 2, term: 1, prevLogIndex: 2, prevLogTerm: 1 }));
    drain(node);
    node.step(preVote({ from: 3, term: 2, lastLogIndex: 2, lastLogTerm: 1 }));
    assert.deepEqual(
      ofType(sent(node), 'PreVoteResponse').map((m) => [m.term, m.granted]),
      [[1, false]],
      'the leader was heard from less than an election timeout ago',
    );
    for (let tick = 0; tick < electionTicks; tick++) node.tick();
    node.step(preVote({ from: 3, term: 2, lastLogIndex: 1, lastLogTerm: 1 }));
    node.step(preVote({ from: 3, term: 2, lastLogIndex: 2, lastLogTerm: 1 }));
    assert.deepEqual(
      ofType(sent(node), 'PreVoteResponse').map((m) => [m.term, m.granted]),
      [
        [1, false],
        [2, true],
      ],
    );
  });

  test('a node cut off from the cluster does not raise its term, and rejoins without disrupting it', () => {
    const network = new Network({ ids: [1, 2, 3], seed: 7 });
    const leader = network.electLeader();
    const term = network.node(leader).status().term;
    const cutOff = network.ids.find((id) => id !== leader) ?? 0;
    network.isolate(cutOff);
    network.runFor(100);
    assert.deepEqual(
      [network.node(cutOff).status().term, network.node(cutOff).status().role],
      [term, 'pre-candidate'],
      'ten election timeouts of unanswered pre-votes, and the term never moved',
    );
    network.heal();
    network.runFor(3 * electionTicks);
    for (const id of network.ids) {
      assert.deepEqual(
        [network.node(id).status().leader, network.node(id).status().term],
        [leader, term],
      );
    }
    assert.deepEqual([...network.safety.leaderOfTerm], [[term, leader]], 'no election happened');
  });

  test('without PreVote (nor CheckQuorum), the same node raises its term and deposes the leader on return', () => {
    const network = new Network({
      ids: [1, 2, 3],
      seed: 7,
      nodeOptions: { preVote: false, checkQuorum: false },
    });
    const leader = network.electLeader();
    const term = network.node(leader).status().term;
    const cutOff = network.ids.find((id) => id !== leader) ?? 0;
    network.isolate(cutOff);
    network.runFor(100);
    assert.ok(network.node(cutOff).status().term > term + 3, 'it campaigned in term after term');
    network.heal();
    network.runFor(3 * electionTicks);
    assert.ok(network.node(leader).status().term > term, 'the cluster had to move to its term');
    assert.ok(network.safety.leaderOfTerm.size > 1, 'and elect a leader again');
  });
});

describe('CheckQuorum', () => {
  test('a leader that hears from no quorum steps down exactly one election timeout after it last did', () => {
    const node = newNode({ checkQuorum: true });
    electNode1(node);
    drain(node);
    for (let tick = 1; tick < electionTicks; tick++) node.tick();
    assert.equal(role(node), 'leader');
    // Node 3 answers: the quorum {1, 3} was heard from just now.
    node.step(appendResponse({ from: 3, term: 1, matchIndex: 1 }));
    const ticks = tickUntil(node, () => role(node) !== 'leader', 2 * electionTicks);
    assert.equal(ticks, electionTicks);
    assert.deepEqual([role(node), node.status().term, node.status().leader], ['follower', 1, 0]);
  });

  test('an isolated leader of a 5-node cluster steps down within an election timeout, and a new one is elected', () => {
    const network = new Network({ ids: [1, 2, 3, 4, 5], seed: 4 });
    const leader = network.electLeader();
    network.isolate(leader);
    let ticks = 0;
    while (network.node(leader).status().role === 'leader') {
      network.tickAll();
      network.stabilize();
      ticks++;
    }
    assert.ok(ticks <= electionTicks, `stepped down after ${ticks} ticks`);
    const others = network.ids.filter((id) => id !== leader);
    network.runUntil(() => others.some((id) => network.node(id).status().role === 'leader'), 100);
  });

  test('without CheckQuorum, an isolated leader believes it leads for ever', () => {
    const node = newNode({ checkQuorum: false });
    electNode1(node);
    for (let tick = 0; tick < 10 * electionTicks; tick++) node.tick();
    assert.equal(role(node), 'leader');
  });

  test('a follower that hears from its leader ignores a candidate of a higher term (thesis §4.2.3)', () => {
    const node = newNode({
      checkQuorum: true,
      terms: [1],
      hardState: { term: 1, vote: 0, commit: 0 },
    });
    node.step(appendEntries({ from: 2, term: 1, prevLogIndex: 1, prevLogTerm: 1 }));
    drain(node);
    node.step(requestVote({ from: 3, term: 5, lastLogIndex: 1, lastLogTerm: 1 }));
    assert.deepEqual(sent(node), [], 'no answer at all');
    assert.deepEqual([node.status().term, node.status().leader], [1, 2]);
    // A transfer is the leader's own wish: the request says so, and is heard.
    node.step(
      requestVote({ from: 3, term: 5, lastLogIndex: 1, lastLogTerm: 1, leadershipTransfer: true }),
    );
    assert.deepEqual(
      ofType(sent(node), 'RequestVoteResponse').map((m) => [m.term, m.granted]),
      [[5, true]],
    );
  });

  test('once the leader is silent for an election timeout, the follower hears candidates again', () => {
    const node = newNode({ checkQuorum: true, seed: 3 });
    node.step(appendEntries({ from: 2, term: 1 }));
    for (let tick = 0; tick < electionTicks; tick++) node.tick();
    node.step(requestVote({ from: 3, term: 2 }));
    assert.deepEqual(
      ofType(sent(node), 'RequestVoteResponse').map((m) => [m.term, m.granted]),
      [[2, true]],
    );
  });
});
