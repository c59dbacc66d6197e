/**
 * What each route accepts, read from a request's query string and body (see parameters.ts for
 * the rules and the messages). The lists fix both the parameters a route accepts and the order in
 * which they are checked.
 */
import { defaultListLimit, maxListLimit, minTtlMs } from './limits.js';
import type { Limits, LockMode } from './lock-service.js';
import {
  badRequest,
  collectParameters,
  readBoolean,
  readCount,
  readDurationMs,
  readLastEventId,
  readMode,
  readNamePart,
  readOwner,
} from './parameters.js';

export interface RequestInput {
  /** The raw request target, query string included. */
  readonly rawUrl: string;
  /** The parsed JSON body, or undefined. */
  readonly body: unknown;
}

export interface AcquireParameters {
  readonly owner: string | null;
  readonly ttlMs: number | null;
  readonly waitMs: number;
  readonly mode: LockMode;
  readonly limit: number | null;
}

function ttlBounds(limits: Limits) {
  return { minMs: minTtlMs, maxMs: limits.maxTtlMs, maxName: 'maxTtlMs' };
}

/** `POST /lock/:name`: owner, ttl, wait, mode, limit. */
export function acquireParameters(input: RequestInput, limits: Limits): AcquireParameters {
  const parameters = collectParameters(input.rawUrl, input.body, [
    'owner',
    'ttl',
    'wait',
    'mode',
    'limit',
  ]);
  const owner = readOwner(parameters, limits);
  const ttlMs = readDurationMs(parameters, 'ttl', ttlBounds(limits)) ?? null;
  const waitBounds = { minMs: 0, maxMs: limits.maxWaitMs, maxName: 'maxWaitMs' };
  const waitMs = readDurationMs(parameters, 'wait', waitBounds) ?? 0;
  const mode = readMode(parameters);
  const limitBounds = { min: 1, max: limits.maxHoldersPerLock, maxName: 'maxHoldersPerLock' };
  const limit = readCount(parameters, 'limit', limitBounds) ?? null;
  if (limit !== null && mode !== 'shared') throw badRequest('limit requires mode=shared');
  // Shared holders are told apart by owner: an anonymous one could never be released alone.
  if (mode === 'shared' && owner === null) throw badRequest('mode=shared requires an owner');
  return { owner, ttlMs, waitMs, mode, limit };
}

/** `POST /lock/:name/refresh`: owner (required), ttl. */
export function refreshParameters(
  input: RequestInput,
  limits: Limits,
): { readonly owner: string; readonly ttlMs: number | null } {
  const parameters = collectParameters(input.rawUrl, input.body, ['owner', 'ttl']);
  const owner = readOwner(parameters, limits);
  const ttlMs = readDurationMs(parameters, 'ttl', ttlBounds(limits)) ?? null;
  if (owner === null) throw badRequest('owner is required');
  return { owner, ttlMs };
}

/** `DELETE /lock/:name`: owner, force. */
export function releaseParameters(
  input: RequestInput,
  limits: Limits,
): { readonly owner: string | null; readonly force: boolean } {
  const parameters = collectParameters(input.rawUrl, input.body, ['owner', 'force']);
  const owner = readOwner(parameters, limits);
  const force = readBoolean(parameters, 'force');
  return { owner, force };
}

/** `GET /lock/:name`: stale. */
export function describeParameters(input: RequestInput): { readonly stale: boolean } {
  const parameters = collectParameters(input.rawUrl, input.body, ['stale']);
  return { stale: readBoolean(parameters, 'stale') };
}

/** `GET /locks`: prefix, after, limit. */
export function listParameters(input: RequestInput): {
  readonly prefix: string;
  readonly after: string;
  readonly limit: number;
} {
  const parameters = collectParameters(input.rawUrl, input.body, ['prefix', 'after', 'limit']);
  const prefix = readNamePart(parameters, 'prefix');
  const after = readNamePart(parameters, 'after');
  const limitBounds = { min: 1, max: maxListLimit, maxName: 'max' };
  const limit = readCount(parameters, 'limit', limitBounds) ?? defaultListLimit;
  return { prefix, after, limit };
}

export interface EventsParameters {
  readonly prefix: string;
  readonly lastEventId: string | null;
}

/**
 * `GET /lock/:name/events` (lastEventId) and `GET /events` (prefix, lastEventId). The
 * `Last-Event-ID` header, which EventSource sends when it reconnects, wins over the parameter.
 */
export function eventsParameters(
  input: RequestInput,
  lastEventIdHeader: string | string[] | undefined,
  options: { readonly prefixAccepted: boolean },
): EventsParameters {
  const parameters = collectParameters(
    input.rawUrl,
    input.body,
    options.prefixAccepted ? ['prefix', 'lastEventId'] : ['lastEventId'],
  );
  const prefix = readNamePart(parameters, 'prefix');
  return { prefix, lastEventId: readLastEventId(parameters, lastEventIdHeader) };
}
