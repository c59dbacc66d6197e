import { LockdError } from '../errors.js';
import type { CommandResult } from '../locks/commands.js';
import { assert } from '../util/assert.js';

/**
 * What to do when a proposal's entry applies. Both run synchronously inside the apply loop, so
 * that the node reacts to a result (a hand-off, an expiry) before the next entry applies.
 * They must not throw.
 */
export interface ProposalHandlers {
  applied(result: CommandResult, index: number): void;
  /** The entry never took effect (overwritten by another leader's log), or the node stopped. */
  dropped(error: LockdError): void;
}

interface PendingProposal {
  readonly term: number;
  readonly handlers: ProposalHandlers;
}

/**
 * Proposals this node made and is waiting to see applied, keyed by the log index they were given.
 * An entry applied at that index with another term means the proposal was overwritten by a new
 * leader's log: it never took effect, so its owner is told it was dropped.
 */
export class PendingProposals {
  readonly #byIndex = new Map<number, PendingProposal>();

  get size(): number {
    return this.#byIndex.size;
  }

  add(index: number, term: number, handlers: ProposalHandlers): void {
    assert(!this.#byIndex.has(index), `a proposal is already pending at index ${index}`);
    this.#byIndex.set(index, { term, handlers });
  }

  /** Settles the proposal at `index`, if this node made one, now that index has been applied. */
  settle(index: number, term: number, result: CommandResult | undefined): void {
    const pending = this.#byIndex.get(index);
    if (pending === undefined) return;
    this.#byIndex.delete(index);
    if (pending.term === term && result !== undefined) {
      pending.handlers.applied(result, index);
      return;
    }
    pending.handlers.dropped(
      new LockdError(
        'LOCKD_ERR_PROPOSAL_DROPPED',
        'The change was dropped by a leader change before it committed; it did not take effect',
      ),
    );
  }

  /**
   * Fails the proposals at or below `index`: a snapshot from the leader replaced the log there, so
   * whether each took effect is unknown (the client learns it by reading).
   */
  failThrough(index: number, error: LockdError): void {
    for (const [at, proposal] of [...this.#byIndex]) {
      if (at > index) continue;
      this.#byIndex.delete(at);
      proposal.handlers.dropped(error);
    }
  }

  /** Fails every pending proposal, e.g. when the node stops. Their outcome is unknown. */
  failAll(error: LockdError): void {
    const pending = [...this.#byIndex.values()];
    this.#byIndex.clear();
    for (const proposal of pending) proposal.handlers.dropped(error);
  }
}
