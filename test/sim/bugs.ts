/**
 * Deliberate defects behind test-only switches, to show that the simulator catches what they break
 * (see bugs.test.ts). Host and disk defects live in this folder; those inside the raft core are
 * switched on through RawNodeOptions.testingBugs.
 */
import type { TestingBugs } from '../../src/raft/raw-node.js';
import type { DiskBugs } from './disk.js';
import type { HostBugs } from './node-host.js';

export const bugCatalogue = {
  'vote-twice': 'core: a follower grants its vote to every up-to-date candidate of a term',
  'commit-old-term': "core: a leader commits an earlier term's entry by counting (Figure 8)",
  'apply-before-commit': 'core: entries are handed out to apply before they are committed',
  'send-before-sync': 'host: votes and acknowledgements leave before their fsync completes',
  'host-apply-before-commit': 'host: entries are applied as soon as they are written',
  'local-reads': 'host: reads are answered from the local state machine, without ReadIndex',
  'fsync-lies': 'disk: an acknowledged fsync is lost in a crash unless the next one completed',
  'forget-vote': 'disk: loading forgets the vote of the current term, so a node votes again',
} as const;

export type BugName = keyof typeof bugCatalogue;

export function isBugName(name: string): name is BugName {
  return Object.hasOwn(bugCatalogue, name);
}

export interface BugSwitches {
  readonly raft: TestingBugs | undefined;
  readonly host: HostBugs;
  readonly disk: DiskBugs;
}

export function bugSwitches(bugs: readonly BugName[]): BugSwitches {
  const raft: TestingBugs = {
    voteTwiceInTerm: bugs.includes('vote-twice'),
    commitOldTermByCounting: bugs.includes('commit-old-term'),
    applyBeforeCommit: bugs.includes('apply-before-commit'),
  };
  return {
    raft: Object.values(raft).some((on) => on) ? raft : undefined,
    host: {
      sendBeforeSync: bugs.includes('send-before-sync'),
      applyBeforeCommit: bugs.includes('host-apply-before-commit'),
      localReads: bugs.includes('local-reads'),
    },
    disk: {
      fsyncLies: bugs.includes('fsync-lies'),
      forgetVoteOnLoad: bugs.includes('forget-vote'),
    },
  };
}
