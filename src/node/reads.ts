/**
 * Linearizable reads (ReadIndex, thesis §6.4) on any node: the Raft core confirms with a quorum
 * that the leader still leads and hands back the commit index as of the read's arrival; the read
 * is answered from this node's own state once it has applied that index. A read that is refused,
 * fails or is not confirmed in time is a retryable 503.
 */
import { LockdError } from '../errors.js';
import type { ReadFailure, ReadIndexResult, ReadState } from '../raft/types.js';
import type { Scheduler, Timer } from './scheduler.js';

interface PendingRead {
  readonly resolve: () => void;
  readonly reject: (error: LockdError) => void;
  readonly timer: Timer;
  /** Set once confirmed: the read waits for this node to apply it. */
  index: number | undefined;
}

export interface ReadBarrierOptions {
  readonly scheduler: Scheduler;
  /** RawNode.readIndex. */
  readonly readIndex: (requestId: number) => ReadIndexResult;
  /** The index the state machine has applied. */
  readonly appliedIndex: () => number;
  /** The read needs a Ready to go out: the host runs its loop soon. */
  readonly scheduleReady: () => void;
  /** The most reads waiting at once (the core has its own bound too). */
  readonly maxPendingReads: number;
}

export class ReadBarrier {
  readonly #options: ReadBarrierOptions;
  readonly #pending = new Map<number, PendingRead>();
  #nextRequestId = 1;

  constructor(options: ReadBarrierOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Resolves once this node's state answers a read that arrived now, linearizably. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#pending.size >= this.#options.maxPendingReads) {
      return Promise.reject(tooManyReads());
    }
    const requestId = this.#nextRequestId++;
    const started = this.#options.readIndex(requestId);
    if (!started.ok) {
      return Promise.reject(
        started.reason === 'too-many-pending' ? tooManyReads() : readFailed('no-leader'),
      );
    }
    this.#options.scheduleReady();
    return new Promise<void>((resolve, reject) => {
      const timer = this.#options.scheduler.after(timeoutMs, () => {
        if (!this.#pending.delete(requestId)) return;
        reject(
          new LockdError(
            'LOCKD_ERR_NO_LEADER',
            `The read was not confirmed by a quorum within ${timeoutMs} ms; retry`,
          ),
        );
      });
      this.#pending.set(requestId, { resolve, reject, timer, index: undefined });
    });
  }

  /** Ready.readStates: a confirmed read waits to be applied, a failed one is answered now. */
  confirmed(states: readonly ReadState[]): void {
    for (const state of states) {
      const read = this.#pending.get(state.requestId);
      if (read === undefined) continue;
      if (state.ok) {
        read.index = state.index;
      } else {
        this.#settle(state.requestId, read);
        read.reject(readFailed(state.reason));
      }
    }
    this.applied();
  }

  /** The state machine applied more: confirmed reads at or below its index are answered. */
  applied(): void {
    const appliedIndex = this.#options.appliedIndex();
    for (const [requestId, read] of this.#pending) {
      if (read.index === undefined || read.index > appliedIndex) continue;
      this.#settle(requestId, read);
      read.resolve();
    }
  }

  failAll(error: LockdError): void {
    for (const [requestId, read] of [...this.#pending]) {
      this.#settle(requestId, read);
      read.reject(error);
    }
  }

  #settle(requestId: number, read: PendingRead): void {
    read.timer.cancel();
    this.#pending.delete(requestId);
  }
}

function tooManyReads(): LockdError {
  return new LockdError('LOCKD_ERR_OVERLOADED', 'Too many reads are waiting; retry shortly');
}

function readFailed(reason: ReadFailure): LockdError {
  switch (reason) {
    case 'no-leader':
      return new LockdError('LOCKD_ERR_NO_LEADER', 'No leader is known to confirm the read; retry');
    case 'leader-changed':
      return new LockdError(
        'LOCKD_ERR_NOT_LEADER',
        'The leader changed before the read was confirmed; retry',
      );
    case 'timeout':
      return new LockdError(
        'LOCKD_ERR_NO_LEADER',
        'The leader did not confirm the read in time; retry',
      );
    case 'too-many-pending':
      return tooManyReads();
  }
}
