/**
 * The commands the lock state machine applies, and their results. Every change to lock state is
 * one of these, carried in a Raft entry. Names and owners are validated before they get here.
 *
 * Time: every command carries `nowMs`, the wall clock (epoch milliseconds) of the leader that
 * proposed it. apply() never reads a clock; its time is the largest stamp applied so far, so a
 * leader with a slower clock cannot move time backwards.
 */

export type LockMode = 'exclusive' | 'shared';

/**
 * What a grant asks for: an acquire's request, or a queued waiter's. The limits are the proposing
 * leader's, carried in the entry so that every node applies the same ones whatever its flags.
 */
export interface GrantRequest {
  /** null: an anonymous hold, as the seed's plain POST. Shared holds always have an owner. */
  readonly owner: string | null;
  /** The lease; null = held until released. */
  readonly ttlMs: number | null;
  readonly mode: LockMode;
  /** Shared mode only: the most holders at once, if this grant creates the lock; null = maxHoldersPerLock. */
  readonly limit: number | null;
  /** The most held locks: a grant that would create one more is refused. */
  readonly maxLocks: number;
  /** The most holders of one shared lock. */
  readonly maxHoldersPerLock: number;
}

/**
 * The head of the leader's queue for a lock, carried by a command that may free room in it, so
 * that the same entry hands the lock over (no herd, no extra round). `waiterId` means something
 * only to the node that proposed the entry, in the term it proposed it.
 */
export interface HandOff extends GrantRequest {
  readonly waiterId: number;
}

export interface AcquireCommand extends GrantRequest {
  readonly kind: 'acquire';
  readonly nowMs: number;
  readonly name: string;
  /** Set when the leader proposes this acquire for a queued waiter (echoed for its bookkeeping). */
  readonly waiterId: number | null;
}

export interface ReleaseCommand {
  readonly kind: 'release';
  readonly nowMs: number;
  readonly name: string;
  /** Release only this owner's hold; null = only an anonymous hold. */
  readonly owner: string | null;
  /**
   * When set, release only the hold with this fencing token, and only if it was never renewed:
   * the node's clean-up of a grant whose client went away. A renewal means the owner came back
   * for it (and was told it holds it), so the clean-up must not take it away.
   */
  readonly token: number | null;
  readonly handOff: HandOff | null;
}

/** Releases every holder, whoever asks: the seed's "client id override". */
export interface ForceReleaseCommand {
  readonly kind: 'force-release';
  readonly nowMs: number;
  readonly name: string;
  readonly handOff: HandOff | null;
}

export interface RefreshCommand {
  readonly kind: 'refresh';
  readonly nowMs: number;
  readonly name: string;
  readonly owner: string;
  /** The new lease; null keeps the hold's current ttlMs. */
  readonly ttlMs: number | null;
}

/** The leader saw the hold with `token` past its deadline. A no-op unless it still is, at apply. */
export interface ExpireCommand {
  readonly kind: 'expire';
  readonly nowMs: number;
  readonly name: string;
  readonly token: number;
  readonly handOff: HandOff | null;
}

/** A new leader's first command: every live lease gets at least its full TTL from now. */
export interface ExtendLeasesCommand {
  readonly kind: 'extend-leases';
  readonly nowMs: number;
}

export type LockCommand =
  | AcquireCommand
  | ReleaseCommand
  | ForceReleaseCommand
  | RefreshCommand
  | ExpireCommand
  | ExtendLeasesCommand;

export type LockCommandKind = LockCommand['kind'];

/** One hold of a lock, as the state machine keeps it. Times are epoch milliseconds. */
export interface Hold {
  readonly owner: string | null;
  /** The fencing token: the Raft index of the entry that granted this hold. */
  readonly token: number;
  readonly acquiredAtMs: number;
  readonly ttlMs: number | null;
  /** acquiredAtMs (or the last refresh) + ttlMs; null without a lease. */
  readonly expiresAtMs: number | null;
  /**
   * Whether its owner renewed it since the grant (a refresh, or the same owner acquiring again):
   * then the owner has it for sure, and a node's clean-up of a grant nobody received leaves it.
   */
  readonly renewed: boolean;
}

/** The limit a refused grant ran into, named as the flag that sets it. */
export type LimitName = 'maxLocks' | 'maxHoldersPerLock';

export type AcquireCommandResult =
  /** `renewed`: the owner already held it; same token, lease refreshed (a safe retry). */
  | {
      readonly outcome: 'acquired';
      readonly hold: Hold;
      readonly mode: LockMode;
      readonly renewed: boolean;
    }
  /** `holders`: every live holder, anonymous ones included. */
  | { readonly outcome: 'conflict'; readonly holders: readonly Hold[] }
  | { readonly outcome: 'limit-reached'; readonly limit: LimitName };

/**
 * The grant a hand-off got (a command's result carries null when it did not fit). `renewed`: the
 * waiter's owner held the lock already, so it keeps that hold and token.
 */
export interface HandOffResult {
  readonly waiterId: number;
  readonly hold: Hold;
  readonly mode: LockMode;
  readonly renewed: boolean;
}

export type ReleaseCommandResult =
  /** `token`: the released hold's (for force-release of several, the newest one's). */
  | {
      readonly outcome: 'released';
      readonly token: number;
      readonly handOff: HandOffResult | null;
    }
  | { readonly outcome: 'not-locked' }
  | { readonly outcome: 'not-owner'; readonly holders: readonly Hold[] };

export type RefreshCommandResult =
  | { readonly outcome: 'refreshed'; readonly hold: Hold; readonly mode: LockMode }
  | { readonly outcome: 'not-locked' }
  | { readonly outcome: 'not-owner'; readonly holders: readonly Hold[] };

export type ExpireCommandResult =
  | { readonly outcome: 'expired'; readonly handOff: HandOffResult | null }
  /** The hold was gone already, or its lease had been extended. */
  | { readonly outcome: 'not-expired' };

export type ExtendLeasesCommandResult = { readonly outcome: 'extended'; readonly leases: number };

export type CommandResult =
  | AcquireCommandResult
  | ReleaseCommandResult
  | RefreshCommandResult
  | ExpireCommandResult
  | ExtendLeasesCommandResult;

export type LockEventType = 'grant' | 'release' | 'expire' | 'refresh' | 'force-release';

/** A change to one hold, produced by apply(). `n` orders the events of one entry, from 0. */
export interface LockEventRecord {
  readonly type: LockEventType;
  readonly name: string;
  readonly owner: string | null;
  readonly token: number;
  readonly index: number;
  readonly n: number;
  /** The state machine's time when the entry applied. */
  readonly atMs: number;
}

/** What applying one entry did: its result, and the events it produced in order. */
export interface Applied<R extends CommandResult = CommandResult> {
  readonly result: R;
  readonly events: readonly LockEventRecord[];
}
