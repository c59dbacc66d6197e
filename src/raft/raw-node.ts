import { assert } from '../util/assert.js';
import { Raft } from './raft.js';
import type {
  HardState,
  Message,
  NodeId,
  PersistedState,
  ProposeResult,
  RaftStatus,
  Random,
  Ready,
  SoftState,
} from './types.js';
import { noNode } from './types.js';

export interface RawNodeOptions {
  readonly id: NodeId;
  /** Every voter, including this node's own id. */
  readonly peers: readonly NodeId[];
  /** The base election timeout in ticks; each timeout is drawn from [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks ticks. Must be below electionTicks. */
  readonly heartbeatTicks: number;
  readonly random: Random;
  /** What the host loaded from its storage (an empty log and emptyHardState on first start). */
  readonly persisted: PersistedState;
  /** The most entries one AppendEntries carries (default 256). */
  readonly maxEntriesPerAppend?: number;
  /** The most proposed-but-uncommitted entries a leader holds before refusing more (default 10 000). */
  readonly maxPendingProposals?: number;
  /** The most unacknowledged AppendEntries per follower while streaming (default 8). */
  readonly maxInflightAppends?: number;
  /** The most committed entries one Ready hands out, so that a long replay comes in batches (default 1024). */
  readonly maxCommittedEntriesPerReady?: number;
}

export const rawNodeDefaults = {
  maxEntriesPerAppend: 256,
  maxPendingProposals: 10_000,
  maxInflightAppends: 8,
  maxCommittedEntriesPerReady: 1024,
} as const;

/** What the outstanding Ready handed out, to be acknowledged by advance(). */
interface Outstanding {
  readonly appliedTo: number;
}

/**
 * The consensus core as its host sees it, after etcd's RawNode: synchronous, single-threaded, with
 * no I/O of its own. The host feeds it ticks, messages and proposals, and drives its output with
 * hasReady() / ready() / advance() under the ordering contract written on `Ready`.
 *
 * tick(), step() and propose() may be called between ready() and advance(): what they produce
 * goes into the next Ready.
 */
export class RawNode {
  readonly #raft: Raft;
  readonly #maxCommittedEntriesPerReady: number;
  /** The soft and hard state last handed out, to tell whether they changed since. */
  #previousSoftState: SoftState = { role: 'follower', leader: noNode };
  #previousHardState: HardState;
  #outstanding: Outstanding | undefined = undefined;

  constructor(options: RawNodeOptions) {
    validateOptions(options);
    this.#maxCommittedEntriesPerReady =
      options.maxCommittedEntriesPerReady ?? rawNodeDefaults.maxCommittedEntriesPerReady;
    this.#previousHardState = options.persisted.hardState;
    this.#raft = new Raft({
      id: options.id,
      voters: [...options.peers],
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: options.random,
      persisted: options.persisted,
      maxEntriesPerAppend: options.maxEntriesPerAppend ?? rawNodeDefaults.maxEntriesPerAppend,
      maxPendingProposals: options.maxPendingProposals ?? rawNodeDefaults.maxPendingProposals,
      maxInflightAppends: options.maxInflightAppends ?? rawNodeDefaults.maxInflightAppends,
    });
  }

  tick(): void {
    this.#raft.tick();
  }

  /** Messages not addressed to this node, from unknown peers, or malformed are ignored. */
  step(message: Message): void {
    this.#raft.step(message);
  }

  /** Appends `data` to the log if this node leads; the entry commits later, or never if it loses. */
  propose(data: Uint8Array): ProposeResult {
    return this.#raft.propose(data);
  }

  /** Whether ready() has work for the host. Always false while a Ready awaits its advance(). */
  hasReady(): boolean {
    if (this.#outstanding !== undefined) return false;
    const raft = this.#raft;
    return (
      raft.hasPendingMessages() ||
      raft.log.hasUnstableEntries() ||
      raft.log.hasNextCommittedEntries() ||
      !sameSoftState(this.#softState(), this.#previousSoftState) ||
      !sameHardState(this.#hardState(), this.#previousHardState)
    );
  }

  ready(): Ready {
    assert(this.#outstanding === undefined, 'ready() called again before advance()');
    const raft = this.#raft;
    raft.flush();
    const softState = this.#softState();
    const hardState = this.#hardState();
    const entries = raft.log.unstableEntries();
    const committedEntries = raft.log.nextCommittedEntries(this.#maxCommittedEntriesPerReady);
    const lastCommitted = committedEntries.at(-1);
    // The host applies only what is durable: committed entries are in this Ready or an earlier one.
    assert(
      lastCommitted === undefined || lastCommitted.index <= raft.log.lastIndex(),
      'apply past log',
    );
    assert(hardState.commit <= raft.log.lastIndex(), 'commit past the log being persisted');
    const ready: Ready = {
      softState: sameSoftState(softState, this.#previousSoftState) ? undefined : softState,
      hardState: sameHardState(hardState, this.#previousHardState) ? undefined : hardState,
      entries,
      messages: raft.takeMessages(),
      committedEntries,
    };
    this.#previousSoftState = softState;
    this.#previousHardState = hardState;
    raft.log.persisting(raft.log.lastIndex());
    this.#outstanding = { appliedTo: lastCommitted?.index ?? raft.log.applied };
    return ready;
  }

  /** The host persisted, sent and applied everything in the last Ready. */
  advance(): void {
    const outstanding = this.#outstanding;
    assert(outstanding !== undefined, 'advance() without a ready()');
    this.#raft.log.persisted();
    this.#raft.log.appliedTo(outstanding.appliedTo);
    this.#outstanding = undefined;
    this.#raft.assertInvariants();
  }

  status(): RaftStatus {
    const raft = this.#raft;
    return {
      id: raft.id,
      role: raft.role,
      term: raft.term,
      leader: raft.leader,
      commitIndex: raft.log.committed,
      appliedIndex: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
    };
  }

  #softState(): SoftState {
    return { role: this.#raft.role, leader: this.#raft.leader };
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }
}

function validateOptions(options: RawNodeOptions): void {
  const { id, peers } = options;
  assert(isPositiveInteger(id), `node id must be a positive integer, got ${id}`);
  assert(peers.every(isPositiveInteger), 'peer ids must be positive integers');
  assert(new Set(peers).size === peers.length, 'peer ids must be distinct');
  assert(peers.includes(id), `peers must include this node's own id ${id}`);
  assert(isPositiveInteger(options.heartbeatTicks), 'heartbeatTicks must be a positive integer');
  assert(
    isPositiveInteger(options.electionTicks) && options.electionTicks > options.heartbeatTicks,
    'electionTicks must be an integer above heartbeatTicks',
  );
  for (const bound of [
    options.maxEntriesPerAppend,
    options.maxPendingProposals,
    options.maxInflightAppends,
    options.maxCommittedEntriesPerReady,
  ]) {
    assert(bound === undefined || isPositiveInteger(bound), 'bounds must be positive integers');
  }
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
