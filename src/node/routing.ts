/**
 * Where a request goes. A write goes to the leader: this node if it leads, else the leader it can
 * reach (forwarded). A linearizable read is answered here once a quorum confirmed it (ReadIndex).
 * During an election both wait (bounded) for a leader, on the node's own events (conditions.ts),
 * then answer 503 with Retry-After.
 */
import { LockdError } from '../errors.js';
import type { RawNode } from '../raft/raw-node.js';
import { type NodeId, noNode } from '../raft/types.js';
import type { ConditionWaiters } from './conditions.js';
import type { LeaderDuties } from './leader-duties.js';
import type { Membership } from './membership.js';
import type { ReadBarrier } from './reads.js';

export interface RouterOptions {
  readonly id: NodeId;
  readonly raft: RawNode;
  readonly duties: LeaderDuties;
  readonly membership: Membership;
  readonly conditions: ConditionWaiters;
  readonly reads: ReadBarrier;
  /**
   * The api's request time-out. A request waits half of it for a leader, so that the node's 503
   * comes before the api's own time-out; a read waits all of it for its confirmation.
   */
  readonly requestTimeoutMs: number;
}

export class Router {
  readonly #options: RouterOptions;

  constructor(options: RouterOptions) {
    this.#options = options;
  }

  /** How long a request waits for a leader to be elected (or reached). */
  get leaderWaitMs(): number {
    return Math.max(1, Math.floor(this.#options.requestTimeoutMs / 2));
  }

  /**
   * The write target now, if there is one: callers take it without an await when it is known,
   * so that a request on the leader reaches the core in the same turn of the event loop.
   */
  writeTarget(): NodeId | undefined {
    const { id, duties, raft, membership } = this.#options;
    if (duties.isLeader()) return id;
    const { leader } = raft.status();
    if (leader === noNode || leader === id) return undefined;
    return membership.reachable(leader) ? leader : undefined;
  }

  /** The write target, once there is one (bounded wait). */
  leaderForWrite(): Promise<NodeId> {
    return this.#options.conditions.until(
      () => this.writeTarget(),
      this.leaderWaitMs,
      () => this.#noLeaderAfterWait(),
    );
  }

  /** Resolves once this node's state answers a read linearizably. */
  async linearizable(): Promise<void> {
    const { id, duties, raft, conditions, reads } = this.#options;
    const leading = await conditions.until(
      () => {
        if (duties.isReady()) return true;
        const { leader } = raft.status();
        return leader !== noNode && leader !== id ? false : undefined;
      },
      this.leaderWaitMs,
      () => this.#noLeaderAfterWait(),
    );
    const { voters } = raft.status();
    // The only voter: nobody else can have acknowledged a write this leader has not applied.
    if (leading && voters.length === 1 && voters[0] === id) return;
    await reads.wait(this.#options.requestTimeoutMs);
  }

  #noLeaderAfterWait(): LockdError {
    const { leader } = this.#options.raft.status();
    const detail =
      leader === noNode ? 'no leader is elected' : `the leader (node ${leader}) cannot be reached`;
    return new LockdError(
      'LOCKD_ERR_NO_LEADER',
      `${detail} after waiting ${this.leaderWaitMs} ms; retry`,
    );
  }
}
