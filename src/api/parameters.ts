/**
 * Request parameters: from the query string or a JSON object body (the body wins when both give
 * one), checked against the service's limits. Every problem is a 400 LOCKD_ERR_BAD_REQUEST whose
 * message names the parameter and the bound; the service is only called with checked values.
 *
 * Query values are percent-decoded to bytes with `+` read as a space, as HTML forms and
 * URLSearchParams write them. Body values may be JSON numbers and booleans, or the same strings
 * the query takes. Checks run in a fixed order: unknown or repeated parameters, then each
 * parameter in the order of its route's list, then the rules that tie parameters together.
 */
import { LockdError } from '../errors.js';
import { parseDurationMs } from './durations.js';
import type { Limits, LockMode } from './lock-service.js';
import { decodePercentEncoding, isAllowedNameByte, maxLockNameBytes } from './names.js';

export type ParameterName =
  | 'owner'
  | 'ttl'
  | 'wait'
  | 'mode'
  | 'limit'
  | 'force'
  | 'stale'
  | 'prefix'
  | 'after'
  | 'lastEventId';

/**
 * One raw value: a query value's decoded bytes, held as the string with one character per byte
 * (latin1), or a JSON value from the body.
 */
type RawValue =
  | { readonly source: 'query'; readonly latin1: string }
  | { readonly source: 'body'; readonly value: unknown };

/** The parameters of one request, each known to be accepted by its route. */
export class RequestParameters {
  private readonly values: ReadonlyMap<ParameterName, RawValue>;

  constructor(values: ReadonlyMap<ParameterName, RawValue>) {
    this.values = values;
  }

  has(name: ParameterName): boolean {
    return this.values.has(name);
  }

  /**
   * The value's bytes as a string of one character per byte (latin1): a query value's decoded
   * bytes, a JSON string's UTF-8 bytes. Checked character by character, it is checked byte by byte.
   */
  latin1(name: ParameterName): string | undefined {
    const raw = this.values.get(name);
    if (raw === undefined) return undefined;
    if (raw.source === 'query') return raw.latin1;
    if (typeof raw.value !== 'string') throw badRequest(`${name} must be a string`);
    return isAscii(raw.value) ? raw.value : Buffer.from(raw.value, 'utf8').toString('latin1');
  }

  /** The value as text, for values that must be ASCII words or numbers to be valid at all. */
  text(name: ParameterName, expected: string): string | undefined {
    const raw = this.values.get(name);
    if (raw === undefined) return undefined;
    if (raw.source === 'query') return raw.latin1;
    if (typeof raw.value === 'string') return raw.value;
    if (typeof raw.value === 'number' && Number.isSafeInteger(raw.value) && raw.value >= 0) {
      return String(raw.value);
    }
    if (typeof raw.value === 'boolean') return String(raw.value);
    throw badRequest(`${name} must be ${expected}`);
  }
}

export function badRequest(message: string): LockdError {
  return new LockdError('LOCKD_ERR_BAD_REQUEST', message);
}

/** Parameter names are echoed in messages only when they are short and printable. */
function describeParameterName(name: string): string {
  return /^[\x21-\x7e]{1,32}$/.test(name) ? name : `(a name of ${name.length} characters)`;
}

function isAccepted(name: string, accepted: readonly ParameterName[]): name is ParameterName {
  return (accepted as readonly string[]).includes(name);
}

function unknownParameter(name: string, accepted: readonly ParameterName[]): LockdError {
  return badRequest(
    `Unknown parameter ${describeParameterName(name)} (accepted here: ${accepted.join(', ')})`,
  );
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    if (text.charCodeAt(index) >= 0x80) return false;
  }
  return true;
}

/**
 * `+` is a space in a query string; then the percent-escapes. The bytes come back as latin1
 * text. Most components have neither and are ASCII: they are their own decoding.
 */
function decodeQueryComponent(text: string): string {
  if (isAscii(text) && !text.includes('%') && !text.includes('+')) return text;
  const bytes = decodePercentEncoding(text.replaceAll('+', ' '));
  if (bytes === undefined) throw badRequest('Invalid percent-encoding in query string');
  return Buffer.from(bytes).toString('latin1');
}

function queryValues(
  rawUrl: string,
  accepted: readonly ParameterName[],
): Map<ParameterName, RawValue> {
  const values = new Map<ParameterName, RawValue>();
  const queryStart = rawUrl.indexOf('?');
  if (queryStart === -1) return values;
  // The target is bounded by Node's header size limit, so this loop is too.
  for (const pair of rawUrl.slice(queryStart + 1).split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    const name = decodeQueryComponent(rawName);
    if (!isAccepted(name, accepted)) throw unknownParameter(name, accepted);
    if (values.has(name)) throw badRequest(`Parameter ${name} is given more than once`);
    const latin1 = decodeQueryComponent(equals === -1 ? '' : pair.slice(equals + 1));
    values.set(name, { source: 'query', latin1 });
  }
  return values;
}

function isJsonObject(body: unknown): body is Readonly<Record<string, unknown>> {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}

/**
 * The parameters of a request: `rawUrl` is the raw request target, `body` what the body parsers
 * made of the body (undefined for none, or for a body that is not JSON, which is ignored).
 */
export function collectParameters(
  rawUrl: string,
  body: unknown,
  accepted: readonly ParameterName[],
): RequestParameters {
  const values = queryValues(rawUrl, accepted);
  if (body !== undefined) {
    if (!isJsonObject(body)) throw badRequest('JSON body must be an object');
    // The body parser bounds the body, and so the number of keys.
    for (const [name, value] of Object.entries(body)) {
      if (!isAccepted(name, accepted)) throw unknownParameter(name, accepted);
      // null is "not given" (a query value stays), so a client may send a Grant's fields back.
      if (value !== null) values.set(name, { source: 'body', value });
    }
  }
  return new RequestParameters(values);
}

/** The first byte of `latin1` (one character a byte) outside `allowed`, as the client sees it. */
function badByteProblem(
  name: string,
  latin1: string,
  allowed: (byte: number) => boolean,
): string | undefined {
  for (let offset = 0; offset < latin1.length; offset++) {
    const byte = latin1.charCodeAt(offset);
    if (!allowed(byte)) {
      return `${name} contains non-printable/non-ascii byte ${byte} at offset ${offset}`;
    }
  }
  return undefined;
}

function isPrintableAsciiByte(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e;
}

/** An owner: 1 to maxOwnerBytes bytes, each printable ASCII (33 to 126). */
export function readOwner(parameters: RequestParameters, limits: Limits): string | null {
  const owner = parameters.latin1('owner');
  if (owner === undefined) return null;
  if (owner.length === 0) throw badRequest('owner is empty string');
  if (owner.length > limits.maxOwnerBytes) {
    throw badRequest(
      `owner is too long (${owner.length} bytes > maxOwnerBytes of ${limits.maxOwnerBytes})`,
    );
  }
  const problem = badByteProblem('owner', owner, isPrintableAsciiByte);
  if (problem !== undefined) throw badRequest(problem);
  return owner;
}

/** A lock name or the start of one (`prefix`, `after`): the bytes of lock names, may be empty. */
export function readNamePart(parameters: RequestParameters, name: 'prefix' | 'after'): string {
  const part = parameters.latin1(name);
  if (part === undefined) return '';
  if (part.length > maxLockNameBytes) {
    throw badRequest(`${name} is too long (${part.length} bytes > max of ${maxLockNameBytes})`);
  }
  const problem = badByteProblem(name, part, isAllowedNameByte);
  if (problem !== undefined) throw badRequest(problem);
  return part;
}

export interface DurationBounds {
  readonly minMs: number;
  readonly maxMs: number;
  /** How the maximum is named in the message: the limit's name (`maxTtlMs`) or `max`. */
  readonly maxName: string;
}

export function readDurationMs(
  parameters: RequestParameters,
  name: 'ttl' | 'wait',
  bounds: DurationBounds,
): number | undefined {
  const expected = 'whole milliseconds or a whole number with a unit: 500ms, 30s, 5m, 1h';
  const text = parameters.text(name, expected);
  if (text === undefined) return undefined;
  const durationMs = parseDurationMs(text);
  if (durationMs === undefined) throw badRequest(`${name} must be ${expected}`);
  if (durationMs < bounds.minMs) {
    throw badRequest(`${name} is too short (${durationMs} ms < min of ${bounds.minMs} ms)`);
  }
  if (durationMs > bounds.maxMs) {
    throw badRequest(
      `${name} is too long (${durationMs} ms > ${bounds.maxName} of ${bounds.maxMs} ms)`,
    );
  }
  return durationMs;
}

export interface CountBounds {
  readonly min: number;
  readonly max: number;
  /** How the maximum is named in the message: the limit's name (`maxHoldersPerLock`) or `max`. */
  readonly maxName: string;
}

export function readCount(
  parameters: RequestParameters,
  name: 'limit',
  bounds: CountBounds,
): number | undefined {
  const text = parameters.text(name, 'a whole number');
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(text)) throw badRequest(`${name} must be a whole number`);
  const count = Number(text);
  if (count < bounds.min)
    throw badRequest(`${name} is too small (${count} < min of ${bounds.min})`);
  if (count > bounds.max) {
    throw badRequest(`${name} is too large (${count} > ${bounds.maxName} of ${bounds.max})`);
  }
  return count;
}

export function readBoolean(parameters: RequestParameters, name: 'force' | 'stale'): boolean {
  const text = parameters.text(name, 'true or false');
  if (text === undefined) return false;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw badRequest(`${name} must be true or false`);
}

export function readMode(parameters: RequestParameters): LockMode {
  const text = parameters.text('mode', 'exclusive or shared');
  if (text === undefined || text === 'exclusive') return 'exclusive';
  if (text === 'shared') return 'shared';
  throw badRequest('mode must be exclusive or shared');
}

/** Event ids are `<raftIndex>-<n>` (see LockEvent). */
const eventIdPattern = /^[0-9]{1,16}-[0-9]{1,9}$/;

export function isEventId(text: string): boolean {
  return eventIdPattern.test(text);
}

/** The id to resume after: the `Last-Event-ID` header (as EventSource sends it) or the parameter. */
export function readLastEventId(
  parameters: RequestParameters,
  header: string | string[] | undefined,
): string | null {
  const example = 'an event id such as 42-0';
  if (header !== undefined) {
    if (typeof header !== 'string' || !isEventId(header)) {
      throw badRequest(`Last-Event-ID must be ${example}`);
    }
    return header;
  }
  const text = parameters.text('lastEventId', example);
  if (text === undefined) return null;
  if (!isEventId(text)) throw badRequest(`lastEventId must be ${example}`);
  return text;
}
