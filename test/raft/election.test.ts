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
  requestVote,
  sent,
  take,
  tickUntilCampaign,
  voteResponse,
} from './helpers.js';

describe('§5.1 terms', () => {
  test('§5.1 a leader that sees a higher term in a response becomes a follower of that term', () => {
    const node = newNode();
    electNode1(node);
    drain(node);
    node.step(appendResponse({ from: 2, term: 7, success: false }));
    assert.deepEqual(
      { role: node.status().role, term: node.status().term, leader: node.status().leader },
      { role: 'follower', term: 7, leader: 0 },
    );
    const ready = take(node);
    assert.deepEqual(ready.softState, { role: 'follower', leader: 0 });
    assert.deepEqual(ready.hardState, { term: 7, vote: 0, commit: 0 });
  });

  test('§5.1 a candidate that sees a higher term in AppendEntries follows its sender', () => {
    const node = newNode();
    tickUntilCampaign(node);
    node.step(appendEntries({ from: 3, term: 5 }));
    assert.equal(node.status().role, 'follower');
    assert.equal(node.status().term, 5);
    assert.equal(node.status().leader, 3);
  });

  test('§5.1 a request with a stale term is refused with the current term', () => {
    const node = newNode({ hardState: { term: 3, vote: 0, commit: 0 } });
    node.step(appendEntries({ from: 2, term: 2 }));
    node.step(requestVote({ from: 3, term: 2 }));
    const messages = sent(node);
    assert.deepEqual(
      ofType(messages, 'AppendEntriesResponse').map((m) => [m.to, m.term, m.success]),
      [[2, 3, false]],
    );
    assert.deepEqual(
      ofType(messages, 'RequestVoteResponse').map((m) => [m.to, m.term, m.granted]),
      [[3, 3, false]],
    );
    assert.equal(node.status().term, 3);
    assert.equal(node.status().leader, 0);
  });

  test('§5.1 a response with a stale term is ignored', () => {
    const node = newNode({ peers: [1, 2, 3, 4, 5], hardState: { term: 3, vote: 0, commit: 0 } });
    tickUntilCampaign(node);
    node.step(voteResponse({ from: 2, term: 3, granted: true }));
    node.step(voteResponse({ from: 3, term: 3, granted: true }));
    assert.equal(node.status().role, 'candidate');
    assert.equal(node.status().term, 4);
  });
});

describe('§5.2 leader election', () => {
  test('§5.2 a follower that hears nothing for an election timeout becomes candidate', () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const node = newNode({ seed });
      const ticks = tickUntilCampaign(node);
      assert.ok(
        ticks >= electionTicks && ticks < 2 * electionTicks,
        `timeout ${ticks} out of range`,
      );
      assert.equal(node.status().role, 'candidate');
      timeouts.add(ticks);
    }
    // Randomized: every value of [electionTicks, 2 * electionTicks) turns up over 200 seeds.
    assert.equal(timeouts.size, electionTicks);
  });

  test('§5.2 a candidate votes for itself in a new term and asks every peer, vote durable first', () => {
    const node = newNode({ terms: [1, 1, 2], hardState: { term: 2, vote: 0, commit: 1 } });
    tickUntilCampaign(node);
    const ready = take(node);
    assert.deepEqual(ready.softState, { role: 'candidate', leader: 0 });
    // The self-vote is in the same Ready as the requests, so it is persisted before they leave.
    assert.deepEqual(ready.hardState, { term: 3, vote: 1, commit: 1 });
    assert.deepEqual(
      ofType(ready.messages, 'RequestVote').map((m) => [
        m.to,
        m.term,
        m.lastLogIndex,
        m.lastLogTerm,
      ]),
      [
        [2, 3, 3, 2],
        [3, 3, 3, 2],
      ],
    );
  });

  test('§5.2 a candidate that receives votes from a majority becomes leader', () => {
    const node = newNode({ peers: [1, 2, 3, 4, 5] });
    tickUntilCampaign(node);
    node.step(voteResponse({ from: 2, term: 1, granted: true }));
    node.step(voteResponse({ from: 2, term: 1, granted: true })); // A duplicate counts once.
    node.step(voteResponse({ from: 4, term: 1, granted: false }));
    assert.equal(node.status().role, 'candidate');
    node.step(voteResponse({ from: 3, term: 1, granted: true }));
    assert.equal(node.status().role, 'leader');
    assert.equal(node.status().leader, 1);
  });

  test('§5.2 a candidate denied by a majority returns to follower in the same term', () => {
    const node = newNode();
    tickUntilCampaign(node);
    node.step(voteResponse({ from: 2, term: 1, granted: false }));
    node.step(voteResponse({ from: 3, term: 1, granted: false }));
    assert.deepEqual([node.status().role, node.status().term], ['follower', 1]);
  });

  test('§5.2 a candidate that hears from the leader of its term becomes its follower', () => {
    const node = newNode();
    tickUntilCampaign(node);
    node.step(appendEntries({ from: 2, term: 1 }));
    assert.deepEqual(
      [node.status().role, node.status().term, node.status().leader],
      ['follower', 1, 2],
    );
    const ready = take(node);
    assert.deepEqual(ready.softState, { role: 'follower', leader: 2 });
    assert.deepEqual(ofType(ready.messages, 'AppendEntriesResponse')[0]?.success, true);
  });

  test('§5.2 a candidate whose election times out starts another in a higher term', () => {
    const node = newNode();
    tickUntilCampaign(node);
    drain(node);
    tickUntilCampaign(node);
    assert.deepEqual([node.status().role, node.status().term], ['candidate', 2]);
    const ready = take(node);
    assert.deepEqual(ready.hardState, { term: 2, vote: 1, commit: 0 });
    assert.equal(ofType(ready.messages, 'RequestVote').length, 2);
  });

  test('§5.2 AppendEntries from the leader resets the election timer', () => {
    const timeout = tickUntilCampaign(newNode({ seed: 5 }));
    const node = newNode({ seed: 5 });
    for (let tick = 1; tick < timeout; tick++) node.tick();
    node.step(appendEntries({ from: 2, term: 1 }));
    for (let tick = 1; tick < electionTicks; tick++) node.tick();
    assert.deepEqual([node.status().role, node.status().term], ['follower', 1]);
  });

  test('§5.2 granting a vote resets the election timer', () => {
    const timeout = tickUntilCampaign(newNode({ seed: 9 }));
    const node = newNode({ seed: 9 });
    for (let tick = 1; tick < timeout; tick++) node.tick();
    node.step(requestVote({ from: 2, term: 1 }));
    for (let tick = 1; tick < electionTicks; tick++) node.tick();
    assert.deepEqual([node.status().role, node.status().term], ['follower', 1]);
  });

  test('§5.2 a leader sends a heartbeat to every follower each heartbeatTicks', () => {
    const node = newNode({ heartbeatTicks: 3 });
    electNode1(node);
    drain(node);
    for (let tick = 1; tick <= 9; tick++) {
      node.tick();
      const heartbeats = ofType(sent(node), 'AppendEntries');
      assert.deepEqual(
        heartbeats.map((m) => m.to),
        tick % 3 === 0 ? [2, 3] : [],
        `tick ${tick}`,
      );
    }
    assert.equal(node.status().role, 'leader', 'a leader never times out on its own');
  });

  test('§5.2 one vote per term: a voter grants the first candidate and denies the next', () => {
    const node = newNode();
    node.step(requestVote({ from: 2, term: 1 }));
    const first = take(node);
    // The vote is persisted in the same Ready as the response that announces it.
    assert.deepEqual(first.hardState, { term: 1, vote: 2, commit: 0 });
    assert.deepEqual(ofType(first.messages, 'RequestVoteResponse')[0]?.granted, true);
    node.step(requestVote({ from: 3, term: 1 }));
    node.step(requestVote({ from: 2, term: 1 })); // The same candidate again: still granted.
    const answers = ofType(sent(node), 'RequestVoteResponse').map((m) => [m.to, m.granted]);
    assert.deepEqual(answers, [
      [3, false],
      [2, true],
    ]);
  });

  test('§5.2 one vote per term survives a restart', () => {
    const node = newNode({ hardState: { term: 4, vote: 2, commit: 0 } });
    node.step(requestVote({ from: 3, term: 4 }));
    node.step(requestVote({ from: 2, term: 4 }));
    const answers = ofType(sent(node), 'RequestVoteResponse').map((m) => [m.to, m.granted]);
    assert.deepEqual(answers, [
      [3, false],
      [2, true],
    ]);
  });

  test('§5.2 a follower that already follows a leader in this term votes for no one else', () => {
    const node = newNode();
    node.step(appendEntries({ from: 2, term: 1 }));
    node.step(requestVote({ from: 3, term: 1 }));
    assert.deepEqual(ofType(sent(node), 'RequestVoteResponse')[0]?.granted, false);
  });

  test('§5.2 a candidate or leader denies other candidates of its term', () => {
    const candidate = newNode();
    tickUntilCampaign(candidate);
    candidate.step(requestVote({ from: 2, term: 1 }));
    assert.deepEqual(ofType(sent(candidate), 'RequestVoteResponse')[0]?.granted, false);
    const leader = newNode();
    electNode1(leader);
    leader.step(requestVote({ from: 3, term: 1, lastLogIndex: 5, lastLogTerm: 1 }));
    assert.deepEqual(ofType(sent(leader), 'RequestVoteResponse')[0]?.granted, false);
    assert.equal(leader.status().role, 'leader');
  });

  test('§5.2 a higher-term vote request makes a leader step down, and it may grant it', () => {
    const node = newNode();
    electNode1(node);
    drain(node);
    const last = node.status().lastIndex;
    node.step(requestVote({ from: 2, term: 9, lastLogIndex: last, lastLogTerm: 1 }));
    assert.deepEqual([node.status().role, node.status().term], ['follower', 9]);
    const ready = take(node);
    assert.deepEqual(ready.hardState?.vote, 2);
    assert.deepEqual(ofType(ready.messages, 'RequestVoteResponse')[0]?.granted, true);
  });
});

describe('§5.4.1 election restriction', () => {
  const voterLog = { terms: [1, 1, 2], hardState: { term: 2, vote: 0, commit: 0 } };

  test('§5.4.1 a voter denies a candidate whose log is less up-to-date', () => {
    // Lower last term, however long the log.
    const a = newNode(voterLog);
    a.step(requestVote({ from: 2, term: 3, lastLogIndex: 50, lastLogTerm: 1 }));
    assert.equal(ofType(sent(a), 'RequestVoteResponse')[0]?.granted, false);
    // Same last term, shorter log.
    const b = newNode(voterLog);
    b.step(requestVote({ from: 2, term: 3, lastLogIndex: 2, lastLogTerm: 2 }));
    assert.equal(ofType(sent(b), 'RequestVoteResponse')[0]?.granted, false);
    // A denial is no vote: the voter can still vote in that term.
    b.step(requestVote({ from: 3, term: 3, lastLogIndex: 3, lastLogTerm: 2 }));
    assert.equal(ofType(sent(b), 'RequestVoteResponse')[0]?.granted, true);
  });

  test('§5.4.1 a voter grants a candidate whose log is at least as up-to-date', () => {
    for (const [lastLogIndex, lastLogTerm] of [
      [3, 2],
      [9, 2],
      [1, 3],
    ] as const) {
      const node = newNode(voterLog);
      node.step(requestVote({ from: 2, term: 3, lastLogIndex, lastLogTerm }));
      assert.equal(
        ofType(sent(node), 'RequestVoteResponse')[0]?.granted,
        true,
        `candidate at ${lastLogIndex}@${lastLogTerm}`,
      );
    }
  });
});
