/**
 * The commands the lock state machine applies, and their results. Every change to lock state is
 * one of these, carried in a Raft entry. Names are validated by api/ before they get here.
 */
export type LockCommand =
  | { readonly kind: 'acquire'; readonly name: string }
  | { readonly kind: 'release'; readonly name: string };

/** `token` is the fencing token: the Raft index of the entry that granted the lock. */
export type AcquireResult =
  | { readonly outcome: 'acquired'; readonly token: number }
  | { readonly outcome: 'conflict' };

export type ReleaseResult = { readonly outcome: 'released' } | { readonly outcome: 'not-locked' };

export type CommandResult = AcquireResult | ReleaseResult;
