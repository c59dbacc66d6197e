/**
 * Reading the server's JSON bodies into typed values. Every field is checked: a body that is not
 * what lockd sends is an InvalidResponseError, never a value of the wrong type passed on.
 */
import type {
  Grant,
  HolderView,
  ListResult,
  LockEvent,
  LockEventType,
  LockMode,
  LockSummary,
  LockView,
  WaiterView,
} from '../api/lock-service.js';
import { InvalidResponseError } from './errors.js';

type JsonObject = Readonly<Record<string, unknown>>;

export function parseJsonBody(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidResponseError(`${what}: the body is not JSON`);
  }
}

function object(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidResponseError(`${what} is not an object`);
  }
  return value as JsonObject;
}

function array(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new InvalidResponseError(`${what} is not an array`);
  return value;
}

function string(record: JsonObject, field: string, what: string): string {
  const value = record[field];
  if (typeof value !== 'string') throw new InvalidResponseError(`${what}.${field} is not a string`);
  return value;
}

function nullableString(record: JsonObject, field: string, what: string): string | null {
  return record[field] === null ? null : string(record, field, what);
}

function integer(record: JsonObject, field: string, what: string): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidResponseError(`${what}.${field} is not a whole number`);
  }
  return value;
}

function nullableInteger(record: JsonObject, field: string, what: string): number | null {
  return record[field] === null ? null : integer(record, field, what);
}

function mode(record: JsonObject, what: string): LockMode {
  const value = record.mode;
  if (value !== 'exclusive' && value !== 'shared') {
    throw new InvalidResponseError(`${what}.mode is not exclusive or shared`);
  }
  return value;
}

export function decodeHolder(value: unknown, what = 'holder'): HolderView {
  const record = object(value, what);
  return {
    owner: nullableString(record, 'owner', what),
    token: integer(record, 'token', what),
    acquiredAt: string(record, 'acquiredAt', what),
    ttlMs: nullableInteger(record, 'ttlMs', what),
    expiresAt: nullableString(record, 'expiresAt', what),
  };
}

export function decodeGrant(value: unknown): Grant {
  const record = object(value, 'grant');
  return {
    name: string(record, 'name', 'grant'),
    owner: nullableString(record, 'owner', 'grant'),
    token: integer(record, 'token', 'grant'),
    mode: mode(record, 'grant'),
    ttlMs: nullableInteger(record, 'ttlMs', 'grant'),
    acquiredAt: string(record, 'acquiredAt', 'grant'),
    expiresAt: nullableString(record, 'expiresAt', 'grant'),
  };
}

function decodeWaiter(value: unknown): WaiterView {
  const record = object(value, 'waiter');
  return {
    owner: nullableString(record, 'owner', 'waiter'),
    position: integer(record, 'position', 'waiter'),
    waitedMs: integer(record, 'waitedMs', 'waiter'),
  };
}

export function decodeLockView(value: unknown): LockView {
  const record = object(value, 'lock');
  return {
    name: string(record, 'name', 'lock'),
    mode: mode(record, 'lock'),
    limit: nullableInteger(record, 'limit', 'lock'),
    holders: array(record.holders, 'lock.holders').map((holder) => decodeHolder(holder)),
    waiters: array(record.waiters, 'lock.waiters').map(decodeWaiter),
  };
}

function decodeSummary(value: unknown): LockSummary {
  const record = object(value, 'lock');
  return {
    name: string(record, 'name', 'lock'),
    mode: mode(record, 'lock'),
    holders: array(record.holders, 'lock.holders').map((holder) => decodeHolder(holder)),
    waiters: integer(record, 'waiters', 'lock'),
  };
}

export function decodeList(value: unknown): ListResult {
  const record = object(value, 'list');
  return {
    locks: array(record.locks, 'list.locks').map(decodeSummary),
    next: nullableString(record, 'next', 'list'),
  };
}

const eventTypes: ReadonlySet<string> = new Set<LockEventType>([
  'grant',
  'release',
  'expire',
  'refresh',
  'force-release',
]);

export function decodeEvent(value: unknown): LockEvent {
  const record = object(value, 'event');
  const type = string(record, 'type', 'event');
  if (!eventTypes.has(type)) throw new InvalidResponseError(`event.type ${type} is unknown`);
  return {
    id: string(record, 'id', 'event'),
    type: type as LockEventType,
    name: string(record, 'name', 'event'),
    owner: nullableString(record, 'owner', 'event'),
    token: integer(record, 'token', 'event'),
    index: integer(record, 'index', 'event'),
    at: string(record, 'at', 'event'),
  };
}

/** An error body `{"error":"…","holder":{…}?}`: its message and its holder, if it names one. */
export function decodeErrorBody(value: unknown): {
  readonly message: string;
  readonly holder: HolderView | null;
} {
  const record = object(value, 'error body');
  const message = string(record, 'error', 'error body');
  const holder = record.holder === undefined ? null : decodeHolder(record.holder, 'error.holder');
  return { message, holder };
}
