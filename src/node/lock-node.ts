import type { LockService } from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import { decodeCommand, encodeCommand } from '../locks/codec.js';
import type {
  AcquireResult,
  CommandResult,
  LockCommand,
  ReleaseResult,
} from '../locks/commands.js';
import { LockStateMachine } from '../locks/state-machine.js';
import { createRandom } from '../raft/random.js';
import { RawNode } from '../raft/raw-node.js';
import { type Entry, EntryType, type NodeId, type RaftStatus, type Ready } from '../raft/types.js';
import type { RaftStorage } from '../storage/storage.js';
import { assert } from '../util/assert.js';
import { PendingProposals } from './pending-proposals.js';

export interface NodeLogger {
  info(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface LockNodeOptions {
  readonly id: NodeId;
  /** Every voter of the cluster, this node included. */
  readonly members: readonly NodeId[];
  readonly storage: RaftStorage;
  /** Wall-clock length of one Raft tick. */
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Seeds the Raft core's randomized election timeouts. */
  readonly seed: number;
  readonly logger: NodeLogger;
  /** Called once if the node hits an error it cannot continue after (e.g. a failed fsync). */
  readonly onFatal: (error: unknown) => void;
}

/**
 * The host loop: owns the Raft core, the storage, the lock state machine and the timer, and turns
 * client calls into proposals whose results come back when their entries are applied.
 * Every ready batch is persisted with one write (group commit) before anything is applied.
 */
export class LockNode implements LockService {
  readonly #raft: RawNode;
  readonly #storage: RaftStorage;
  readonly #locks = new LockStateMachine();
  readonly #pending = new PendingProposals();
  readonly #options: LockNodeOptions;
  #ticker: NodeJS.Timeout | undefined;
  #drainScheduled = false;
  #draining: Promise<void> | undefined;
  #failed = false;
  #stopping = false;

  private constructor(options: LockNodeOptions, raft: RawNode) {
    this.#options = options;
    this.#storage = options.storage;
    this.#raft = raft;
  }

  /** Loads the persisted state, replays the log into the state machine, then starts ticking. */
  static async start(options: LockNodeOptions): Promise<LockNode> {
    assert(
      options.members.length === 1 && options.members[0] === options.id,
      'this build runs single-node clusters only: peers are not networked yet',
    );
    const persisted = await options.storage.load();
    const raft = new RawNode({
      id: options.id,
      peers: options.members,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: createRandom(options.seed),
      persisted,
    });
    const node = new LockNode(options, raft);
    await node.#drain();
    assert(
      node.#locks.appliedIndex >= persisted.hardState.commit,
      'the replay must reach the persisted commit index before the node serves',
    );
    node.#ticker = setInterval(() => node.#tick(), options.tickMs);
    options.logger.info({ ...raft.status(), locks: node.#locks.size }, 'raft node started');
    return node;
  }

  acquire(name: string): Promise<AcquireResult> {
    return this.#propose({ kind: 'acquire', name }) as Promise<AcquireResult>;
  }

  release(name: string): Promise<ReleaseResult> {
    return this.#propose({ kind: 'release', name }) as Promise<ReleaseResult>;
  }

  /**
   * Answers from the applied state. On a single node that is linearizable: a write is
   * acknowledged only after it is applied, and only the leader serves.
   */
  async isLocked(name: string): Promise<boolean> {
    this.#assertServing();
    if (this.#raft.status().role !== 'leader') throw noLeaderError(this.#raft.status().leader);
    return this.#locks.isLocked(name);
  }

  status(): RaftStatus & { readonly locks: number; readonly pendingProposals: number } {
    return {
      ...this.#raft.status(),
      locks: this.#locks.size,
      pendingProposals: this.#pending.size,
    };
  }

  /** Stops ticking, finishes the batch under way, fails what is still pending, closes storage. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#ticker);
    await this.#draining;
    this.#pending.failAll(new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down'));
    await this.#storage.close();
  }

  #propose(command: LockCommand): Promise<CommandResult> {
    this.#assertServing();
    const proposed = this.#raft.propose(encodeCommand(command));
    if (!proposed.ok) {
      if (proposed.reason === 'too-many-pending') {
        throw new LockdError(
          'LOCKD_ERR_OVERLOADED',
          'Too many changes are waiting to commit; retry shortly',
        );
      }
      throw noLeaderError(proposed.leader);
    }
    const result = this.#pending.add(proposed.index, proposed.term);
    this.#scheduleDrain();
    return result;
  }

  #assertServing(): void {
    if (this.#stopping)
      throw new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down');
    if (this.#failed)
      throw new LockdError('LOCKD_ERR_INTERNAL', 'The node has failed and is stopping');
  }

  #tick(): void {
    this.#raft.tick();
    this.#scheduleDrain();
  }

  /**
   * Runs the ready loop on a later turn of the event loop, so that every request that arrived in
   * the meantime joins the same batch and shares its fsync.
   */
  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#draining !== undefined || this.#failed) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      this.#drain().catch((error: unknown) => this.#fail(error));
    });
  }

  #drain(): Promise<void> {
    assert(this.#draining === undefined, 'only one ready loop may run at a time');
    this.#draining = this.#drainLoop().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drainLoop(): Promise<void> {
    while (this.#raft.hasReady() && !this.#failed) {
      const ready = this.#raft.ready();
      await this.#persist(ready);
      assert(ready.messages.length === 0, 'a single-node cluster has no one to send messages to');
      this.#apply(ready.committedEntries);
      this.#raft.advance();
      if (ready.softState !== undefined) {
        this.#options.logger.info(
          { ...ready.softState, term: this.#raft.status().term },
          'raft role changed',
        );
      }
    }
  }

  async #persist(ready: Ready): Promise<void> {
    if (ready.hardState === undefined && ready.entries.length === 0) return;
    await this.#storage.save({ hardState: ready.hardState, entries: ready.entries });
  }

  #apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === EntryType.noop) {
        this.#locks.applyNoop(entry.index);
        this.#pending.settle(entry.index, entry.term, undefined);
        continue;
      }
      const result = this.#locks.apply(entry.index, decodeCommand(entry.data));
      this.#pending.settle(entry.index, entry.term, result);
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    clearInterval(this.#ticker);
    this.#options.logger.error({ err: error }, 'raft node failed; it must stop');
    this.#pending.failAll(new LockdError('LOCKD_ERR_INTERNAL', 'The node failed while committing'));
    this.#options.onFatal(error);
  }
}

function noLeaderError(leader: NodeId): LockdError {
  const detail = leader === 0 ? 'no leader is elected yet' : `node ${leader} is the leader`;
  return new LockdError('LOCKD_ERR_NO_LEADER', `This node cannot serve the request: ${detail}`);
}
