/**
 * A small randomized scenario on the in-memory network: message loss, reordering, partitions,
 * crashes and restarts, with the safety properties checked after every step, then a phase without
 * faults in which the cluster must converge. Deterministic for a given seed.
 */
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/raft/random.js';
import type { NodeId } from '../../src/raft/types.js';
import { bytes, Network } from './network.js';

export interface ScenarioOptions {
  readonly seed: number;
  readonly size: number;
  readonly steps: number;
  readonly electionTicks?: number;
  readonly dropRate?: number;
}

/** What a scenario did, so that a test can tell a busy run from a vacuous one. */
export interface ScenarioStats {
  readonly terms: number;
  readonly proposalsAccepted: number;
  readonly entriesCommittedDuringFaults: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly inFlightMax: number;
}

/**
 * The weights of the actions, per mille. Time (a tick of every running node) is rarer than message
 * handling, as in a real cluster where a tick is ~100 ms; partitions change every dozen ticks or
 * so, long enough for elections to finish in between; crashes are rarer still.
 */
const weights = {
  deliver: 350,
  processReady: 330,
  tick: 150,
  propose: 120,
  drop: 20,
  partition: 12,
  restart: 12,
  crash: 6,
} as const;

type Action = keyof typeof weights;

export function runScenario(options: ScenarioOptions): ScenarioStats {
  const ids = Array.from({ length: options.size }, (_, position) => position + 1);
  // Tiny batches and windows, so that AppendEntries often carry less than the leader's log and
  // flow control (probe, replicate, full windows) is exercised, not only the common case.
  const bounds = new SeededRandom(options.seed);
  const network = new Network({
    ids,
    seed: options.seed,
    reorder: true,
    dropRate: options.dropRate ?? 0.05,
    electionTicks: options.electionTicks ?? 5,
    heartbeatTicks: 1,
    nodeOptions: {
      maxEntriesPerAppend: 1 + bounds.nextInt(4),
      maxInflightAppends: 1 + bounds.nextInt(3),
      maxCommittedEntriesPerReady: 1 + bounds.nextInt(8),
    },
  });
  const stats = { proposalsAccepted: 0, crashes: 0, partitions: 0, inFlightMax: 0 };
  for (let step = 0; step < options.steps; step++) {
    runAction(network, chooseAction(network), stats, options.seed);
    network.checkSafety();
    stats.inFlightMax = Math.max(stats.inFlightMax, network.inFlight.length);
  }
  const entriesCommittedDuringFaults = network.safety.appliedAt.size;
  converge(network, options.seed);
  return {
    ...stats,
    terms: network.safety.leaderOfTerm.size,
    entriesCommittedDuringFaults,
  };
}

function chooseAction(network: Network): Action {
  let roll = network.random.nextInt(1000);
  for (const [action, weight] of Object.entries(weights) as [Action, number][]) {
    if (roll < weight) return action;
    roll -= weight;
  }
  return 'deliver';
}

function runAction(
  network: Network,
  action: Action,
  stats: { proposalsAccepted: number; crashes: number; partitions: number },
  seed: number,
): void {
  const alive = network.aliveIds();
  const pick = (items: readonly NodeId[]): NodeId | undefined =>
    items.length === 0 ? undefined : items[network.random.nextInt(items.length)];
  switch (action) {
    case 'deliver':
      // A burst, so that delivery keeps up with what ticks produce and the pool stays small.
      for (let burst = 1 + network.random.nextInt(8); burst > 0; burst--) network.deliverOne();
      break;
    case 'drop':
      network.dropOne();
      break;
    case 'tick':
      network.tickAll();
      break;
    case 'processReady': {
      const id = pick(alive);
      if (id !== undefined) network.processReady(id);
      break;
    }
    case 'propose': {
      const id = pick(alive);
      const data = bytes(`s${seed}-p${stats.proposalsAccepted}`);
      if (id !== undefined && network.propose(id, data).ok) stats.proposalsAccepted++;
      break;
    }
    case 'partition':
      stats.partitions++;
      randomPartition(network);
      break;
    case 'restart': {
      const id = pick(network.ids.filter((other) => !network.isAlive(other)));
      if (id !== undefined) network.restart(id);
      break;
    }
    case 'crash': {
      const id = pick(alive);
      if (id !== undefined && alive.length > 1) {
        network.crash(id);
        stats.crashes++;
      }
      break;
    }
  }
}

function randomPartition(network: Network): void {
  if (network.random.nextInt(3) === 0) {
    network.heal();
    return;
  }
  const side = network.ids.filter(() => network.random.nextInt(2) === 0);
  network.partition(
    side,
    network.ids.filter((id) => !side.includes(id)),
  );
}

/** With the faults gone, the cluster must elect one leader and bring every node to the same state. */
function converge(network: Network, seed: number): void {
  network.heal();
  network.dropRate = 0;
  for (const id of network.ids) if (!network.isAlive(id)) network.restart(id);
  const leader = network.electLeader(2000);
  const final = network.propose(leader, bytes(`s${seed}-final`));
  assert.ok(final.ok, 'the elected leader accepts a proposal');
  network.runUntil(
    () => network.ids.every((id) => network.simulated(id).applied.length >= final.index),
    200,
  );
  const sequences = network.ids.map((id) =>
    network
      .simulated(id)
      .applied.slice(0, final.index)
      .map((entry) => `${entry.index}@${entry.term}`)
      .join(),
  );
  for (const sequence of sequences) assert.equal(sequence, sequences[0]);
  network.checkSafety();
}
