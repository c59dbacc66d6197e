import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EntryType } from '../../src/raft/types.js';
import {
  appendEntries,
  appendResponse,
  drain,
  electNode1,
  entry,
  newNode,
  ofType,
  sent,
  take,
  tickUntilCampaign,
  voteResponse,
} from './helpers.js';

const data = (text: string) => new TextEncoder().encode(text);

describe('§5.3 log replication: the follower side', () => {
  test('§5.3 a follower rejects AppendEntries whose prevLogIndex it lacks, hinting just past its log', () => {
    const node = newNode({ terms: [1, 1], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(
      appendEntries({ from: 2, term: 2, prevLogIndex: 5, prevLogTerm: 2, entries: [entry(6, 2)] }),
    );
    const [response] = ofType(sent(node), 'AppendEntriesResponse');
    assert.deepEqual(
      [response?.success, response?.rejectHint, response?.term, node.status().lastIndex],
      [false, 3, 2, 2],
    );
  });

  test('§5.3 a follower rejects a term mismatch at prevLogIndex, hinting the first index of its term', () => {
    const node = newNode({ terms: [1, 1, 2, 2, 2], hardState: { term: 2, vote: 0, commit: 1 } });
    node.step(appendEntries({ from: 2, term: 3, prevLogIndex: 5, prevLogTerm: 3 }));
    const [response] = ofType(sent(node), 'AppendEntriesResponse');
    assert.deepEqual([response?.success, response?.rejectHint], [false, 3]);
  });

  test('§5.3 follower deletes a conflicting suffix and appends the leader entries', () => {
    const node = newNode({ terms: [1, 1, 2, 2], hardState: { term: 2, vote: 0, commit: 1 } });
    node.step(
      appendEntries({
        from: 2,
        term: 3,
        prevLogIndex: 2,
        prevLogTerm: 1,
        entries: [entry(3, 3, 'new')],
        commit: 3,
      }),
    );
    const ready = take(node);
    // The Ready's entries start at the conflict: the host discards its suffix from there.
    assert.deepEqual(
      ready.entries.map((e) => [e.index, e.term]),
      [[3, 3]],
    );
    assert.deepEqual(ready.hardState, { term: 3, vote: 0, commit: 3 });
    assert.deepEqual(
      ready.committedEntries.map((e) => [e.index, e.term]),
      [
        [1, 1],
        [2, 1],
        [3, 3],
      ],
    );
    const [response] = ofType(ready.messages, 'AppendEntriesResponse');
    assert.deepEqual([response?.success, response?.matchIndex], [true, 3]);
    assert.equal(node.status().lastIndex, 3);
  });

  test('§5.3 a follower keeps entries it already holds (a duplicate or reordered AppendEntries)', () => {
    const node = newNode({ terms: [1, 1, 1], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(
      appendEntries({ from: 2, term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [entry(2, 1)] }),
    );
    const ready = take(node);
    assert.deepEqual(ready.entries, []);
    assert.equal(ofType(ready.messages, 'AppendEntriesResponse')[0]?.matchIndex, 2);
    assert.equal(node.status().lastIndex, 3);
  });

  test('§5.3 a follower commits min(leaderCommit, index of last new entry), never less than before', () => {
    const node = newNode();
    node.step(appendEntries({ from: 2, term: 1, entries: [entry(1, 1), entry(2, 1)], commit: 5 }));
    assert.equal(node.status().commitIndex, 2);
    node.step(appendEntries({ from: 2, term: 1, prevLogIndex: 1, prevLogTerm: 1, commit: 5 }));
    assert.equal(node.status().commitIndex, 2);
    node.step(
      appendEntries({
        from: 2,
        term: 1,
        prevLogIndex: 2,
        prevLogTerm: 1,
        entries: [entry(3, 1)],
        commit: 2,
      }),
    );
    assert.equal(node.status().commitIndex, 2);
  });
});

describe('§5.3 log replication: the leader side', () => {
  test('§5.3 / §8 a new leader appends a noop of its term and sends it to every follower', () => {
    const node = newNode({ terms: [1, 1], hardState: { term: 1, vote: 0, commit: 2 } });
    electNode1(node);
    const ready = take(node);
    assert.deepEqual(ready.softState, { role: 'leader', leader: 1 });
    assert.deepEqual(
      ready.entries.map((e) => [e.index, e.term, e.type, e.data.length]),
      [[3, 2, EntryType.noop, 0]],
    );
    const appends = ofType(ready.messages, 'AppendEntries');
    assert.deepEqual(
      appends.map((m) => [m.to, m.term, m.prevLogIndex, m.prevLogTerm, m.entries.length, m.commit]),
      [
        [2, 2, 2, 1, 1, 2],
        [3, 2, 2, 1, 1, 2],
      ],
    );
  });

  test('§5.3 a leader backtracks to the rejectHint, then sends the missing entries', () => {
    const node = newNode({ terms: [1, 1, 1], hardState: { term: 1, vote: 0, commit: 0 } });
    electNode1(node);
    drain(node);
    node.step(appendResponse({ from: 2, term: 2, success: false, rejectHint: 1 }));
    const [probe] = ofType(sent(node), 'AppendEntries');
    assert.deepEqual([probe?.to, probe?.prevLogIndex, probe?.entries.length], [2, 0, 4]);
    node.step(appendResponse({ from: 2, term: 2, success: true, matchIndex: 4 }));
    assert.equal(node.status().commitIndex, 4);
  });

  test('§5.3 a leader batches many proposals into AppendEntries of at most maxEntriesPerAppend', () => {
    const node = newNode({ maxEntriesPerAppend: 256 });
    electNode1(node);
    drain(node);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 })); // Node 2 now streams.
    drain(node);
    for (let count = 0; count < 600; count++) {
      assert.equal(node.propose(data(`p${count}`)).ok, true);
    }
    const ready = take(node);
    assert.equal(ready.entries.length, 600);
    const toNode2 = ofType(ready.messages, 'AppendEntries').filter((m) => m.to === 2);
    assert.deepEqual(
      toNode2.map((m) => [m.prevLogIndex, m.entries.length]),
      [
        [1, 256],
        [257, 256],
        [513, 88],
      ],
    );
    // Node 3 never answered its first probe: it gets nothing until the next heartbeat.
    assert.equal(ofType(ready.messages, 'AppendEntries').filter((m) => m.to === 3).length, 0);
  });

  test('§5.3 a leader bounds the unacknowledged AppendEntries per follower', () => {
    const node = newNode({ maxEntriesPerAppend: 10, maxInflightAppends: 2 });
    electNode1(node);
    drain(node);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
    drain(node);
    for (let count = 0; count < 100; count++) node.propose(data(`p${count}`));
    const first = ofType(sent(node), 'AppendEntries').filter((m) => m.to === 2);
    assert.deepEqual(
      first.map((m) => [m.prevLogIndex, m.entries.length]),
      [
        [1, 10],
        [11, 10],
      ],
    );
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 11 }));
    const next = ofType(sent(node), 'AppendEntries').filter(
      (m) => m.to === 2 && m.entries.length > 0,
    );
    assert.deepEqual(
      next.map((m) => [m.prevLogIndex, m.entries.length]),
      [[21, 10]],
    );
  });

  test('§5.3 a leader bounds the bytes of entry data in one AppendEntries (one entry at least)', () => {
    const node = newNode({ maxBytesPerAppend: 100 });
    electNode1(node);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
    drain(node);
    for (const size of [40, 40, 40, 250, 10]) node.propose(new Uint8Array(size));
    const toNode2 = ofType(sent(node), 'AppendEntries').filter((m) => m.to === 2);
    assert.deepEqual(
      toNode2.map((m) => m.entries.map((e) => e.data.length)),
      [[40, 40], [40], [250], [10]],
    );
  });

  test('a leader refuses proposals beyond maxPendingProposalBytes of uncommitted data', () => {
    const node = newNode({ maxPendingProposalBytes: 100 });
    electNode1(node);
    assert.equal(node.propose(new Uint8Array(60)).ok, true);
    assert.deepEqual(node.propose(new Uint8Array(60)), {
      ok: false,
      reason: 'too-many-pending',
      leader: 1,
    });
    assert.equal(node.propose(new Uint8Array(40)).ok, true);
    // Once committed, the bytes no longer count.
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 3 }));
    assert.equal(node.propose(new Uint8Array(100)).ok, true);
  });

  test('§5.3 a probing leader sends one AppendEntries at a time, and again on the heartbeat', () => {
    const node = newNode();
    electNode1(node);
    drain(node);
    for (let count = 0; count < 5; count++) node.propose(data(`p${count}`));
    assert.equal(ofType(sent(node), 'AppendEntries').length, 0, 'probes outstanding: wait');
    node.tick();
    const probes = ofType(sent(node), 'AppendEntries');
    assert.deepEqual(
      probes.map((m) => [m.to, m.prevLogIndex, m.entries.length]),
      [
        [2, 0, 6],
        [3, 0, 6],
      ],
    );
  });

  test('§5.3 a leader commits an entry stored on a majority and tells the followers', () => {
    const node = newNode();
    electNode1(node);
    drain(node);
    const proposed = node.propose(data('x'));
    assert.deepEqual(proposed, { ok: true, index: 2, term: 1 });
    drain(node);
    assert.equal(node.status().commitIndex, 0);
    node.step(appendResponse({ from: 3, term: 1, matchIndex: 2 }));
    assert.equal(node.status().commitIndex, 2);
    const ready = take(node);
    assert.deepEqual(
      ready.committedEntries.map((e) => e.index),
      [1, 2],
    );
    assert.equal(ready.hardState?.commit, 2);
    // Node 3 hears of the new commit at once; node 2's probe is outstanding.
    const commits = ofType(ready.messages, 'AppendEntries').map((m) => [m.to, m.commit]);
    assert.deepEqual(commits, [[3, 2]]);
  });

  test('a leader refuses proposals beyond maxPendingProposals, and a follower names its leader', () => {
    const leader = newNode({ maxPendingProposals: 3 });
    electNode1(leader);
    assert.equal(leader.propose(data('a')).ok, true);
    assert.equal(leader.propose(data('b')).ok, true);
    assert.deepEqual(leader.propose(data('c')), {
      ok: false,
      reason: 'too-many-pending',
      leader: 1,
    });
    const follower = newNode();
    follower.step(appendEntries({ from: 3, term: 1 }));
    assert.deepEqual(follower.propose(data('d')), { ok: false, reason: 'not-leader', leader: 3 });
    assert.deepEqual(newNode().propose(data('e')), { ok: false, reason: 'not-leader', leader: 0 });
  });
});

describe('Figure 8 / §5.4.2 committing entries from previous terms', () => {
  test('Figure 8: a leader does not commit an old-term entry by counting replicas', () => {
    // Node 1 holds entry 2 of term 2, uncommitted, and wins term 3.
    const node = newNode({ terms: [1, 2], hardState: { term: 2, vote: 0, commit: 1 } });
    tickUntilCampaign(node);
    node.step(voteResponse({ from: 2, term: 3, granted: true }));
    assert.equal(node.status().role, 'leader');
    drain(node);
    // Entry 2 (term 2) is now on a majority {1, 2}: still not committed.
    node.step(appendResponse({ from: 2, term: 3, matchIndex: 2 }));
    assert.equal(node.status().commitIndex, 1);
    // Once the noop of term 3 (index 3) is on a majority, it commits, and entry 2 with it.
    node.step(appendResponse({ from: 2, term: 3, matchIndex: 3 }));
    assert.equal(node.status().commitIndex, 3);
    assert.deepEqual(
      take(node).committedEntries.map((e) => [e.index, e.term]),
      [
        [2, 2],
        [3, 3],
      ],
    );
  });
});
