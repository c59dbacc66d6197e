/**
 * Who may hold a lock: the decision behind every grant, as a pure function of the live holders,
 * so that apply() and the leader's "would it fit now?" question share one definition.
 */
import type { GrantRequest, Hold, LimitName, LockMode } from './commands.js';

/** A lock as the rules see it: its mode, its limit and its live holders (none expired). */
export interface LiveLock {
  readonly mode: LockMode;
  readonly limit: number | null;
  readonly holders: readonly Hold[];
}

export type GrantDecision =
  | { readonly kind: 'grant' }
  /** The requester already holds it in this mode: same token, lease refreshed. */
  | { readonly kind: 'renew'; readonly hold: Hold }
  | { readonly kind: 'conflict' }
  | { readonly kind: 'limit-reached'; readonly limit: LimitName };

/**
 * `lock` is undefined when the name has no live holder; `heldLocks` counts the names that do.
 * Anonymous requests never match a holder, so an anonymous acquire of a held lock conflicts (the
 * seed). Shared and exclusive never mix; a shared lock takes holders up to its limit, capped by
 * maxHoldersPerLock (refusing past the cap is the server's limit, not a conflict).
 */
export function decideGrant(
  lock: LiveLock | undefined,
  request: GrantRequest,
  heldLocks: number,
): GrantDecision {
  if (lock === undefined) {
    return heldLocks >= request.maxLocks
      ? { kind: 'limit-reached', limit: 'maxLocks' }
      : { kind: 'grant' };
  }
  if (request.owner !== null) {
    const own = lock.holders.find((hold) => hold.owner === request.owner);
    if (own !== undefined) {
      return lock.mode === request.mode ? { kind: 'renew', hold: own } : { kind: 'conflict' };
    }
  }
  if (request.mode === 'exclusive' || lock.mode === 'exclusive') return { kind: 'conflict' };
  const ownLimit = lock.limit ?? Number.POSITIVE_INFINITY;
  if (lock.holders.length < Math.min(ownLimit, request.maxHoldersPerLock)) return { kind: 'grant' };
  return ownLimit <= request.maxHoldersPerLock
    ? { kind: 'conflict' }
    : { kind: 'limit-reached', limit: 'maxHoldersPerLock' };
}

/** Whether the hold's lease has run out at `nowMs` (a hold without a lease never does). */
export function isExpired(hold: Hold, nowMs: number): boolean {
  return hold.expiresAtMs !== null && hold.expiresAtMs <= nowMs;
}

export function leaseEnd(nowMs: number, ttlMs: number | null): number | null {
  return ttlMs === null ? null : nowMs + ttlMs;
}
