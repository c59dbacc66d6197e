/**
 * The properties checked after every step of a simulation. Each invariant is a small named check
 * over the cluster's state (it may remember what it saw at earlier steps); adding one is writing a
 * factory below and listing it in `invariantRegistry`. The five safety properties are those of
 * Figure 3 of the Raft paper; the others are what lockd's clients and the Ready contract rely on.
 */
import type { Message, NodeId } from '../../src/raft/types.js';
import type { Acknowledgement, Clients, Read } from './client.js';
import { agreesThrough } from './hashed-log.js';
import type { History } from './history.js';
import type { NodeHost } from './node-host.js';

export interface SentMessage {
  readonly host: NodeHost;
  readonly message: Message;
}

export interface AnsweredRead {
  readonly host: NodeHost;
  readonly read: Read;
  /** The index the read was answered at (the host answers once it has applied it). */
  readonly index: number;
}

/** What an invariant may read. Hosts' `status` is fresh: the simulator refreshes it every step. */
export interface ClusterView {
  readonly hosts: readonly NodeHost[];
  readonly history: History;
  readonly clients: Clients;
  /** The messages sent during the step just taken. */
  readonly sent: readonly SentMessage[];
  /** The reads answered (ok) during the step just taken. */
  readonly answeredReads: readonly AnsweredRead[];
}

export interface Invariant {
  readonly name: string;
  /** Undefined while the property holds; otherwise what breaks it. */
  check(view: ClusterView): string | undefined;
}

/** A fresh invariant per run, so that what one remembers never leaks into the next run. */
export type InvariantFactory = () => Invariant;

/** Thrown when a property fails: the simulator reports the seed, the invariant and a trace. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  readonly invariant: string;
  /** What is wrong, without the invariant's name. */
  readonly detail: string;

  constructor(invariant: string, detail: string) {
    super(`${invariant}: ${detail}`);
    this.invariant = invariant;
    this.detail = detail;
  }
}

/** Election Safety: at most one leader can be elected in a given term. */
export function electionSafety(): Invariant {
  const leaderOfTerm = new Map<number, NodeId>();
  return {
    name: 'Election Safety',
    check({ hosts }) {
      for (const host of hosts) {
        if (host.status?.role !== 'leader') continue;
        const term = host.status.term;
        const known = leaderOfTerm.get(term);
        if (known === undefined) leaderOfTerm.set(term, host.id);
        else if (known !== host.id) return `nodes ${known} and ${host.id} both lead term ${term}`;
      }
      return undefined;
    },
  };
}

/** A node grants at most one vote per term (§5.2), across crashes and restarts. */
export function oneVotePerTerm(): Invariant {
  const votes = new Map<string, NodeId>();
  return {
    name: 'One Vote Per Term',
    check({ sent }) {
      for (const { host, message } of sent) {
        if (message.type !== 'RequestVoteResponse' || !message.granted) continue;
        const key = `${message.term}/${host.id}`;
        const earlier = votes.get(key);
        if (earlier === undefined) votes.set(key, message.to);
        else if (earlier !== message.to) {
          return `node ${host.id} voted for ${earlier} and then ${message.to} in term ${message.term}`;
        }
      }
      return undefined;
    },
  };
}

/** Leader Append-Only: a leader never overwrites or deletes entries in its log. */
export function leaderAppendOnly(): Invariant {
  const seen = new Map<NodeId, { term: number; lastIndex: number; hash: number }>();
  return {
    name: 'Leader Append-Only',
    check({ hosts }) {
      for (const host of hosts) {
        if (!host.leadsWithLog() || host.status === undefined) {
          seen.delete(host.id);
          continue;
        }
        const term = host.status.term;
        const log = host.log;
        const before = seen.get(host.id);
        if (before?.term === term) {
          if (log.lastIndex === before.lastIndex && log.hash(log.lastIndex) === before.hash)
            continue;
          const shrank = log.lastIndex < before.lastIndex;
          if (
            shrank ||
            (log.knows(before.lastIndex) && log.hash(before.lastIndex) !== before.hash)
          ) {
            return `leader ${host.id} of term ${term} changed its log at or below ${before.lastIndex}`;
          }
        }
        seen.set(host.id, { term, lastIndex: log.lastIndex, hash: log.hash(log.lastIndex) });
      }
      return undefined;
    },
  };
}

/**
 * Log Matching: if two logs contain an entry with the same index and term, the logs are identical
 * in all entries up through that index. Every (index, term) ever written, or installed as a
 * snapshot, is registered with the prefix hash through it; any later one must bring the same.
 */
export function logMatching(): Invariant {
  const prefixOf = new Map<number, number>();
  const checkedSerial = new Map<NodeId, number>();
  const register = (index: number, term: number, hash: number): boolean => {
    const key = index * 2 ** 21 + term;
    const known = prefixOf.get(key);
    if (known === undefined) prefixOf.set(key, hash);
    return known === undefined || known === hash;
  };
  return {
    name: 'Log Matching',
    check({ hosts }) {
      for (const host of hosts) {
        if (!host.alive) continue;
        const log = host.log;
        const since = checkedSerial.get(host.id) ?? -1;
        const { base } = log;
        if (
          log.baseSerial > since &&
          base.index > 0 &&
          !register(base.index, base.term, base.hash)
        ) {
          return `node ${host.id} has a snapshot at ${base.index} of term ${base.term} of another history than a log seen before`;
        }
        for (let index = log.firstWrittenAfter(since); index <= log.lastIndex; index++) {
          const term = log.entry(index).term;
          if (!register(index, term, log.hash(index))) {
            return `node ${host.id} holds entry ${index} of term ${term} after another prefix than a log seen before`;
          }
        }
        checkedSerial.set(
          host.id,
          Math.max(log.baseSerial, log.lastIndex > base.index ? log.serial(log.lastIndex) : 0),
        );
      }
      return undefined;
    },
  };
}

/**
 * Leader Completeness: if an entry is committed in a term, it is in the log of every leader of
 * every later term. Checked on each leader whose log the host mirrors in full.
 */
export function leaderCompleteness(): Invariant {
  return {
    name: 'Leader Completeness',
    check({ hosts, history }) {
      for (const host of hosts) {
        if (!host.leadsWithLog() || host.status === undefined) continue;
        const term = host.status.term;
        const required = history.committedThrough(term);
        if (
          required > host.log.lastIndex ||
          agreesThrough(host.log, history.committed, required) === false
        ) {
          return `leader ${host.id} of term ${term} lacks the committed log through ${required}`;
        }
      }
      return undefined;
    },
  };
}

/** A node's log agrees with the known committed log up to the node's own commit index. */
export function commitAgreement(): Invariant {
  return {
    name: 'Commit Agreement',
    check({ hosts, history }) {
      for (const host of hosts) {
        if (!host.alive) continue;
        const through = Math.min(host.knownCommit, history.committed.lastIndex);
        if (agreesThrough(host.log, history.committed, through) === false) {
          return `node ${host.id} committed through ${host.knownCommit}, but its log differs from the committed log at or below ${through}`;
        }
      }
      return undefined;
    },
  };
}

/**
 * State Machine Safety: if a node has applied an entry at an index, no node ever applies another
 * entry there. Stronger, as lockd needs it: every node's state machine (restored from snapshots
 * and then applied entry by entry) is exactly the committed log, in order, and holds only what
 * the node has written down as committed, or is writing: a node applies the durable part of a
 * Ready's committed entries while it writes the Ready (durableCommittedCount). Written, not
 * necessarily durable: a commit index may be written without an fsync (see
 * StorageBatch.hardState). An entry applied past the durable commit is committed all the same (a
 * quorum holds it durably, which the check above and the history's committed log confirm); a
 * restart merely learns its commit again.
 */
export function stateMachineSafety(): Invariant {
  return {
    name: 'State Machine Safety',
    check({ hosts, history }) {
      for (const host of hosts) {
        if (!host.alive) continue;
        const applied = host.appliedLength;
        if (applied > history.committed.lastIndex) {
          return `node ${host.id} applied through ${applied}, but only ${history.committed.lastIndex} entries are committed`;
        }
        if (host.appliedHash !== history.committed.hash(applied)) {
          return `node ${host.id} applied a different sequence than the committed log through ${applied}`;
        }
        const writtenCommit = Math.max(
          host.disk.writtenHardState.commit,
          host.disk.writingCommit ?? 0,
          host.disk.snapshotIndex,
        );
        if (applied > writtenCommit) {
          return `node ${host.id} applied through ${applied} with only ${writtenCommit} written as committed`;
        }
      }
      return undefined;
    },
  };
}

/**
 * Every acknowledged proposal is in the log of every leader of the acknowledging term or a later
 * one, at the index it was acknowledged at, after the same prefix (or compacted into a snapshot of
 * the committed log, which Commit Agreement checks). That they are applied in the same order
 * everywhere is State Machine Safety.
 */
export function acknowledgedProposalsKept(): Invariant {
  /** Per acknowledging term, the acknowledgement of the highest index. */
  const highestByTerm = new Map<number, Acknowledgement>();
  let seen = 0;
  return {
    name: 'Acknowledged Proposals Kept',
    check({ hosts, clients }) {
      for (; seen < clients.acknowledgements.length; seen++) {
        const acknowledgement = clients.acknowledgements[seen];
        if (acknowledgement === undefined) break;
        const best = highestByTerm.get(acknowledgement.term);
        if (best === undefined || best.proposal.index < acknowledgement.proposal.index) {
          highestByTerm.set(acknowledgement.term, acknowledgement);
        }
      }
      for (const host of hosts) {
        if (!host.leadsWithLog() || host.status === undefined) continue;
        const term = host.status.term;
        const log = host.log;
        for (const [acknowledgedTerm, { proposal, prefixHash }] of highestByTerm) {
          if (acknowledgedTerm > term || proposal.index < log.base.index) continue;
          if (proposal.index > log.lastIndex || log.hash(proposal.index) !== prefixHash) {
            return `leader ${host.id} of term ${term} lacks proposal ${proposal.id}, acknowledged at ${proposal.index} in term ${acknowledgedTerm}`;
          }
        }
      }
      return undefined;
    },
  };
}

/**
 * Linearizable reads: a read answered at index i (ReadIndex) reflects every entry committed
 * before the read was asked, so i is at or above the committed index known when it was asked.
 */
export function linearizableReads(): Invariant {
  return {
    name: 'Linearizable Reads',
    check({ answeredReads }) {
      for (const { host, read, index } of answeredReads) {
        if (index < read.committedWhenAsked) {
          return `node ${host.id} answered read ${read.id} at index ${index}, but ${read.committedWhenAsked} was committed before it was asked`;
        }
      }
      return undefined;
    },
  };
}

/**
 * The Ready contract: a message leaves only once what it promises is durable: its term, a granted
 * vote, a candidate's own vote, the entries or snapshot a follower acknowledges. A leader's own
 * entries need not be durable before it sends them (Ready.earlyMessages, thesis §10.2.1), but the
 * term it sends them in must be. A promise made in a term the node has since durably left holds vacuously (it can
 * never act in that term again). A pre-vote promises nothing (it is about a term not yet entered).
 */
export function durableBeforeSend(): Invariant {
  return {
    name: 'Durable Before Send',
    check({ sent }) {
      for (const { host, message } of sent) {
        const broken = brokenPromise(host, message);
        if (broken !== undefined) return `node ${host.id} ${broken}`;
      }
      return undefined;
    },
  };
}

function brokenPromise(host: NodeHost, message: Message): string | undefined {
  if (message.type === 'PreVote' || message.type === 'PreVoteResponse') return undefined;
  const { hardState, lastIndex } = host.disk;
  if (hardState.term > message.term) return undefined;
  if (hardState.term < message.term) {
    return `sent a ${message.type} of term ${message.term} with term ${hardState.term} durable`;
  }
  switch (message.type) {
    case 'RequestVote':
      return hardState.vote === host.id ? undefined : 'campaigned before its own vote was durable';
    case 'RequestVoteResponse':
      return !message.granted || hardState.vote === message.to
        ? undefined
        : `granted a vote to ${message.to} that is not durable`;
    case 'AppendEntriesResponse':
      return !message.success || message.matchIndex <= lastIndex
        ? undefined
        : `acknowledged ${message.matchIndex} with ${lastIndex} durable`;
    case 'InstallSnapshotResponse':
      return !message.installed || message.matchIndex <= lastIndex
        ? undefined
        : `acknowledged a snapshot through ${message.matchIndex} with ${lastIndex} durable`;
    default:
      return undefined;
  }
}

/** Every invariant checked after every step, in this order. */
export const invariantRegistry: readonly InvariantFactory[] = [
  electionSafety,
  oneVotePerTerm,
  leaderAppendOnly,
  logMatching,
  leaderCompleteness,
  commitAgreement,
  stateMachineSafety,
  acknowledgedProposalsKept,
  linearizableReads,
  durableBeforeSend,
];
