/**
 * The simulator can fail: each deliberately injected bug (bugs.ts: in the raft core behind
 * RawNodeOptions.testingBugs, in the host, or in the disk) is caught by one of the invariants it
 * breaks within a bounded number of seeds, and the seed that catches it passes that invariant
 * without the bug. Some cases switch an invariant off, to show that the Raft properties themselves
 * catch what a more direct check would have caught first; some focus the faults on what the bug
 * needs (crashes, partitions, elections), so that the bound stays small.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BugName } from './bugs.js';
import { invariantRegistry } from './invariants.js';
import { nodesFor, replayCommand } from './seeds.js';
import { runSimulation, type SimulationOptions } from './simulator.js';

const faultTicks = 200;

/** Faults that move leadership and lose volatile state, for bugs that need them. */
const turmoil = ['crash', 'crash-leader', 'power-loss', 'partition', 'isolate-leader', 'campaign'];

const raftSafety = [
  'Election Safety',
  'One Vote Per Term',
  'Log Matching',
  'Leader Completeness',
  'Commit Agreement',
  'State Machine Safety',
  'Acknowledged Proposals Kept',
];

interface BugCase {
  readonly bug: BugName;
  /** Any of these invariants failing counts as catching the bug. */
  readonly caughtBy: readonly string[];
  readonly seedsMax: number;
  readonly faults?: readonly string[];
  /** Invariants switched off for this case. */
  readonly without?: readonly string[];
}

const cases: readonly BugCase[] = [
  { bug: 'vote-twice', caughtBy: ['One Vote Per Term'], seedsMax: 20 },
  {
    bug: 'vote-twice',
    caughtBy: ['Election Safety', 'Durable Before Send'],
    seedsMax: 60,
    without: ['One Vote Per Term'],
  },
  {
    bug: 'commit-old-term',
    caughtBy: ['Leader Completeness', 'Commit Agreement', 'State Machine Safety'],
    seedsMax: 250,
    faults: turmoil,
  },
  { bug: 'apply-before-commit', caughtBy: ['State Machine Safety'], seedsMax: 10 },
  { bug: 'send-before-sync', caughtBy: ['Durable Before Send'], seedsMax: 10 },
  {
    bug: 'send-before-sync',
    caughtBy: raftSafety,
    seedsMax: 500,
    faults: turmoil,
    without: ['Durable Before Send'],
  },
  { bug: 'host-apply-before-commit', caughtBy: ['State Machine Safety'], seedsMax: 10 },
  { bug: 'local-reads', caughtBy: ['Linearizable Reads'], seedsMax: 20 },
  { bug: 'fsync-lies', caughtBy: raftSafety, seedsMax: 60, faults: turmoil },
  {
    bug: 'forget-vote',
    caughtBy: ['One Vote Per Term', 'Election Safety'],
    seedsMax: 250,
    faults: turmoil,
  },
];

function optionsFor(bugCase: BugCase, seed: number, bugs: readonly BugName[]): SimulationOptions {
  const without = bugCase.without ?? [];
  return {
    seed,
    nodes: nodesFor('mixed', seed),
    faultTicks,
    bugs,
    invariants: invariantRegistry.filter((factory) => !without.includes(factory().name)),
    ...(bugCase.faults === undefined ? {} : { faults: bugCase.faults }),
  };
}

/** The first seed at which one of the expected invariants fails, with what it said. */
function firstCatch(
  bugCase: BugCase,
): { seed: number; invariant: string; message: string } | undefined {
  for (let seed = 1; seed <= bugCase.seedsMax; seed++) {
    const result = runSimulation(optionsFor(bugCase, seed, [bugCase.bug]));
    if (!result.ok && bugCase.caughtBy.includes(result.failure.invariant)) {
      return { seed, invariant: result.failure.invariant, message: result.failure.message };
    }
  }
  return undefined;
}

describe('the simulator catches injected bugs', () => {
  for (const bugCase of cases) {
    const focus = [
      bugCase.without === undefined ? '' : ` without ${bugCase.without.join(', ')}`,
      bugCase.faults === undefined ? '' : ' (crash and partition faults only)',
    ].join('');
    test(`${bugCase.bug}${focus}: caught within ${bugCase.seedsMax} seeds`, () => {
      const caught = firstCatch(bugCase);
      assert.ok(
        caught !== undefined,
        `${bugCase.bug} went unnoticed for ${bugCase.seedsMax} seeds`,
      );
      const nodes = nodesFor('mixed', caught.seed);
      const replay = replayCommand(caught.seed, nodes, {
        faultTicks,
        bugs: [bugCase.bug],
        faults: bugCase.faults,
      });
      console.log(
        `${bugCase.bug}: seed ${caught.seed}, ${caught.invariant}: ${caught.message}\n  ${replay}`,
      );
      const clean = runSimulation(optionsFor(bugCase, caught.seed, []));
      assert.ok(
        clean.ok || clean.failure.invariant !== caught.invariant,
        `seed ${caught.seed} fails ${caught.invariant} without the bug too`,
      );
    });
  }
});
