/**
 * The simulator can fail: each deliberately injected bug (bugs.ts: in the raft core behind
 * RawNodeOptions.testingBugs, in the host, or in the disk) is caught by one of the invariants it
 * breaks within a bounded number of seeds, and the seed that catches it passes that invariant
 * without the bug. Some cases switch an invariant off, to show that the Raft properties themselves
 * catch what a more direct check would have caught first; some focus the runs on what the bug
 * needs (fault kinds, raft options, fault rates), so that the bound stays small.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BugName } from './bugs.js';
import type { RaftSettings } from './node-host.js';
import type { ProfileOverrides } from './profile.js';
import { invariantsWithout, nodesFor, replayCommand } from './seeds.js';
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

/** Elections without PreVote and CheckQuorum, crashes every few ticks and quick restarts. */
const contestedVotes = {
  faults: ['crash', 'crash-leader', 'power-loss', 'campaign'],
  raft: { preVote: false, checkQuorum: false },
  profile: { faultGapTicksMax: 2, crashDownTicksMax: 2 },
} as const;

interface BugCase {
  readonly bug: BugName;
  /** Any of these invariants failing counts as catching the bug. */
  readonly caughtBy: readonly string[];
  readonly seedsMax: number;
  /** Invariants switched off for this case. */
  readonly without?: readonly string[];
  /** What focuses the runs on the bug (see SimulationOptions). */
  readonly faults?: readonly string[];
  readonly raft?: Partial<RaftSettings>;
  readonly profile?: ProfileOverrides;
}

/**
 * The seed bounds leave a wide margin: each focused case catches its bug in 5 to 25% of seeds
 * (measured over 200), so a bound of 100 to 250 misses with a probability below 1e-4.
 */
const cases: readonly BugCase[] = [
  { bug: 'vote-twice', caughtBy: ['One Vote Per Term'], seedsMax: 20 },
  {
    bug: 'vote-twice',
    caughtBy: ['Election Safety', 'Durable Before Send'],
    seedsMax: 120,
    without: ['One Vote Per Term'],
  },
  {
    // Figure 8 needs a leader to lose power between committing an old entry by counting and
    // replicating its own: one entry per append, and leaders that crash and are cut off often.
    bug: 'commit-old-term',
    caughtBy: ['Leader Completeness', 'Commit Agreement', 'State Machine Safety'],
    seedsMax: 100,
    faults: ['crash-leader', 'isolate-leader', 'campaign'],
    raft: { maxEntriesPerAppend: 1, maxInflightAppends: 1, preVote: false, checkQuorum: false },
    profile: { faultGapTicksMax: 5, clientGapUsMax: 3_000 },
  },
  { bug: 'apply-before-commit', caughtBy: ['State Machine Safety'], seedsMax: 10 },
  { bug: 'send-before-sync', caughtBy: ['Durable Before Send'], seedsMax: 10 },
  {
    bug: 'send-before-sync',
    caughtBy: raftSafety,
    seedsMax: 250,
    without: ['Durable Before Send'],
    ...contestedVotes,
  },
  { bug: 'host-apply-before-commit', caughtBy: ['State Machine Safety'], seedsMax: 10 },
  { bug: 'local-reads', caughtBy: ['Linearizable Reads'], seedsMax: 20 },
  { bug: 'fsync-lies', caughtBy: raftSafety, seedsMax: 60, faults: turmoil },
  {
    bug: 'forget-vote',
    caughtBy: ['One Vote Per Term', 'Election Safety'],
    seedsMax: 150,
    ...contestedVotes,
  },
];

function optionsFor(bugCase: BugCase, seed: number, bugs: readonly BugName[]): SimulationOptions {
  return {
    seed,
    nodes: nodesFor('mixed', seed),
    faultTicks,
    bugs,
    invariants: invariantsWithout(bugCase.without),
    faults: bugCase.faults,
    raft: bugCase.raft,
    profile: bugCase.profile,
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
      bugCase.faults === undefined ? '' : ` (focused: ${bugCase.faults.join(', ')})`,
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
        raft: bugCase.raft,
        profile: bugCase.profile,
        without: bugCase.without,
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
