/**
 * The cluster simulator (simulator.ts) over a bounded number of seeds, 3- and 5-node: every
 * invariant after every step, and liveness once the faults stop. A failing seed is printed with the
 * last events and the command that replays it. SIM_SEEDS=<n> runs another number of seeds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { faultRegistry } from './faults.js';
import { formatFailure, runSeeds, type SeedTotals } from './seeds.js';
import { runSimulation } from './simulator.js';

const seedCount = Number(process.env.SIM_SEEDS ?? 500);
const faultTicks = 200;

/** Guards against a vacuous pass: together the seeds must have exercised the whole protocol. */
function assertBusy(totals: SeedTotals): void {
  const seeds = totals.seeds;
  assert.ok(totals.leaderTerms >= 2 * seeds, `only ${totals.leaderTerms} leader terms`);
  assert.ok(totals.committed >= 50 * seeds, `only ${totals.committed} entries committed`);
  assert.ok(totals.acknowledged >= 40 * seeds, `only ${totals.acknowledged} acknowledged`);
  assert.ok(totals.readsAnswered >= 5 * seeds, `only ${totals.readsAnswered} reads answered`);
  assert.ok(totals.crashes >= 5 * seeds, `only ${totals.crashes} crashes`);
  assert.ok(totals.snapshotsInstalled >= seeds / 5, `only ${totals.snapshotsInstalled} snapshots`);
  for (const fault of faultRegistry) {
    const injected = totals.faults[fault.name] ?? 0;
    assert.ok(injected >= seeds / 5, `fault ${fault.name} injected only ${injected} times`);
  }
}

describe('cluster simulator', () => {
  test(`${seedCount} seeds (3 and 5 nodes): safe at every step, live after the faults`, () => {
    const { totals, failures } = runSeeds({
      from: 1,
      count: seedCount,
      nodes: 'mixed',
      faultTicks,
      keepGoing: true,
      traceSize: 25,
    });
    const report = failures.map((failure) => formatFailure(failure, { faultTicks })).join('\n\n');
    assert.equal(failures.length, 0, `${failures.length} seeds failed:\n${report}`);
    if (seedCount >= 100) assertBusy(totals);
  });

  test('a seed replays exactly, event for event', () => {
    const run = () => runSimulation({ seed: 4242, nodes: 5, faultTicks, traceSize: 200 });
    const first = run();
    const second = run();
    assert.ok(first.ok && second.ok, 'seed 4242 passes');
    assert.deepEqual(second.stats, first.stats);
    assert.deepEqual(second.trace(), first.trace());
    assert.ok(first.stats.events > 1_000, 'the replayed run did something');
  });

  test('different seeds run differently', () => {
    const traces = [1, 2].map((seed) => {
      const result = runSimulation({ seed, nodes: 3, faultTicks: 50, traceSize: 50 });
      return result.ok ? result.trace() : result.failure.trace;
    });
    assert.notDeepEqual(traces[0], traces[1]);
  });
});
