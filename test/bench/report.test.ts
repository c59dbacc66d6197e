import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunResult } from '../../bench/load.js';
import { Report, type Row, roundsSummary } from '../../bench/report.js';

function result(pairsPerSecond: number): RunResult {
  return {
    pairs: pairsPerSecond * 3,
    pairsPerSecond,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    firstError: undefined,
    retriesPerPair: 0,
    generatorCpuPercent: 10,
    serverCpuMicrosecondsPerPair: 80,
  };
}

function row(system: 'lockd' | 'etcd', pairsPerSecond: number): Row {
  return {
    label: `${system} 3 nodes (fsync), leader`,
    system,
    nodes: 3,
    placement: 'leader',
    load: 'uncontended',
    concurrency: 64,
    result: result(pairsPerSecond),
  };
}

/** A report filled without printing its lines. */
function quietReport(rows: readonly Row[]): Report {
  const report = new Report();
  report.rows.push(...rows);
  return report;
}

describe('roundsSummary', () => {
  test('medians of pairs/s and of the ratios each round gave, with every round listed', () => {
    const reports = [
      quietReport([row('lockd', 4000), row('etcd', 1000)]),
      quietReport([row('lockd', 6000), row('etcd', 2000)]),
      quietReport([row('lockd', 5000), row('etcd', 1250)]),
    ];
    assert.equal(
      roundsSummary(reports),
      [
        '| target | load | conc | pairs/s, median of 3 (min–max) | lockd ÷ this, median (each round) |',
        '|---|---|---:|---:|---:|',
        '| lockd 3 nodes (fsync), leader | uncontended | 64 | 5000 (4000–6000) |  |',
        '| etcd 3 nodes (fsync), leader | uncontended | 64 | 1250 (1000–2000) | 4.00× (4.00, 3.00, 4.00) |',
      ].join('\n'),
    );
  });

  test('an even number of rounds takes the mean of the middle two', () => {
    const reports = [
      quietReport([row('lockd', 3000), row('etcd', 1000)]),
      quietReport([row('lockd', 5000), row('etcd', 1000)]),
    ];
    assert.match(roundsSummary(reports), /\| 4000 \(3000–5000\) \|/);
    assert.match(roundsSummary(reports), /\| 4\.00× \(3\.00, 5\.00\) \|/);
  });
});

describe('Report ratios', () => {
  function single(system: Row['system'], label: string, pairsPerSecond: number): Row {
    return {
      label,
      system,
      nodes: 1,
      placement: 'single',
      load: 'uncontended',
      concurrency: 64,
      result: result(pairsPerSecond),
    };
  }

  test('the node:net floors and Redis are compared with lockd 1 node, not a cluster', () => {
    const report = quietReport([
      single('bare', 'bare node:http (mem)', 16000),
      single('lockd', 'lockd 1 node (fsync)', 8000),
      { ...row('lockd', 4000) },
      single('floor', 'node:net sockets (appendfsync always)', 20000),
      single('redis', 'redis 1 node (appendfsync always)', 25000),
    ]);
    const lines = report.markdown().split('\n');
    assert.match(lines[2] ?? '', /^\| bare node:http \(mem\) \|.*\| {2}\| {2}\|$/);
    assert.match(lines[3] ?? '', /^\| lockd 1 node \(fsync\) \|.*\| 50% \| {2}\|$/);
    // The generator's CPU, then the server's per pair, then the share of the ceiling.
    assert.match(lines[3] ?? '', /\| 10% \| 80 \| 50% \|/);
    assert.match(
      lines[5] ?? '',
      /^\| node:net sockets \(appendfsync always\) \|.*\| {2}\| 0\.40× \|$/,
    );
    assert.match(lines[6] ?? '', /^\| redis 1 node \(appendfsync always\) \|.*\| {2}\| 0\.32× \|$/);
  });
});
