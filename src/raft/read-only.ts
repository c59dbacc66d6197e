import { assert } from '../util/assert.js';
import { committedIndex } from './quorum.js';
import type { NodeId } from './types.js';

/**
 * ReadIndex (thesis §6.4), the leader's side. A read arriving at the leader is registered with
 * the commit index of that moment and the number of the next quorum round; the leader then sends
 * that round to every voter (a Heartbeat). Once a quorum of voters has answered round r, the
 * leader was still the leader after every read of round <= r arrived, so those reads are served at
 * their registered index: no later leader can have committed anything this one does not know.
 *
 * A leader that has not yet committed an entry of its term does not know the true commit index
 * (§8): reads then wait, unregistered, until it has.
 */
export interface LeaderRead {
  readonly requestId: number;
  /** The node whose host asked: the leader itself, or a follower that forwarded it. */
  readonly from: NodeId;
}

export interface ConfirmedRead extends LeaderRead {
  readonly index: number;
}

interface RegisteredRead extends ConfirmedRead {
  readonly round: number;
}

export class LeaderReads {
  readonly #capacity: number;
  /** Reads waiting for the leader's first commit in its term, oldest first. */
  #waiting: LeaderRead[] = [];
  /** Registered reads, in round order. */
  #registered: RegisteredRead[] = [];
  /** The round the next registered read joins. Rounds start at 1 in every term. */
  #round = 1;
  /** The highest round sent so far (0: none). */
  #sentRound = 0;
  /** The highest round each voter has answered. */
  readonly #acks = new Map<NodeId, number>();

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, `bad read capacity ${capacity}`);
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#waiting.length + this.#registered.length;
  }

  isFull(): boolean {
    return this.size >= this.#capacity;
  }

  wait(read: LeaderRead): void {
    assert(!this.isFull(), 'leader reads overflow');
    this.#waiting.push(read);
  }

  /** Reads that waited for the first commit of the term, to be registered now. */
  takeWaiting(): LeaderRead[] {
    const waiting = this.#waiting;
    this.#waiting = [];
    return waiting;
  }

  register(read: LeaderRead, index: number): void {
    assert(!this.isFull(), 'leader reads overflow');
    this.#registered.push({ ...read, index, round: this.#round });
  }

  hasRoundToSend(): boolean {
    const last = this.#registered.at(-1);
    return last !== undefined && last.round > this.#sentRound;
  }

  /** The last round sent, while registered reads still wait for its answers; else undefined. */
  roundAwaitingAnswers(): number | undefined {
    return this.#registered.length > 0 && this.#sentRound > 0 ? this.#sentRound : undefined;
  }

  /** The highest round `voter` has answered (0: none). */
  answeredRound(voter: NodeId): number {
    return this.#acks.get(voter) ?? 0;
  }

  /** The round to send now, if reads joined one that is not sent yet. */
  takeRoundToSend(): number | undefined {
    const last = this.#registered.at(-1);
    if (last === undefined || last.round <= this.#sentRound) return undefined;
    this.#sentRound = last.round;
    this.#round = last.round + 1;
    return last.round;
  }

  /**
   * `voter` answered `round`. Returns the reads a quorum of `voters` has now confirmed; `self`
   * counts as having answered every round sent, if it is a voter.
   */
  acknowledge(
    voter: NodeId,
    round: number,
    voters: readonly NodeId[],
    self: NodeId,
  ): ConfirmedRead[] {
    if (round > this.#sentRound || round <= (this.#acks.get(voter) ?? 0)) return [];
    this.#acks.set(voter, round);
    return this.release(voters, self);
  }

  /** The reads confirmed by the answers so far (after a membership change, say). */
  release(voters: readonly NodeId[], self: NodeId): ConfirmedRead[] {
    if (voters.length === 0) return [];
    const answered = voters.map((voter) =>
      voter === self ? this.#sentRound : (this.#acks.get(voter) ?? 0),
    );
    const confirmedRound = committedIndex(answered);
    let count = 0;
    while (
      count < this.#registered.length &&
      (this.#registered[count]?.round ?? 0) <= confirmedRound
    ) {
      count++;
    }
    if (count === 0) return [];
    const confirmed = this.#registered
      .slice(0, count)
      .map(({ requestId, from, index }) => ({ requestId, from, index }));
    this.#registered = this.#registered.slice(count);
    return confirmed;
  }

  /** Every read not yet confirmed, removed: the leader is stepping down. */
  drain(): LeaderRead[] {
    const all = [
      ...this.#waiting,
      ...this.#registered.map(({ requestId, from }) => ({ requestId, from })),
    ];
    this.#waiting = [];
    this.#registered = [];
    return all;
  }
}

/**
 * A follower's reads forwarded to its leader, each waiting for its answer for at most
 * `ticksMax` ticks: a lost message or a silent leader turns into a 'timeout', not a hang.
 */
export class ForwardedReads {
  readonly #capacity: number;
  readonly #ticksMax: number;
  /** requestId -> ticks waited so far. */
  readonly #pending = new Map<number, number>();

  constructor(capacity: number, ticksMax: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, `bad read capacity ${capacity}`);
    this.#capacity = capacity;
    this.#ticksMax = ticksMax;
  }

  get size(): number {
    return this.#pending.size;
  }

  isFull(): boolean {
    return this.#pending.size >= this.#capacity;
  }

  add(requestId: number): void {
    assert(!this.isFull(), 'forwarded reads overflow');
    assert(!this.#pending.has(requestId), `read ${requestId} is already pending`);
    this.#pending.set(requestId, 0);
  }

  /** The answer to `requestId` arrived: whether it was still waited for. */
  resolve(requestId: number): boolean {
    return this.#pending.delete(requestId);
  }

  /** One tick: returns the reads that have now waited too long (and forgets them). */
  tick(): number[] {
    const expired: number[] = [];
    for (const [requestId, ticks] of this.#pending) {
      if (ticks + 1 >= this.#ticksMax) expired.push(requestId);
      else this.#pending.set(requestId, ticks + 1);
    }
    for (const requestId of expired) this.#pending.delete(requestId);
    return expired;
  }

  /** Every pending read, removed: the leader they were sent to is no longer this node's leader. */
  drain(): number[] {
    const all = [...this.#pending.keys()];
    this.#pending.clear();
    return all;
  }
}
