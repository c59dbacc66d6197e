/**
 * The JSON bodies built from what the service answers. Each is written field by field, so that
 * the bytes on the wire are fixed here (field order included) and nothing the service adds leaks.
 * What the service answers is checked: a malformed answer is a bug, answered 500 and logged.
 */
import { assert } from '../util/assert.js';
import type { JsonValue } from './json.js';
import type {
  Grant,
  HolderView,
  ListResult,
  LockEvent,
  LockSummary,
  LockView,
  WaiterView,
} from './lock-service.js';

function assertToken(token: number): void {
  assert(Number.isSafeInteger(token) && token > 0, `bad fencing token ${token}`);
}

export function grantJson(grant: Grant): JsonValue {
  assertToken(grant.token);
  return {
    name: grant.name,
    owner: grant.owner,
    token: grant.token,
    mode: grant.mode,
    ttlMs: grant.ttlMs,
    expiresAt: grant.expiresAt,
    acquiredAt: grant.acquiredAt,
  };
}

export function holderJson(holder: HolderView): JsonValue {
  assertToken(holder.token);
  return {
    owner: holder.owner,
    token: holder.token,
    acquiredAt: holder.acquiredAt,
    ttlMs: holder.ttlMs,
    expiresAt: holder.expiresAt,
  };
}

function waiterJson(waiter: WaiterView): JsonValue {
  return { owner: waiter.owner, position: waiter.position, waitedMs: waiter.waitedMs };
}

/** The holder a 409 names: the first one with an owner (anonymous holders are never shown). */
export function namedHolder(holders: readonly HolderView[]): HolderView | undefined {
  return holders.find((holder) => holder.owner !== null);
}

export function lockViewJson(view: LockView): JsonValue {
  assert(view.holders.length > 0, `lock ${view.name} described with no holder`);
  return {
    name: view.name,
    mode: view.mode,
    limit: view.limit,
    holders: view.holders.map(holderJson),
    waiters: view.waiters.map(waiterJson),
  };
}

function lockSummaryJson(summary: LockSummary): JsonValue {
  return {
    name: summary.name,
    mode: summary.mode,
    holders: summary.holders.map(holderJson),
    waiters: summary.waiters,
  };
}

export function listJson(result: ListResult, limit: number): JsonValue {
  assert(result.locks.length <= limit, `list answered ${result.locks.length} > ${limit} locks`);
  return { locks: result.locks.map(lockSummaryJson), next: result.next };
}

export function lockEventJson(event: LockEvent): JsonValue {
  return {
    id: event.id,
    type: event.type,
    name: event.name,
    owner: event.owner,
    token: event.token,
    index: event.index,
    at: event.at,
  };
}
