import { LockdError } from '../errors.js';
import type { CommandResult } from '../locks/commands.js';
import { assert } from '../util/assert.js';

interface PendingProposal {
  readonly term: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: LockdError) => void;
}

/**
 * Proposals this node made and is waiting to see applied, keyed by the log index they were given.
 * An entry applied at that index with another term means the proposal was overwritten by a new
 * leader's log: it never took effect, so the caller is told it was dropped.
 */
export class PendingProposals {
  readonly #byIndex = new Map<number, PendingProposal>();

  get size(): number {
    return this.#byIndex.size;
  }

  add(index: number, term: number): Promise<CommandResult> {
    assert(!this.#byIndex.has(index), `a proposal is already pending at index ${index}`);
    return new Promise<CommandResult>((resolve, reject) => {
      this.#byIndex.set(index, { term, resolve, reject });
    });
  }

  /** Settles the proposal at `index`, if this node made one, now that index has been applied. */
  settle(index: number, term: number, result: CommandResult | undefined): void {
    const pending = this.#byIndex.get(index);
    if (pending === undefined) return;
    this.#byIndex.delete(index);
    if (pending.term === term && result !== undefined) {
      pending.resolve(result);
      return;
    }
    pending.reject(
      new LockdError(
        'LOCKD_ERR_PROPOSAL_DROPPED',
        'The change was dropped by a leader change before it committed; it did not take effect',
      ),
    );
  }

  /** Fails every pending proposal, e.g. when the node stops. Their outcome is unknown. */
  failAll(error: LockdError): void {
    for (const pending of this.#byIndex.values()) pending.reject(error);
    this.#byIndex.clear();
  }
}
