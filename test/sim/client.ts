/**
 * The clients of the simulated cluster: they propose commands to the node they believe leads, and
 * learn each proposal's fate the way lockd's clients do: a proposal is acknowledged when the node
 * that accepted it applies an entry at its index with its term, and superseded when that node applies
 * another entry there. A proposal whose node crashes first is orphaned: it may or may not commit.
 * They also ask for linearizable reads (ReadIndex), at any node.
 */
import type { Entry, NodeId, ReadState } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';
import type { NodeHost } from './node-host.js';
import type { SimRandom } from './random.js';

export type ProposalOutcome = 'pending' | 'acknowledged' | 'superseded' | 'orphaned';

export interface Proposal {
  readonly id: number;
  readonly data: Uint8Array;
  readonly node: NodeId;
  readonly index: number;
  readonly term: number;
  outcome: ProposalOutcome;
}

/** An acknowledged proposal, with what every later leader must hold because of it. */
export interface Acknowledgement {
  readonly proposal: Proposal;
  /** The prefix hash of the proposer's log through the proposal's index when it was applied. */
  readonly prefixHash: number;
  /** The proposer's term when it applied the entry: every leader of this term or later holds it. */
  readonly term: number;
}

/** A linearizable read asked of a node and not yet answered. */
export interface Read {
  readonly id: number;
  readonly node: NodeId;
  /** The highest index known committed anywhere when the read was asked. */
  readonly committedWhenAsked: number;
  outcome: 'pending' | 'answered' | 'failed';
}

export interface ClientStats {
  reads: number;
  readsAnswered: number;
  readsFailed: number;
  attempts: number;
  accepted: number;
  rejected: number;
  acknowledged: number;
  superseded: number;
  orphaned: number;
}

export class Clients {
  readonly stats: ClientStats = {
    reads: 0,
    readsAnswered: 0,
    readsFailed: 0,
    attempts: 0,
    accepted: 0,
    rejected: 0,
    acknowledged: 0,
    superseded: 0,
    orphaned: 0,
  };
  readonly acknowledgements: Acknowledgement[] = [];
  readonly #random: SimRandom;
  readonly #proposalsMax: number;
  readonly #pendingByNode = new Map<NodeId, Map<number, Proposal>>();
  readonly #reads = new Map<number, Read>();
  #leaderHint: NodeId = 0;
  #nextId = 1;

  /** `proposalsMax` bounds the proposals of one run (a run that makes more is misconfigured). */
  constructor(random: SimRandom, proposalsMax: number) {
    this.#random = random;
    this.#proposalsMax = proposalsMax;
  }

  /** Proposes `count` commands to the node believed to lead (or any running node). */
  proposeSome(hosts: readonly NodeHost[], count: number): void {
    const alive = hosts.filter((host) => host.alive);
    if (alive.length === 0) return;
    const hinted = alive.find((host) => host.id === this.#leaderHint);
    const target = hinted ?? this.#random.pick(alive);
    for (let n = 0; n < count; n++) {
      // A refused proposal ends the batch: a client retries later, at the leader it was told of.
      if (this.propose(target) === undefined) return;
    }
  }

  /** Proposes one command to `host`; returns the proposal if it accepted it. */
  propose(host: NodeHost): Proposal | undefined {
    assert(this.#nextId <= this.#proposalsMax, `more than ${this.#proposalsMax} proposals`);
    this.stats.attempts++;
    const id = this.#nextId++;
    const data = encodeProposal(id);
    const result = host.propose(data);
    if (result === undefined || !result.ok) {
      this.stats.rejected++;
      this.#leaderHint = result?.ok === false ? result.leader : 0;
      return undefined;
    }
    this.stats.accepted++;
    this.#leaderHint = host.id;
    const proposal: Proposal = {
      id,
      data,
      node: host.id,
      index: result.index,
      term: result.term,
      outcome: 'pending',
    };
    this.#pendingOf(host.id).set(result.index, proposal);
    return proposal;
  }

  /** Asks `host` (any node) for a linearizable read; returns it if the node took it. */
  read(host: NodeHost, committedNow: number): Read | undefined {
    assert(this.#nextId <= this.#proposalsMax, `more than ${this.#proposalsMax} requests`);
    const id = this.#nextId++;
    const read: Read = { id, node: host.id, committedWhenAsked: committedNow, outcome: 'pending' };
    // Registered first: a node may answer at once.
    this.#reads.set(id, read);
    const result = host.readIndex(id);
    if (result === undefined || !result.ok) {
      this.#reads.delete(id);
      return undefined;
    }
    this.stats.reads++;
    return read;
  }

  /** Asks a random running node for a read. */
  readSome(hosts: readonly NodeHost[], committedNow: number): void {
    const alive = hosts.filter((host) => host.alive);
    if (alive.length > 0) this.read(this.#random.pick(alive), committedNow);
  }

  /** A node answered a read: returns the read if it succeeded (it is answered at its index). */
  readAnswered(host: NodeHost, readState: ReadState): Read | undefined {
    const read = this.#reads.get(readState.requestId);
    assert(read !== undefined && read.node === host.id, `node ${host.id} answered an unknown read`);
    this.#reads.delete(readState.requestId);
    if (!readState.ok) {
      read.outcome = 'failed';
      this.stats.readsFailed++;
      return undefined;
    }
    read.outcome = 'answered';
    this.stats.readsAnswered++;
    return read;
  }

  /** The proposer applied `entry`: a proposal at its index learns its fate. */
  entryApplied(host: NodeHost, entry: Entry): void {
    const pending = this.#pendingOf(host.id);
    const proposal = pending.get(entry.index);
    if (proposal === undefined) return;
    pending.delete(entry.index);
    if (entry.term !== proposal.term) {
      proposal.outcome = 'superseded';
      this.stats.superseded++;
      return;
    }
    assert(
      sameBytes(entry.data, proposal.data),
      `node ${host.id} applied other data at ${entry.index} in term ${entry.term} than it accepted`,
    );
    proposal.outcome = 'acknowledged';
    this.stats.acknowledged++;
    this.acknowledgements.push({
      proposal,
      prefixHash: host.log.hash(entry.index),
      term: host.raw?.status().term ?? proposal.term,
    });
  }

  /** The proposer crashed: its pending proposals and reads will never hear back. */
  nodeCrashed(id: NodeId): void {
    for (const [readId, read] of this.#reads) {
      if (read.node !== id) continue;
      read.outcome = 'failed';
      this.#reads.delete(readId);
    }
    const pending = this.#pendingOf(id);
    for (const proposal of pending.values()) {
      proposal.outcome = 'orphaned';
      this.stats.orphaned++;
    }
    pending.clear();
  }

  #pendingOf(id: NodeId): Map<number, Proposal> {
    let pending = this.#pendingByNode.get(id);
    if (pending === undefined) {
      pending = new Map();
      this.#pendingByNode.set(id, pending);
    }
    return pending;
  }
}

/** A command is its proposal id in 4 bytes: unique in a run, so two proposals never look alike. */
function encodeProposal(id: number): Uint8Array {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, id);
  return data;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let position = 0; position < a.length; position++) {
    if (a[position] !== b[position]) return false;
  }
  return true;
}
