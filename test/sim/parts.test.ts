/**
 * The simulator's parts on their own: the event queue's order, the prefix hashes the invariants
 * compare, the network's faults and the disk's durability rules. Each one is something a whole
 * run relies on without being able to see it fail.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Entry, EntryType, type Message } from '../../src/raft/types.js';
import { VirtualClock } from './clock.js';
import { noDiskBugs, SimDisk } from './disk.js';
import { agreesThrough, HashedLog } from './hashed-log.js';
import { calmConditions, partitionLinks, SimNetwork } from './network.js';
import { SimRandom } from './random.js';

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: EntryType.normal, data: new TextEncoder().encode(text) };
}

function entries(terms: readonly number[]): Entry[] {
  return terms.map((term, position) => entry(position + 1, term));
}

function heartbeat(from: number, to: number): Message {
  return { type: 'Heartbeat', from, to, term: 1, readRound: 1 };
}

describe('VirtualClock', () => {
  test('runs events by time, and events at the same time in the order scheduled', () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    clock.schedule(20, () => order.push('c@20'));
    clock.schedule(10, () => order.push('a@10'));
    clock.schedule(10, () => {
      order.push('b@10');
      clock.schedule(0, () => order.push('d@10'));
    });
    while (clock.runNext()) {}
    assert.deepEqual(order, ['a@10', 'b@10', 'd@10', 'c@20']);
    assert.equal(clock.now, 20);
  });

  test('refuses a negative delay and bounds its queue', () => {
    const clock = new VirtualClock(2);
    assert.throws(() => clock.schedule(-1, () => {}), /bad delay/);
    clock.schedule(1, () => {});
    clock.schedule(1, () => {});
    assert.throws(() => clock.schedule(1, () => {}), /more than 2 events/);
  });
});

describe('HashedLog', () => {
  test('equal prefixes hash alike; one different entry changes every hash from it on', () => {
    const a = HashedLog.from({ index: 0, term: 0, hash: 0 }, entries([1, 1, 2, 3]), 1);
    const b = HashedLog.from({ index: 0, term: 0, hash: 0 }, entries([1, 1, 2, 3]), 1);
    assert.equal(a.hash(4), b.hash(4));
    b.write([entry(2, 1, 'other')], 2);
    assert.equal(a.hash(1), b.hash(1));
    assert.notEqual(a.hash(2), b.hash(2));
    assert.equal(b.lastIndex, 2, 'a write replaces the suffix from its first index');
  });

  test('compaction keeps the prefix hash as the base, and comparisons fall back to it', () => {
    const full = HashedLog.from({ index: 0, term: 0, hash: 0 }, entries([1, 1, 2, 2, 3]), 1);
    const compacted = HashedLog.from({ index: 0, term: 0, hash: 0 }, entries([1, 1, 2, 2, 3]), 1);
    compacted.compactTo(3, 2);
    assert.deepEqual(compacted.base, { index: 3, term: 2, hash: full.hash(3) });
    assert.equal(compacted.hash(5), full.hash(5));
    assert.equal(compacted.knows(2), false);
    assert.equal(agreesThrough(compacted, full, 1), true, 'compared at the base instead');
    const diverged = HashedLog.from({ index: 0, term: 0, hash: 0 }, entries([1, 1, 3]), 1);
    assert.equal(agreesThrough(compacted, diverged, 1), false);
  });

  test('finds what was written after a serial, as a suffix', () => {
    const log = HashedLog.from({ index: 0, term: 0, hash: 0 }, entries([1, 1, 1]), 1);
    log.write([entry(3, 2), entry(4, 2)], 5);
    assert.equal(log.firstWrittenAfter(1), 3);
    assert.equal(log.firstWrittenAfter(5), 5);
  });
});

describe('SimNetwork', () => {
  function setup(conditions = calmConditions) {
    const clock = new VirtualClock();
    const delivered: string[] = [];
    const network = new SimNetwork(clock, new SimRandom(7, 1), conditions, (message) =>
      delivered.push(`${message.from}->${message.to}@${clock.now}`),
    );
    return { clock, delivered, network };
  }

  test('delivers each message once, within the delay range', () => {
    const { clock, delivered, network } = setup();
    for (let count = 0; count < 50; count++) network.send(heartbeat(1, 2));
    while (clock.runNext()) {}
    assert.equal(delivered.length, 50);
    for (const line of delivered) {
      const time = Number(line.split('@')[1]);
      assert.ok(time >= calmConditions.delayMinUs && time <= calmConditions.delayMaxUs, line);
    }
  });

  test('a symmetric partition cuts both ways, a one-way cut only one, and both heal', () => {
    const { clock, delivered, network } = setup();
    const cut = network.cut(partitionLinks([1, 2, 3], [[1], [2, 3]]));
    const oneWay = network.cut([[2, 3]]);
    for (const [from, to] of [
      [1, 2],
      [2, 1],
      [2, 3],
      [3, 2],
    ] as const)
      network.send(heartbeat(from, to));
    while (clock.runNext()) {}
    assert.deepEqual(
      delivered.map((line) => line.split('@')[0]),
      ['3->2'],
    );
    network.heal(cut);
    network.heal(oneWay);
    assert.equal(network.cutLinks, 0);
  });

  test('loses a message whose link is cut while it is in flight', () => {
    const { clock, delivered, network } = setup();
    network.send(heartbeat(1, 2));
    network.cut([[1, 2]]);
    while (clock.runNext()) {}
    assert.deepEqual(delivered, []);
    assert.equal(network.stats.lost, 1);
  });

  test('weather: certain loss drops all, certain duplication doubles all, until cleared', () => {
    const { clock, delivered, network } = setup();
    const lossy = network.setWeather({ ...calmConditions, lossProbability: 1 });
    network.send(heartbeat(1, 2));
    network.clearWeather(lossy);
    network.setWeather({ ...calmConditions, duplicateProbability: 1 });
    network.send(heartbeat(1, 2));
    while (clock.runNext()) {}
    assert.equal(delivered.length, 2);
    assert.deepEqual(network.stats, { sent: 2, delivered: 2, lost: 1, duplicated: 1 });
  });
});

describe('SimDisk', () => {
  function setup(crashSurvivalProbability: number) {
    const clock = new VirtualClock();
    const disk = new SimDisk({
      clock,
      random: new SimRandom(3, 1),
      latency: { minUs: 100, maxUs: 100 },
      crashSurvivalProbability,
      bugs: noDiskBugs,
    });
    return { clock, disk };
  }
  const hardState = { term: 2, vote: 1, commit: 1 };

  test('a write is durable only once its fsync completes', () => {
    const { clock, disk } = setup(0);
    let synced = false;
    disk.write({ hardState, entries: entries([1, 2]) }, () => {
      synced = true;
    });
    assert.equal(disk.lastIndex, 0);
    assert.throws(() => disk.write({ hardState, entries: [] }, () => {}), /second write/);
    clock.runNext();
    assert.equal(synced, true);
    assert.equal(disk.lastIndex, 2);
    assert.deepEqual(disk.load().hardState, hardState);
  });

  test('a commit-only write is acknowledged at once, and durable only with the next synced one', () => {
    for (const syncedAfter of [false, true]) {
      const { clock, disk } = setup(0);
      disk.write({ hardState, entries: entries([1, 2]) }, () => {});
      clock.runNext();
      let acknowledged = false;
      disk.write({ hardState: { ...hardState, commit: 2 }, entries: [] }, () => {
        acknowledged = true;
      });
      clock.runNext();
      assert.equal(acknowledged, true);
      assert.equal(disk.writtenHardState.commit, 2);
      assert.equal(disk.hardState.commit, 1, 'not durable yet');
      if (syncedAfter) {
        disk.write({ hardState: undefined, entries: [entry(3, 2)] }, () => {});
        clock.runNext();
      }
      disk.crash();
      assert.equal(disk.load().hardState.commit, syncedAfter ? 2 : 1);
      assert.equal(disk.writtenHardState.commit, syncedAfter ? 2 : 1);
    }
  });

  test('a crash loses the write in flight, or keeps it whole; never calls back', () => {
    for (const [survival, lastIndex] of [
      [0, 0],
      [1, 2],
    ] as const) {
      const { clock, disk } = setup(survival);
      disk.write({ hardState, entries: entries([1, 2]) }, () =>
        assert.fail('called back after a crash'),
      );
      disk.crash();
      while (clock.runNext()) {}
      assert.equal(disk.lastIndex, lastIndex);
    }
  });

  test('a snapshot from the leader replaces the log; a compaction keeps what follows it', () => {
    const { clock, disk } = setup(0);
    const write = (batch: Parameters<SimDisk['write']>[0]) => {
      disk.write(batch, () => {});
      clock.runNext();
    };
    write({ hardState, entries: entries([1, 1, 2, 2]) });
    const snapshot = (index: number, term: number) => ({
      index,
      term,
      confState: { voters: [1], learners: [] },
      data: new Uint8Array(16),
    });
    write({ compaction: snapshot(2, 1), hardState: undefined, entries: [] });
    assert.deepEqual(
      disk.load().entries.map((stored) => stored.index),
      [3, 4],
    );
    write({ snapshot: snapshot(10, 3), hardState: { term: 3, vote: 1, commit: 10 }, entries: [] });
    const loaded = disk.load();
    assert.equal(loaded.snapshot?.index, 10);
    assert.deepEqual(loaded.entries, []);
    assert.equal(disk.lastIndex, 10);
  });
});
