/**
 * The state machine's records as the api sees them: instants as ISO 8601 UTC strings (the
 * leader's stamps), anonymous holders hidden where the contract says so.
 */
import type { Grant, HolderView, LockEvent, LockMode } from '../api/lock-service.js';
import type { Hold, LockEventRecord } from '../locks/commands.js';

/** The last instant formatted: the entries of one batch mostly carry the same stamp. */
let lastIsoTime = { epochMs: Number.NaN, text: '' };

export function isoTime(epochMs: number): string {
  if (epochMs === lastIsoTime.epochMs) return lastIsoTime.text;
  const text = new Date(epochMs).toISOString();
  lastIsoTime = { epochMs, text };
  return text;
}

export function holderView(hold: Hold): HolderView {
  return {
    owner: hold.owner,
    token: hold.token,
    acquiredAt: isoTime(hold.acquiredAtMs),
    ttlMs: hold.ttlMs,
    expiresAt: hold.expiresAtMs === null ? null : isoTime(hold.expiresAtMs),
  };
}

/** The holders a 409 may show: only those with an owner (an anonymous holder has nothing to show). */
export function namedHolderViews(holds: readonly Hold[]): HolderView[] {
  return holds.filter((hold) => hold.owner !== null).map(holderView);
}

export function grantView(name: string, hold: Hold, mode: LockMode): Grant {
  return {
    name,
    owner: hold.owner,
    token: hold.token,
    mode,
    ttlMs: hold.ttlMs,
    acquiredAt: isoTime(hold.acquiredAtMs),
    expiresAt: hold.expiresAtMs === null ? null : isoTime(hold.expiresAtMs),
  };
}

export function eventView(record: LockEventRecord): LockEvent {
  return {
    id: `${record.index}-${record.n}`,
    type: record.type,
    name: record.name,
    owner: record.owner,
    token: record.token,
    index: record.index,
    at: isoTime(record.atMs),
  };
}
