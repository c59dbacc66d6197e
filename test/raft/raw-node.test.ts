import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode } from '../../src/raft/raw-node.js';
import { type Entry, EntryType, emptyHardState, type Message } from '../../src/raft/types.js';
import { AssertionError } from '../../src/util/assert.js';
import {
  appendEntries,
  appendResponse,
  drain,
  electNode1,
  entry,
  log,
  newNode,
  ofType,
  requestVote,
  sent,
  take,
} from './helpers.js';

const data = (text: string) => new TextEncoder().encode(text);

function singleNode(persisted = { hardState: emptyHardState, entries: [] as Entry[] }): RawNode {
  return new RawNode({
    id: 7,
    peers: [7],
    electionTicks: 10,
    heartbeatTicks: 1,
    random: new SeededRandom(1),
    persisted,
  });
}

describe('single-node fast path', () => {
  test('a single node is leader at construction: its first Ready holds its term, vote and noop', () => {
    const node = singleNode();
    assert.deepEqual(node.status(), {
      id: 7,
      role: 'leader',
      term: 1,
      leader: 7,
      commitIndex: 1,
      appliedIndex: 0,
      lastIndex: 1,
      snapshotIndex: 0,
      voters: [7],
      learners: [],
    });
    const ready = take(node);
    assert.deepEqual(ready.softState, { role: 'leader', leader: 7 });
    assert.deepEqual(ready.hardState, { term: 1, vote: 7, commit: 1 });
    assert.deepEqual(
      ready.entries.map((e) => [e.index, e.term, e.type]),
      [[1, 1, EntryType.noop]],
    );
    assert.deepEqual(ready.committedEntries, ready.entries);
    assert.deepEqual(ready.messages, []);
    assert.equal(node.hasReady(), false);
  });

  test('a single node accepts proposals before any tick, each persisted and committed in one Ready', () => {
    const node = singleNode();
    assert.deepEqual(node.propose(data('a')), { ok: true, index: 2, term: 1 });
    const first = take(node);
    assert.deepEqual(
      first.entries.map((e) => e.index),
      [1, 2],
    );
    assert.deepEqual(first.committedEntries, first.entries);
    node.propose(data('b'));
    node.propose(data('c'));
    const second = take(node);
    assert.deepEqual(
      second.entries.map((e) => new TextDecoder().decode(e.data)),
      ['b', 'c'],
    );
    assert.deepEqual(second.committedEntries, second.entries);
    assert.deepEqual(second.hardState, { term: 1, vote: 7, commit: 4 });
    assert.equal(node.status().appliedIndex, 4);
  });

  test('a restarted single node leads a new term at construction and replays its log', () => {
    const entries: Entry[] = [
      { index: 1, term: 1, type: EntryType.noop, data: new Uint8Array(0) },
      { index: 2, term: 1, type: EntryType.normal, data: data('a') },
    ];
    const node = singleNode({ hardState: { term: 1, vote: 7, commit: 2 }, entries });
    assert.deepEqual([node.status().role, node.status().term], ['leader', 2]);
    const ready = take(node);
    assert.deepEqual(ready.hardState, { term: 2, vote: 7, commit: 3 });
    assert.deepEqual(
      ready.entries.map((e) => [e.index, e.term]),
      [[3, 2]],
    );
    assert.deepEqual(
      ready.committedEntries.map((e) => [e.index, e.term]),
      [
        [1, 1],
        [2, 1],
        [3, 2],
      ],
    );
  });

  test('a single node ticks without sending anything', () => {
    const node = singleNode();
    drain(node);
    for (let tick = 0; tick < 50; tick++) node.tick();
    assert.equal(node.hasReady(), false);
    assert.equal(node.status().role, 'leader');
  });
});

describe('restart', () => {
  test('restart replays committed entries from index 1, in bounded batches', () => {
    const terms = Array.from({ length: 3000 }, (_, position) => 1 + Math.floor(position / 1000));
    const node = newNode({
      terms,
      hardState: { term: 5, vote: 2, commit: 2500 },
      maxCommittedEntriesPerReady: 1024,
    });
    assert.deepEqual(
      [node.status().term, node.status().commitIndex, node.status().appliedIndex],
      [5, 2500, 0],
    );
    const readies = drain(node);
    assert.deepEqual(
      readies.map((ready) => [
        ready.committedEntries[0]?.index,
        ready.committedEntries.at(-1)?.index,
      ]),
      [
        [1, 1024],
        [1025, 2048],
        [2049, 2500],
      ],
    );
    // Nothing changed but the applied index: no soft or hard state, no entries to persist again.
    for (const ready of readies) {
      assert.deepEqual(
        [ready.softState, ready.hardState, ready.entries.length],
        [undefined, undefined, 0],
      );
    }
    assert.equal(node.status().appliedIndex, 2500);
  });

  test('restart keeps the term and the vote: the node refuses a second candidate in that term', () => {
    const node = newNode({ terms: [1, 2], hardState: { term: 2, vote: 3, commit: 1 } });
    node.step(requestVote({ from: 2, term: 2, lastLogIndex: 2, lastLogTerm: 2 }));
    const ready = take(node);
    assert.equal(ofType(ready.messages, 'RequestVoteResponse')[0]?.granted, false);
    assert.deepEqual(
      ready.committedEntries.map((e) => e.index),
      [1],
    );
  });

  test('restart with a log inconsistent with its hard state is refused', () => {
    assert.throws(
      () => newNode({ terms: [1, 3], hardState: { term: 2, vote: 0, commit: 0 } }),
      AssertionError,
    );
    assert.throws(
      () => newNode({ terms: [1], hardState: { term: 1, vote: 0, commit: 2 } }),
      AssertionError,
    );
    assert.throws(
      () => newNode({ terms: [2, 1], hardState: { term: 2, vote: 0, commit: 0 } }),
      AssertionError,
    );
  });
});

describe('the Ready contract', () => {
  test('softState only when role or leader changed, hardState only when it changed', () => {
    const node = newNode();
    assert.equal(node.hasReady(), false, 'a fresh follower has nothing to report');
    node.step(appendEntries({ from: 2, term: 1, entries: [entry(1, 1)] }));
    const first = take(node);
    assert.deepEqual(first.softState, { role: 'follower', leader: 2 });
    assert.deepEqual(first.hardState, { term: 1, vote: 0, commit: 0 });
    node.step(appendEntries({ from: 2, term: 1, prevLogIndex: 1, prevLogTerm: 1 }));
    const second = take(node);
    assert.deepEqual([second.softState, second.hardState], [undefined, undefined]);
    assert.equal(second.messages.length, 1);
    node.step(appendEntries({ from: 2, term: 1, prevLogIndex: 1, prevLogTerm: 1, commit: 1 }));
    const third = take(node);
    assert.deepEqual(
      [third.softState, third.hardState],
      [undefined, { term: 1, vote: 0, commit: 1 }],
    );
  });

  test('ready() may not be taken twice before advance(), and hasReady() says so', () => {
    const node = singleNode();
    node.ready();
    assert.equal(node.hasReady(), false);
    assert.throws(() => node.ready(), AssertionError);
    node.advance();
    assert.throws(() => node.advance(), AssertionError);
  });

  test('what happens between ready() and advance() goes into the next Ready', () => {
    const node = singleNode();
    const first = node.ready();
    node.propose(data('late'));
    assert.deepEqual(
      first.entries.map((e) => e.index),
      [1],
    );
    node.advance();
    const second = take(node);
    assert.deepEqual(
      second.entries.map((e) => e.index),
      [2],
    );
    assert.deepEqual(
      second.committedEntries.map((e) => e.index),
      [2],
    );
  });

  test('entries replaced between ready() and advance() are handed out again', () => {
    const node = newNode();
    node.step(appendEntries({ from: 2, term: 1, entries: log([1, 1, 1]) }));
    const first = node.ready();
    assert.equal(first.entries.length, 3);
    // A new leader overwrites entries 2 and 3 while the host is still persisting them.
    node.step(
      appendEntries({ from: 3, term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [entry(2, 2)] }),
    );
    node.advance();
    const second = take(node);
    assert.deepEqual(
      second.entries.map((e) => [e.index, e.term]),
      [[2, 2]],
    );
    assert.equal(node.hasReady(), false);
  });

  test('messages to another node, from itself, or malformed, are ignored', () => {
    const node = newNode();
    const ignored: Message[] = [
      { ...appendEntries({ from: 2, term: 1 }), to: 3 },
      appendEntries({ from: 0, term: 1 }),
      appendEntries({ from: 1, term: 1 }),
      appendEntries({ from: 2, term: 0 }),
      appendEntries({ from: 2, term: 1.5 }),
      appendEntries({ from: 2, term: 1, prevLogIndex: -1 }),
      appendEntries({ from: 2, term: 1, entries: [entry(2, 1)] }),
      appendEntries({ from: 2, term: 1, entries: [entry(1, 2)] }),
      appendEntries({ from: 2, term: 2, entries: [entry(1, 2), entry(2, 1)] }),
      requestVote({ from: 2, term: 1, lastLogIndex: 3, lastLogTerm: 0 }),
      { type: 'Bogus', from: 2, to: 1, term: 1 } as unknown as Message,
    ];
    for (const message of ignored) node.step(message);
    assert.equal(node.hasReady(), false);
    assert.equal(node.status().term, 0);
  });

  test("a leader outside this node's membership is followed: its membership may be newer (thesis §4.1)", () => {
    const node = newNode();
    node.step(appendEntries({ from: 9, term: 1, entries: [entry(1, 1)] }));
    assert.deepEqual([node.status().leader, node.status().lastIndex], [9, 1]);
    assert.equal(ofType(sent(node), 'AppendEntriesResponse')[0]?.success, true);
  });

  test('options are validated', () => {
    const base = {
      id: 1,
      peers: [1, 2, 3],
      electionTicks: 10,
      heartbeatTicks: 1,
      random: new SeededRandom(1),
      persisted: { hardState: emptyHardState, entries: [] },
    };
    assert.throws(() => new RawNode({ ...base, peers: [2, 3] }), AssertionError);
    assert.throws(() => new RawNode({ ...base, peers: [1, 2, 2] }), AssertionError);
    assert.throws(() => new RawNode({ ...base, electionTicks: 1 }), AssertionError);
    assert.throws(() => new RawNode({ ...base, maxEntriesPerAppend: 0 }), AssertionError);
    assert.throws(
      () =>
        new RawNode({
          ...base,
          persisted: { hardState: { term: 1, vote: -1, commit: 0 }, entries: [] },
        }),
      AssertionError,
    );
  });
});

describe('purity', () => {
  test('src/raft does no I/O, reads no clock and has no randomness of its own', () => {
    const directory = join(import.meta.dirname, '../../src/raft');
    const forbidden = [
      /from 'node:/,
      /\brequire\(/,
      /\bDate\b/,
      /Math\.random/,
      /performance\./,
      /\bset(Timeout|Interval|Immediate)\b/,
      /\bprocess\./,
      /\bconsole\./,
    ];
    for (const file of readdirSync(directory).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(join(directory, file), 'utf8');
      for (const pattern of forbidden)
        assert.doesNotMatch(source, pattern, `${file} uses ${pattern}`);
    }
  });
});

describe('early messages (thesis §10.2.1: a leader replicates while it persists)', () => {
  const types = (messages: readonly Message[]) => messages.map((m) => `${m.type}->${m.to}`);

  test('a leader sends appends of a durable term early; those of the term this Ready makes durable wait', () => {
    const node = newNode({ earlyMessages: true });
    electNode1(node);
    const first = take(node);
    assert.equal(first.hardState?.term, 1);
    assert.deepEqual(types(first.earlyMessages), []);
    assert.deepEqual(types(first.messages), [
      'RequestVote->2',
      'RequestVote->3',
      'AppendEntries->2',
      'AppendEntries->3',
    ]);
    for (const from of [2, 3]) {
      node.step(appendResponse({ from, term: 1, success: true, matchIndex: 1 }));
    }
    drain(node);
    node.propose(data('x'));
    const second = take(node);
    assert.deepEqual(types(second.earlyMessages), ['AppendEntries->2', 'AppendEntries->3']);
    assert.deepEqual(types(second.messages), []);
  });

  test('votes and acknowledgements always wait for the disk', () => {
    const node = newNode({ earlyMessages: true });
    node.step(requestVote({ from: 2, term: 1 }));
    const vote = take(node);
    assert.deepEqual(types(vote.earlyMessages), []);
    assert.deepEqual(types(vote.messages), ['RequestVoteResponse->2']);
    node.step(appendEntries({ from: 2, term: 1, entries: [entry(1, 1)] }));
    const ack = take(node);
    assert.deepEqual(types(ack.earlyMessages), []);
    assert.deepEqual(types(ack.messages), ['AppendEntriesResponse->2']);
  });

  test('a leader elected alone is not heard by its learners before its term is durable', () => {
    const node = newNode({ peers: [1], learners: [2], earlyMessages: true });
    const first = take(node);
    assert.equal(first.hardState?.term, 1);
    assert.deepEqual(types(first.earlyMessages), []);
    assert.deepEqual(types(first.messages), ['AppendEntries->2']);
  });

  test('off by default: every message waits', () => {
    const node = newNode();
    electNode1(node);
    for (const from of [2, 3]) {
      node.step(appendResponse({ from, term: 1, success: true, matchIndex: 1 }));
    }
    drain(node);
    node.propose(data('x'));
    const ready = take(node);
    assert.deepEqual(ready.earlyMessages, []);
    assert.deepEqual(types(ready.messages), ['AppendEntries->2', 'AppendEntries->3']);
  });
});
