import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode } from '../../src/raft/raw-node.js';
import {
  EntryType,
  emptyHardState,
  type InstallSnapshot,
  type Snapshot,
} from '../../src/raft/types.js';
import { AssertionError } from '../../src/util/assert.js';
import { drain, entry, newNode, ofType, take } from './helpers.js';
import { bytes, decodeEntries, Network } from './network.js';

function singleNode(persisted: ConstructorParameters<typeof RawNode>[0]['persisted']): RawNode {
  return new RawNode({
    id: 1,
    peers: [1],
    electionTicks: 10,
    heartbeatTicks: 1,
    random: new SeededRandom(1),
    persisted,
  });
}

/** A one-chunk InstallSnapshot from leader 2 in term `term`. */
function installSnapshot(snapshot: Snapshot, term: number): InstallSnapshot {
  const { data, ...metadata } = snapshot;
  return {
    type: 'InstallSnapshot',
    from: 2,
    to: 1,
    term,
    snapshot: metadata,
    offset: 0,
    totalBytes: data.length,
    data,
    done: true,
  };
}

const membership = { voters: [1, 2, 3], learners: [] };

describe('log compaction', () => {
  test('compact drops the log up to an applied index and returns the snapshot to persist', () => {
    const node = singleNode({ hardState: emptyHardState, entries: [] });
    for (const command of ['a', 'b', 'c']) node.propose(bytes(command));
    drain(node);
    const data = bytes('state at 3');
    assert.deepEqual(node.compact(3, data), {
      index: 3,
      term: 1,
      confState: { voters: [1], learners: [] },
      data,
    });
    assert.deepEqual(
      [node.status().snapshotIndex, node.status().lastIndex, node.status().appliedIndex],
      [3, 4, 4],
    );
    assert.equal(node.compact(2, data), undefined, 'already compacted past 2');
    assert.throws(() => node.compact(5, data), AssertionError, 'not applied yet');
  });

  test('a node restarts from its snapshot: only the log after it is applied', () => {
    const snapshot: Snapshot = {
      index: 5,
      term: 2,
      confState: { voters: [1], learners: [] },
      data: bytes('s'),
    };
    const node = singleNode({
      hardState: { term: 2, vote: 1, commit: 6 },
      snapshot,
      entries: [entry(6, 2), entry(7, 2)],
    });
    assert.deepEqual(
      [node.status().snapshotIndex, node.status().appliedIndex, node.status().commitIndex],
      [5, 5, 8],
      'it led term 3 at once and committed its noop (8)',
    );
    assert.deepEqual(
      take(node).committedEntries.map((e) => [e.index, e.term]),
      [
        [6, 2],
        [7, 2],
        [8, 3],
      ],
    );
  });
});

describe('InstallSnapshot (§7)', () => {
  test('a follower whose log conflicts with the snapshot replaces it, and the host restores from it', () => {
    const node = newNode({ terms: [1, 1, 2], hardState: { term: 2, vote: 0, commit: 1 } });
    const snapshot: Snapshot = { index: 3, term: 3, confState: membership, data: bytes('state') };
    node.step(installSnapshot(snapshot, 3));
    const ready = take(node);
    assert.deepEqual(ready.snapshot, snapshot);
    assert.deepEqual(ready.hardState, { term: 3, vote: 0, commit: 3 });
    assert.deepEqual([ready.entries, ready.committedEntries], [[], []]);
    assert.deepEqual(
      ofType(ready.messages, 'InstallSnapshotResponse').map((m) => [m.installed, m.matchIndex]),
      [[true, 3]],
    );
    assert.deepEqual(
      [node.status().snapshotIndex, node.status().lastIndex, node.status().appliedIndex],
      [3, 3, 3],
    );
  });

  test("a follower that holds the snapshot's last entry keeps its log and only commits", () => {
    const node = newNode({ terms: [1, 1, 1], hardState: { term: 1, vote: 0, commit: 0 } });
    node.step(installSnapshot({ index: 2, term: 1, confState: membership, data: bytes('s') }, 1));
    const ready = take(node);
    assert.equal(ready.snapshot, undefined);
    assert.deepEqual(
      ready.committedEntries.map((e) => e.index),
      [1, 2],
    );
    assert.deepEqual([node.status().lastIndex, node.status().snapshotIndex], [3, 0]);
  });

  test('a follower refuses a snapshot larger than maxSnapshotBytes, chunk by chunk', () => {
    const node = newNode({ maxSnapshotBytes: 4 });
    node.step(
      installSnapshot({ index: 2, term: 1, confState: membership, data: bytes('12345') }, 1),
    );
    const ready = take(node);
    assert.equal(ready.snapshot, undefined);
    assert.deepEqual(
      ofType(ready.messages, 'InstallSnapshotResponse').map((m) => [m.installed, m.receivedBytes]),
      [[false, 0]],
    );
  });

  test('chunks are taken only in order: a gap or a duplicate is ignored and reported', () => {
    const node = newNode();
    const whole = bytes('abcdef');
    const chunk = (offset: number, end: number): InstallSnapshot => ({
      ...installSnapshot({ index: 4, term: 1, confState: membership, data: whole }, 1),
      offset,
      data: whole.subarray(offset, end),
      done: end === whole.length,
    });
    node.step(chunk(2, 4));
    node.step(chunk(0, 2));
    node.step(chunk(0, 2));
    node.step(chunk(2, 4));
    node.step(chunk(4, 6));
    const ready = take(node);
    assert.deepEqual(
      ofType(ready.messages, 'InstallSnapshotResponse').map((m) => [m.receivedBytes, m.installed]),
      [
        [0, false],
        [2, false],
        [2, false],
        [4, false],
        [6, true],
      ],
    );
    assert.deepEqual(ready.snapshot?.data, whole);
  });

  test('a lagging follower catches up by a chunked InstallSnapshot, bounded in size and in flight', () => {
    const chunkBytes = 64;
    const window = 2;
    const network = new Network({
      ids: [1, 2, 3],
      seed: 30,
      nodeOptions: { maxSnapshotChunkBytes: chunkBytes, maxSnapshotChunksInFlight: window },
    });
    const leader = network.electLeader();
    const lagging = network.ids.find((id) => id !== leader) ?? 0;
    network.crash(lagging);
    let last = 0;
    for (let n = 0; n < 30; n++) {
      const result = network.propose(leader, bytes(`command ${n}`));
      if (result.ok) last = result.index;
    }
    network.runUntil(() => network.simulated(leader).applied.length >= last, 10);
    const snapshot = network.compact(leader);
    assert.ok(snapshot !== undefined && snapshot.index === last);
    network.restart(lagging);
    const chunks: InstallSnapshot[] = [];
    let inFlightMax = 0;
    network.onSend = (message) => {
      if (message.type === 'InstallSnapshot') chunks.push(message);
    };
    network.stabilize();
    for (let tick = 0; tick < 10 && network.simulated(lagging).applied.length < last; tick++) {
      network.tickAll();
      while (network.inFlight.length > 0 || network.processAllReadies()) {
        const chunksInFlight = network.inFlight.filter((m) => m.type === 'InstallSnapshot');
        inFlightMax = Math.max(inFlightMax, chunksInFlight.length);
        network.processAllReadies();
        network.deliverAll();
      }
    }
    assert.equal(chunks.length, Math.ceil(snapshot.data.length / chunkBytes), 'each chunk once');
    assert.ok(chunks.every((chunk) => chunk.data.length <= chunkBytes));
    assert.ok(inFlightMax >= 1 && inFlightMax <= window, `${inFlightMax} chunks in flight`);
    const follower = network.simulated(lagging);
    assert.equal(follower.durable.snapshot?.index, snapshot.index);
    assert.deepEqual(
      decodeEntries(follower.durable.snapshot?.data ?? bytes('')).length,
      snapshot.index,
    );
    assert.deepEqual(follower.applied, network.simulated(leader).applied);
    // Replication goes on by AppendEntries from there.
    const next = network.propose(leader, bytes('after'));
    assert.ok(next.ok);
    network.runUntil(() => follower.applied.length >= next.index, 10);
    assert.equal(follower.applied.at(-1)?.type, EntryType.normal);
    network.checkSafety();
  });

  test('under loss and reordering, a snapshot transfer still completes', () => {
    const network = new Network({
      ids: [1, 2, 3],
      seed: 31,
      nodeOptions: { maxSnapshotChunkBytes: 16, maxSnapshotChunksInFlight: 3 },
    });
    const leader = network.electLeader();
    const lagging = network.ids.find((id) => id !== leader) ?? 0;
    network.crash(lagging);
    let last = 0;
    for (let n = 0; n < 20; n++) {
      const result = network.propose(leader, bytes(`command ${n}`));
      if (result.ok) last = result.index;
    }
    network.runUntil(() => network.simulated(leader).applied.length >= last, 10);
    network.compact(leader);
    network.restart(lagging);
    network.dropRate = 0.3;
    network.reorder = true;
    network.runUntil(() => network.simulated(lagging).applied.length >= last, 300);
    assert.deepEqual(
      network.simulated(lagging).applied.slice(0, last),
      network.simulated(leader).applied.slice(0, last),
    );
    network.checkSafety();
  });

  test('a follower cut off while streaming, whose next entries are compacted away, is sent the snapshot', () => {
    const network = new Network({
      ids: [1, 2, 3],
      seed: 32,
      nodeOptions: { maxEntriesPerAppend: 2 },
    });
    const leader = network.electLeader();
    const slow = network.ids.find((id) => id !== leader) ?? 0;
    network.partition(
      [leader, ...network.ids.filter((id) => id !== slow && id !== leader)],
      [slow],
    );
    let last = 0;
    for (let n = 0; n < 10; n++) {
      const result = network.propose(leader, bytes(`c${n}`));
      if (result.ok) last = result.index;
    }
    network.runUntil(() => network.simulated(leader).applied.length >= last, 10);
    network.compact(leader);
    network.heal();
    network.runUntil(() => network.simulated(slow).applied.length >= last, 20);
    assert.equal(network.node(slow).status().snapshotIndex, last);
  });
});
