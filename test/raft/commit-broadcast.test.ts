import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RawNode } from '../../src/raft/raw-node.js';
import type { HeartbeatResponse, Message } from '../../src/raft/types.js';
import { appendResponse, drain, electNode1, newNode, ofType, take } from './helpers.js';
import { bytes } from './network.js';

/** Node 1 leads term 1; node 2 acknowledged the noop (index 1), which committed. */
function leaderOwingCommit(deferCommitBroadcast: boolean): { node: RawNode; messages: Message[] } {
  const node = newNode({ deferCommitBroadcast });
  electNode1(node);
  drain(node);
  node.step(appendResponse({ from: 2, term: 1, matchIndex: 1 }));
  const ready = take(node);
  assert.deepEqual(
    ready.committedEntries.map((entry) => entry.index),
    [1],
  );
  return { node, messages: [...ready.messages, ...ready.earlyMessages] };
}

/** [to, entries, commit] of each AppendEntries. */
function appends(messages: readonly Message[]): [number, number[], number][] {
  return ofType(messages, 'AppendEntries').map((message) => [
    message.to,
    message.entries.map((entry) => entry.index),
    message.commit,
  ]);
}

describe('deferred commit broadcast', () => {
  test('without it, a commit with nothing else to send goes out alone at once', () => {
    const { node, messages } = leaderOwingCommit(false);
    // Node 3 never answered its probe, so only node 2 is being replicated to.
    assert.deepEqual(appends(messages), [[2, [], 1]]);
    assert.equal(node.owesCommit(), false);
  });

  test('with it, the commit index waits for the next entries, which carry it', () => {
    const { node, messages } = leaderOwingCommit(true);
    assert.deepEqual(appends(messages), []);
    assert.equal(node.owesCommit(), true);
    node.propose(bytes('x'));
    const ready = take(node);
    assert.deepEqual(appends([...ready.messages, ...ready.earlyMessages]), [[2, [2], 1]]);
    assert.equal(node.owesCommit(), false);
    node.step(appendResponse({ from: 2, term: 1, matchIndex: 2 }));
    const committed = take(node);
    assert.deepEqual(
      committed.committedEntries.map((entry) => entry.index),
      [2],
    );
    assert.deepEqual(appends([...committed.messages, ...committed.earlyMessages]), []);
    assert.equal(node.owesCommit(), true);
  });

  test('broadcastCommit sends what is owed, once', () => {
    const { node } = leaderOwingCommit(true);
    node.broadcastCommit();
    const ready = take(node);
    assert.deepEqual(appends([...ready.messages, ...ready.earlyMessages]), [[2, [], 1]]);
    assert.equal(node.owesCommit(), false);
    node.broadcastCommit();
    assert.equal(node.hasReady(), false);
  });

  test('a heartbeat carries what is owed', () => {
    const { node } = leaderOwingCommit(true);
    node.tick();
    const ready = take(node);
    assert.deepEqual(
      appends([...ready.messages, ...ready.earlyMessages]).filter(([to]) => to === 2),
      [[2, [], 1]],
    );
    assert.equal(node.owesCommit(), false);
  });

  test("a follower's read is answered after the commit index it must apply", () => {
    const { node } = leaderOwingCommit(true);
    node.step({ type: 'ReadIndex', from: 2, to: 1, term: 1, requestId: 5 });
    const round = ofType(take(node).messages, 'Heartbeat')[0]?.readRound;
    assert.equal(round, 1);
    const answer: HeartbeatResponse = {
      type: 'HeartbeatResponse',
      from: 2,
      to: 1,
      term: 1,
      readRound: 1,
    };
    node.step(answer);
    const ready = take(node);
    const toFollower = [...ready.earlyMessages, ...ready.messages].filter(
      (message) => message.to === 2,
    );
    assert.deepEqual(
      toFollower.map((message) =>
        message.type === 'AppendEntries'
          ? `AppendEntries commit ${message.commit}`
          : message.type === 'ReadIndexResponse'
            ? `ReadIndexResponse ${message.result} at ${message.index}`
            : message.type,
      ),
      ['AppendEntries commit 1', 'ReadIndexResponse ok at 1'],
    );
    assert.equal(node.owesCommit(), false);
  });
});
