/** The nemesis's schedule and how a planned fault lands on the cluster: pure, no processes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DirectedLink } from './fault-cluster.js';
import {
  categoryOf,
  defaultTiming,
  type PlannedFault,
  planFaults,
  resolveFault,
} from './nemesis.js';

const timing = defaultTiming(5_000);
const three = [1, 2, 3];
const five = [1, 2, 3, 4, 5];

function planned(overrides: Partial<PlannedFault>): PlannedFault {
  return {
    kind: 'kill',
    gapMs: 1_000,
    durationMs: 1_000,
    order: three,
    linkMode: 'blackhole',
    direction: 'outbound',
    syncDelayMs: 100,
    ...overrides,
  };
}

function linkSet(links: readonly DirectedLink[]): string[] {
  return links.map((link) => `${link.from}>${link.to}`).sort();
}

describe('the fault schedule', () => {
  test('the same seed gives the same schedule; another seed another', () => {
    const plan = planFaults({ seed: 7, nodeIds: three, timing, count: 30 });
    assert.deepEqual(planFaults({ seed: 7, nodeIds: three, timing, count: 30 }), plan);
    assert.notDeepEqual(planFaults({ seed: 8, nodeIds: three, timing, count: 30 }), plan);
  });

  test('every round of four has a kill, a pause, a partition and a slow disk; durations within bounds', () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planFaults({ seed, nodeIds: five, timing, count: 12 });
      for (let round = 0; round < 3; round++) {
        const categories = plan
          .slice(round * 4, round * 4 + 4)
          .map((fault) => categoryOf(fault.kind));
        assert.deepEqual(
          [...categories].sort(),
          ['disk', 'kill', 'partition', 'pause'],
          `seed ${seed}`,
        );
      }
      for (const fault of plan) {
        assert.ok(fault.gapMs >= timing.gapMs.min && fault.gapMs <= timing.gapMs.max);
        if (categoryOf(fault.kind) === 'pause')
          assert.ok(fault.durationMs > 5_000, 'pauses outlast leases');
        assert.ok(
          fault.syncDelayMs >= timing.syncDelayMs.min &&
            fault.syncDelayMs <= timing.syncDelayMs.max,
        );
        assert.deepEqual([...fault.order].sort(), five);
      }
    }
  });
});

describe('a planned fault on the cluster', () => {
  test('leader faults hit the leader; others the first node of the seeded order', () => {
    assert.deepEqual(resolveFault(planned({ kind: 'kill-leader', order: [3, 1, 2] }), 2), {
      type: 'kill',
      nodes: [2],
    });
    assert.deepEqual(resolveFault(planned({ kind: 'kill', order: [3, 1, 2] }), 2), {
      type: 'kill',
      nodes: [3],
    });
    assert.deepEqual(resolveFault(planned({ kind: 'pause-leader', order: [3, 1, 2] }), undefined), {
      type: 'pause',
      node: 3,
    });
    assert.deepEqual(resolveFault(planned({ kind: 'kill-all', order: [3, 1, 2] }), 1), {
      type: 'kill',
      nodes: [1, 2, 3],
    });
    assert.deepEqual(
      resolveFault(planned({ kind: 'slow-disk-leader', order: [3, 1, 2], syncDelayMs: 250 }), 1),
      { type: 'slow-disk', node: 1, syncDelayMs: 250 },
    );
    assert.deepEqual(resolveFault(planned({ kind: 'slow-disk', order: [3, 1, 2] }), 1), {
      type: 'slow-disk',
      node: 3,
      syncDelayMs: 100,
    });
  });

  test('partitions cut exactly the links of their shape', () => {
    const cut = (fault: PlannedFault, leader?: number): string[] => {
      const applied = resolveFault(fault, leader);
      assert.equal(applied.type, 'partition');
      return applied.type === 'partition' ? linkSet(applied.links) : [];
    };
    assert.deepEqual(cut(planned({ kind: 'partition-pair', order: [2, 3, 1] })), ['2>3', '3>2']);
    assert.deepEqual(cut(planned({ kind: 'partition-one-way', order: [2, 3, 1] })), ['2>1', '2>3']);
    assert.deepEqual(
      cut(planned({ kind: 'partition-one-way', order: [2, 3, 1], direction: 'inbound' })),
      ['1>2', '3>2'],
    );
    assert.deepEqual(cut(planned({ kind: 'partition-leader', order: [2, 3, 1] }), 1), [
      '1>2',
      '1>3',
      '2>1',
      '3>1',
    ]);
    assert.deepEqual(cut(planned({ kind: 'partition-bridge', order: [2, 3, 1] })), ['1>3', '3>1']);
    const halves = cut(planned({ kind: 'partition-halves', order: [4, 1, 2, 3, 5] }));
    assert.equal(halves.length, 12, 'a minority of 2 cut from a majority of 3, both ways');
    assert.deepEqual(
      halves.filter((link) => link.startsWith('4>') || link.startsWith('1>')),
      ['1>2', '1>3', '1>5', '4>2', '4>3', '4>5'],
    );
  });
});
