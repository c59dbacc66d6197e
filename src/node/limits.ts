/**
 * The node's limits (each one a CLI flag) and the checks of a request against them. The api
 * validates requests first; these checks are the node's own line of defence, so a request that
 * slips through is a clear 400 or 429 naming the bound, never a failed assertion.
 */
import type {
  AcquireRequest,
  Limits,
  RefreshRequest,
  ReleaseRequest,
} from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import { commandNameBytesMax, commandOwnerBytesMax } from '../locks/codec.js';
import { assert } from '../util/assert.js';

export const defaultLimits: Limits = {
  maxLocks: 1_000_000,
  maxWaitersPerLock: 1_000,
  maxHoldersPerLock: 1_000,
  maxOwnerBytes: 128,
  maxTtlMs: 24 * 60 * 60 * 1000,
  maxWaitMs: 10 * 60 * 1000,
};

/** The largest page `list` answers (the api bounds `limit` before this). */
export const listLimitMax = 10_000;

/** Limits come from flags the CLI has checked: a bad one here is a bug. */
export function assertValidLimits(limits: Limits): void {
  for (const [name, value] of Object.entries(limits)) {
    assert(Number.isSafeInteger(value) && value >= 1, `limit ${name} must be a positive integer`);
  }
  assert(
    limits.maxOwnerBytes <= commandOwnerBytesMax,
    `maxOwnerBytes ${limits.maxOwnerBytes} is above what the log carries (${commandOwnerBytesMax})`,
  );
}

export function checkAcquireRequest(request: AcquireRequest, limits: Limits): void {
  checkName(request.name);
  checkOwner(request.owner, limits);
  checkTtl(request.ttlMs, limits);
  if (!Number.isSafeInteger(request.waitMs) || request.waitMs < 0) {
    throw badRequest(`wait must be a whole number of milliseconds, got ${request.waitMs}`);
  }
  if (request.waitMs > limits.maxWaitMs) {
    throw badRequest(`wait ${request.waitMs} ms is above maxWaitMs (${limits.maxWaitMs} ms)`);
  }
  if (request.mode === 'shared' && request.owner === null) {
    throw badRequest('A shared lock needs an owner');
  }
  if (request.limit === null) return;
  if (request.mode !== 'shared') throw badRequest('limit applies to shared locks only');
  if (!Number.isSafeInteger(request.limit) || request.limit < 1) {
    throw badRequest(`limit must be a positive integer, got ${request.limit}`);
  }
  if (request.limit > limits.maxHoldersPerLock) {
    throw badRequest(
      `limit ${request.limit} is above maxHoldersPerLock (${limits.maxHoldersPerLock})`,
    );
  }
}

export function checkReleaseRequest(request: ReleaseRequest, limits: Limits): void {
  checkName(request.name);
  checkOwner(request.owner, limits);
}

export function checkRefreshRequest(request: RefreshRequest, limits: Limits): void {
  checkName(request.name);
  checkOwner(request.owner, limits);
  checkTtl(request.ttlMs, limits);
}

/** Names are validated by the api to its exact rules; this only keeps the log's layout safe. */
export function checkName(name: string): void {
  if (name.length < 1 || name.length > commandNameBytesMax || !isByteString(name)) {
    throw new LockdError('LOCKD_ERR_BAD_NAME', `Name is not 1 to ${commandNameBytesMax} bytes`);
  }
}

function checkOwner(owner: string | null, limits: Limits): void {
  if (owner === null) return;
  if (owner.length < 1 || owner.length > limits.maxOwnerBytes) {
    throw badRequest(
      `owner must be 1 to ${limits.maxOwnerBytes} bytes (maxOwnerBytes), got ${owner.length}`,
    );
  }
  for (let offset = 0; offset < owner.length; offset++) {
    const code = owner.charCodeAt(offset);
    if (code < 0x20 || code > 0x7e) {
      throw badRequest(`owner contains non-printable/non-ascii byte ${code} at offset ${offset}`);
    }
  }
}

function checkTtl(ttlMs: number | null, limits: Limits): void {
  if (ttlMs === null) return;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw badRequest(`ttl must be a positive whole number of milliseconds, got ${ttlMs}`);
  }
  if (ttlMs > limits.maxTtlMs) {
    throw badRequest(`ttl ${ttlMs} ms is above maxTtlMs (${limits.maxTtlMs} ms)`);
  }
}

function isByteString(value: string): boolean {
  for (let offset = 0; offset < value.length; offset++) {
    if (value.charCodeAt(offset) > 0xff) return false;
  }
  return true;
}

function badRequest(message: string): LockdError {
  return new LockdError('LOCKD_ERR_BAD_REQUEST', message);
}

export function limitReached(limit: keyof Limits, detail: string): LockdError {
  return new LockdError('LOCKD_ERR_LIMIT_REACHED', `Limit reached: ${limit} (${detail})`);
}
