/**
 * Real lockd processes under faults (needs `npm run build`): the proxies really carry all peer
 * traffic, and one short fault run (about 20 s, 3 nodes, a kill, a pause, a partition and a slow
 * disk at least) gives a history the checker accepts, with every kind of outcome in it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { checkHistory, formatViolation } from './checker.js';
import { FaultCluster } from './fault-cluster.js';
import { defaultHistoryDirectory, saveHistory } from './history-file.js';
import { categoryOf, type FaultTiming, isFaultKind } from './nemesis.js';
import { runOnce } from './run.js';
import { countFaults, countOutcomes, formatCounts, formatOutcomes } from './summary.js';

describe('fault runs against real processes', () => {
  test('a leader whose links the proxies cut loses leadership to the others', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'lockd-faults-test-'));
    const cluster = await FaultCluster.create({ size: 3, directory, requestTimeoutMs: 2_000 });
    try {
      await cluster.startAll();
      const leader = await cluster.waitForLeader(30_000);
      await cluster.waitForLinks(30_000);
      const others = cluster.ids.filter((id) => id !== leader);
      cluster.cutLinks(
        others.flatMap((other) => [
          { from: leader, to: other },
          { from: other, to: leader },
        ]),
        'blackhole',
      );
      // Only the followers must agree: the old leader, cut off, may still believe it leads.
      const deadlineMs = Date.now() + 30_000;
      let newLeader: number | undefined;
      while (Date.now() < deadlineMs && (newLeader === undefined || newLeader === leader)) {
        newLeader = await cluster.currentLeader();
        await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
      }
      assert.ok(newLeader !== undefined && others.includes(newLeader), `new leader ${newLeader}`);
      cluster.healLinks();
      const healed = await cluster.waitForLeader(30_000);
      assert.ok(cluster.ids.includes(healed));
      await cluster.waitForLinks(30_000);
    } finally {
      await cluster.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a 20 s run with kills, pauses, partitions and slow disks: no violation, every outcome kind', async (context) => {
    const ttlMs = { min: 1_000, max: 2_000 };
    // Short faults, so that every category fits in 20 s: the first four are one of each.
    const timing: FaultTiming = {
      gapMs: { min: 500, max: 1_500 },
      killDownMs: { min: 1_000, max: 2_000 },
      killAllDownMs: { min: 500, max: 1_000 },
      pauseMs: { min: ttlMs.max + 500, max: ttlMs.max + 1_500 },
      partitionMs: { min: 1_500, max: 3_000 },
      slowDiskMs: { min: 1_500, max: 3_000 },
      syncDelayMs: { min: 50, max: 500 },
    };
    const report = await runOnce({
      seed: 20_240_601,
      nodes: 3,
      clients: 5,
      locks: 3,
      durationMs: 20_000,
      ttlMs,
      timing,
    });
    assert.equal(report.error, undefined, `${report.error}\n${report.nodeOutput}`);
    assert.deepEqual(report.unexpectedAnswers, []);
    const { history } = report;
    const categories = new Set(
      history.faults.flatMap((event) => (isFaultKind(event.kind) ? [categoryOf(event.kind)] : [])),
    );
    assert.deepEqual([...categories].sort(), ['disk', 'kill', 'partition', 'pause']);
    const check = checkHistory(history);
    context.diagnostic(
      `${formatOutcomes(countOutcomes(history))}; faults: ${formatCounts(countFaults(history))}`,
    );
    if (!check.ok) {
      const path = saveHistory(history, defaultHistoryDirectory);
      context.diagnostic(`history saved: ${path}`);
    }
    assert.deepEqual(check.violations.map(formatViolation), []);
    assert.deepEqual(check.inconclusive, []);
    const outcomes = countOutcomes(history);
    assert.ok(
      outcomes.ok > 0 && outcomes.fail > 0 && outcomes.unknown > 0,
      JSON.stringify(outcomes),
    );
    const acquires = countOutcomes(history, 'acquire');
    context.diagnostic(`acquires granted: ${acquires.ok}`);
    assert.ok(acquires.ok >= 15, `only ${acquires.ok} acquires granted`);
  });
});
