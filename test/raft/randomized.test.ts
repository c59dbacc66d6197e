/**
 * Randomized scenarios (see scenario.ts), a few hundred seeds, with compaction, snapshots, reads,
 * transfers and membership changes among the faults. A failing seed is named in the
 * error and replays exactly:  RAFT_SEED=<seed> node scripts/run-tests.mjs raft/randomized
 * RAFT_STATS=1 prints what the seeds did in total (elections, commits, crashes, partitions).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runScenario, type ScenarioStats } from './scenario.js';

function runSeeds(size: number, seeds: readonly number[], steps: number): ScenarioStats[] {
  return seeds.map((seed) => {
    try {
      return runScenario({ seed, size, steps });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`seed ${seed} (${size} nodes, ${steps} steps) failed: ${message}`, {
        cause: error,
      });
    }
  });
}

/** Guards against a vacuous pass: the seeds together must have exercised the protocol. */
function assertBusy(all: readonly ScenarioStats[]): void {
  if (all.length < 10) return; // A single replayed seed proves nothing either way.
  const sum = (field: keyof ScenarioStats) => all.reduce((total, stats) => total + stats[field], 0);
  const seedsWithLeaderChanges = all.filter((stats) => stats.terms >= 3).length;
  if (process.env.RAFT_STATS !== undefined) {
    const fields = [
      'terms',
      'proposalsAccepted',
      'entriesCommittedDuringFaults',
      'crashes',
      'partitions',
      'readsConfirmed',
      'snapshotsInstalled',
      'membershipChanges',
      'transfers',
    ] as const;
    const totals = Object.fromEntries(fields.map((field) => [field, sum(field)]));
    console.log({ seeds: all.length, seedsWithLeaderChanges, ...totals });
  }
  assert.ok(
    seedsWithLeaderChanges >= all.length / 2,
    `leader changes in ${seedsWithLeaderChanges} seeds`,
  );
  assert.ok(
    sum('entriesCommittedDuringFaults') >= all.length * 5,
    'entries committed under faults',
  );
  assert.ok(sum('crashes') >= all.length / 2, 'crashes');
  assert.ok(sum('partitions') >= all.length, 'partitions');
  // The features beyond the paper's core ran under faults too.
  assert.ok(sum('readsConfirmed') >= all.length / 4, 'linearizable reads confirmed');
  assert.ok(sum('snapshotsInstalled') >= all.length, 'snapshots installed');
  assert.ok(sum('membershipChanges') >= all.length / 4, 'membership changes');
  assert.ok(sum('transfers') >= all.length / 4, 'leadership transfers');
}

const onlySeed = process.env.RAFT_SEED === undefined ? undefined : Number(process.env.RAFT_SEED);
const seeds = (from: number, count: number) =>
  onlySeed === undefined ? Array.from({ length: count }, (_, n) => from + n) : [onlySeed];

describe('randomized scenarios', () => {
  test('3 nodes: safety under loss, reordering, partitions and crashes, then convergence', () => {
    assertBusy(runSeeds(3, seeds(1, 300), 1000));
  });

  test('5 nodes: safety under loss, reordering, partitions and crashes, then convergence', () => {
    assertBusy(runSeeds(5, seeds(10_001, 100), 2000));
  });
});
