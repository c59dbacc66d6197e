/**
 * Appends the node's commands to the Raft log and ties each to the code waiting for its result:
 * a proposal's handlers run when its entry applies, or learn that it never will.
 */
import { LockdError } from '../errors.js';
import { encodeCommand } from '../locks/codec.js';
import type { CommandResult, LockCommand } from '../locks/commands.js';
import type { RawNode } from '../raft/raw-node.js';
import type { NodeId, ProposeRefusal } from '../raft/types.js';
import { PendingProposals, type ProposalHandlers } from './pending-proposals.js';
import type { Scheduler, Timer } from './scheduler.js';

export interface ProposerOptions {
  readonly raft: RawNode;
  /** Why nothing may be proposed now (the node stops or failed), or undefined. */
  readonly refusal: () => LockdError | undefined;
  /** A proposal needs a Ready to go out: the host runs its loop soon. */
  readonly scheduleReady: () => void;
  readonly scheduler: Scheduler;
  /**
   * A client waits at most this long for its change to apply (a leader cut off from the others
   * cannot commit; it steps down only after an election timeout, and its entries may never apply).
   */
  readonly commitTimeoutMs: number;
}

export class Proposer {
  readonly #options: ProposerOptions;
  readonly pending = new PendingProposals();

  constructor(options: ProposerOptions) {
    this.#options = options;
  }

  /** Appends `command` to the log; the index it got, or why not (nothing was proposed then). */
  tryPropose(command: LockCommand, handlers: ProposalHandlers): number | LockdError {
    const refusal = this.#options.refusal();
    if (refusal !== undefined) return refusal;
    const proposed = this.#options.raft.propose(encodeCommand(command));
    if (!proposed.ok) return proposeRefusalError(proposed.reason, proposed.leader);
    this.pending.add(proposed.index, proposed.term, handlers);
    this.#options.scheduleReady();
    return proposed.index;
  }

  /**
   * Proposes for a client: resolves with the result once applied, rejects if it never will be, or
   * if it has not applied within commitTimeoutMs (the hooks still run when it applies later).
   */
  forClient(
    command: LockCommand,
    hooks: { applied?: (result: CommandResult) => void; notApplied?: () => void } = {},
  ): Promise<{ readonly result: CommandResult; readonly index: number }> {
    return new Promise((resolve, reject) => {
      let timer: Timer | undefined;
      const proposed = this.tryPropose(command, {
        applied: (result, index) => {
          timer?.cancel();
          hooks.applied?.(result);
          resolve({ result, index });
        },
        dropped: (error) => {
          timer?.cancel();
          hooks.notApplied?.();
          reject(error);
        },
      });
      if (proposed instanceof LockdError) {
        hooks.notApplied?.();
        reject(proposed);
        return;
      }
      timer = this.#options.scheduler.after(this.#options.commitTimeoutMs, () =>
        reject(
          new LockdError(
            'LOCKD_ERR_TIMEOUT',
            `The change did not commit within ${this.#options.commitTimeoutMs} ms (no quorum?); it may still take effect, so retry it with the same owner`,
          ),
        ),
      );
    });
  }
}

export function proposeRefusalError(reason: ProposeRefusal, leader: NodeId): LockdError {
  if (reason === 'too-many-pending') {
    return new LockdError(
      'LOCKD_ERR_OVERLOADED',
      'Too many changes are waiting to commit; retry shortly',
    );
  }
  return noLeaderError(leader);
}

export function noLeaderError(leader: NodeId): LockdError {
  const detail = leader === 0 ? 'no leader is elected yet' : `node ${leader} is the leader`;
  return new LockdError('LOCKD_ERR_NO_LEADER', `This node cannot serve the request: ${detail}`);
}
