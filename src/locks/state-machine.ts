/**
 * The lock state machine: what every node computes from the committed log. Deterministic: no
 * clock, no randomness, no I/O, so every node applying the same entries reaches the same state
 * and the same results.
 */
import { assert, assertNever } from '../util/assert.js';
import type { AcquireResult, CommandResult, LockCommand, ReleaseResult } from './commands.js';

/** One held lock. Later: owner, TTL, holders. */
export interface LockRecord {
  /** The fencing token: the Raft index of the entry that granted the lock. */
  readonly token: number;
}

export class LockStateMachine {
  /** Invariant: every token is at most #appliedIndex, and tokens are distinct. */
  readonly #locks = new Map<string, LockRecord>();
  /** Invariant: entries 1..#appliedIndex have been applied, each exactly once, in order. */
  #appliedIndex = 0;

  /** The index of the last entry applied; 0 before any. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** The number of held locks. */
  get size(): number {
    return this.#locks.size;
  }

  isLocked(name: string): boolean {
    return this.#locks.has(name);
  }

  get(name: string): LockRecord | undefined {
    return this.#locks.get(name);
  }

  /** Applies the command of the committed entry at `index`, the one after appliedIndex. */
  apply(index: number, command: LockCommand): CommandResult {
    this.#advanceTo(index);
    switch (command.kind) {
      case 'acquire':
        return this.#acquire(index, command.name);
      case 'release':
        return this.#release(command.name);
      default:
        return assertNever(command, 'unknown lock command');
    }
  }

  /** Records that the entry at `index` (a leader's no-op) changed nothing. */
  applyNoop(index: number): void {
    this.#advanceTo(index);
  }

  #advanceTo(index: number): void {
    assert(
      index === this.#appliedIndex + 1,
      `entry ${index} applied after entry ${this.#appliedIndex}: entries apply once, in order`,
    );
    this.#appliedIndex = index;
  }

  #acquire(index: number, name: string): AcquireResult {
    if (this.#locks.has(name)) return { outcome: 'conflict' };
    this.#locks.set(name, { token: index });
    return { outcome: 'acquired', token: index };
  }

  #release(name: string): ReleaseResult {
    return this.#locks.delete(name) ? { outcome: 'released' } : { outcome: 'not-locked' };
  }
}
