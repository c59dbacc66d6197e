/**
 * The bytes of a whole lock state (for Raft snapshots). Deterministic: the same state gives the
 * same bytes on every node, locks in name order, holders in grant order. Layout, versioned by its
 * first byte (field encodings in bytes.ts):
 *
 *   version(1 byte = 2) appliedIndex timeMs lastGrantIndex lockCount lock*
 *   lock:  name mode(1 byte: 0 exclusive, 1 shared) limit? holderCount holder*
 *   holder: owner (byte string, empty = anonymous) token acquiredAtMs ttlMs? expiresAtMs? renewed
 *
 * `renewed` is a byte, 0 or 1. Version 1 (lockd before it) had no `renewed`: its holds read as
 * renewed, which is the safe side (a clean-up then leaves them to their lease or their owner).
 *
 * Decoding checks every invariant of the state machine, so a restored state is one apply() could
 * have produced.
 */
import { assert } from '../util/assert.js';
import { ByteReader, ByteWriter, MalformedBytesError } from './bytes.js';
import { commandNameBytesMax, commandOwnerBytesMax } from './codec.js';
import type { Hold, LockMode } from './commands.js';

export const snapshotFormatVersion = 2;
/** Snapshots written before holds carried `renewed`. */
const snapshotFormatVersionWithoutRenewed = 1;

export interface LockRecordData {
  readonly mode: LockMode;
  readonly limit: number | null;
  readonly holders: readonly Hold[];
}

/** The fields of a snapshot before its locks. */
export interface SnapshotHeader {
  readonly appliedIndex: number;
  readonly timeMs: number;
  /** The index of the newest grant; every token is at most this. */
  readonly lastGrantIndex: number;
  readonly lockCount: number;
}

/**
 * Where decodeSnapshot puts what it reads, lock by lock in name order (strictly ascending), each
 * one already checked. The state machine builds its records straight from these calls, so that a
 * restore of a million locks makes no second copy of them.
 */
export interface SnapshotSink {
  lock(name: string, mode: LockMode, limit: number | null, holders: Hold[]): void;
}

export class MalformedSnapshotError extends Error {
  override readonly name = 'MalformedSnapshotError';
}

const modeByte = { exclusive: 0, shared: 1 } as const;

/** A snapshot's likely size per lock (an anonymous hold without a lease takes about 25). */
const expectedBytesPerLock = 32;

/**
 * Writes a snapshot lock by lock, straight from the state machine's records (no list of them is
 * built first): `lock()`, then `hold()` once per holder, for every lock in name order.
 */
export class SnapshotEncoder {
  readonly #writer: ByteWriter;
  readonly #lockCount: number;
  #locksWritten = 0;
  #holdsOwed = 0;

  constructor(header: SnapshotHeader) {
    this.#lockCount = header.lockCount;
    this.#writer = new ByteWriter(64 + header.lockCount * expectedBytesPerLock)
      .byte(snapshotFormatVersion)
      .uint(header.appliedIndex)
      .uint(header.timeMs)
      .uint(header.lastGrantIndex)
      .uint(header.lockCount);
  }

  lock(name: string, mode: LockMode, limit: number | null, holderCount: number): void {
    if (this.#holdsOwed !== 0) assert(false, `lock ${name} began before the holds of the last`);
    if (holderCount < 1) assert(false, `lock ${name} has no holder`);
    this.#writer.byteString(name).byte(modeByte[mode]).optionalUint(limit).uint(holderCount);
    this.#holdsOwed = holderCount;
    this.#locksWritten++;
  }

  hold(hold: Hold): void {
    if (this.#holdsOwed === 0) assert(false, `hold ${hold.token} written outside a lock`);
    this.#writer
      .byteString(hold.owner ?? '')
      .uint(hold.token)
      .uint(hold.acquiredAtMs)
      .optionalUint(hold.ttlMs)
      .optionalUint(hold.expiresAtMs)
      .byte(hold.renewed ? 1 : 0);
    this.#holdsOwed--;
  }

  finish(): Uint8Array {
    assert(this.#holdsOwed === 0, 'the last lock of the snapshot lacks holds');
    assert(
      this.#locksWritten === this.#lockCount,
      `the snapshot header says ${this.#lockCount} locks, ${this.#locksWritten} were written`,
    );
    return this.#writer.finish();
  }
}

/**
 * Reads a snapshot: returns its header and hands each lock to `sink`. Throws
 * MalformedSnapshotError on bad bytes (the sink may have received some locks by then).
 */
export function decodeSnapshot(bytes: Uint8Array, sink: SnapshotSink): SnapshotHeader {
  try {
    return readSnapshot(new ByteReader(bytes), sink);
  } catch (error) {
    if (error instanceof MalformedBytesError) {
      throw new MalformedSnapshotError(`malformed lock snapshot: ${error.message}`);
    }
    throw error;
  }
}

function readSnapshot(reader: ByteReader, sink: SnapshotSink): SnapshotHeader {
  const version = reader.byte();
  if (version !== snapshotFormatVersion && version !== snapshotFormatVersionWithoutRenewed) {
    fail(`unknown snapshot version ${version}`);
  }
  const appliedIndex = reader.uint();
  const timeMs = reader.uint();
  const lastGrantIndex = reader.uint();
  if (lastGrantIndex > appliedIndex) fail(`last grant ${lastGrantIndex} after ${appliedIndex}`);
  const lockCount = reader.uint();
  const locks = new LockReader({
    reader,
    lastGrantIndex,
    withRenewed: version === snapshotFormatVersion,
    tokens: new TokenSet(lockCount),
  });
  let previousName: string | undefined;
  for (let count = 0; count < lockCount; count++) {
    const name = reader.byteString('name', 1, commandNameBytesMax);
    if (previousName !== undefined && !(previousName < name)) fail(`lock ${name} out of order`);
    previousName = name;
    const { mode, limit, holders } = locks.read(name);
    sink.lock(name, mode, limit, holders);
  }
  reader.end();
  locks.tokens.assertUnique();
  return { appliedIndex, timeMs, lastGrantIndex, lockCount };
}

/**
 * The tokens of every hold, to check that none is held twice. A sorted typed array rather than a
 * Set: at a million holds it takes 8 MB for a moment instead of about 40, and sorts in ~0.1 s.
 */
class TokenSet {
  #tokens: Float64Array;
  #count = 0;

  constructor(expected: number) {
    // The count comes from the bytes: a wrong one must not allocate without bound.
    this.#tokens = new Float64Array(Math.min(Math.max(expected, 16), 1 << 20));
  }

  add(token: number): void {
    if (this.#count === this.#tokens.length) {
      const grown = new Float64Array(this.#tokens.length * 2);
      grown.set(this.#tokens);
      this.#tokens = grown;
    }
    this.#tokens[this.#count++] = token;
  }

  assertUnique(): void {
    const sorted = this.#tokens.subarray(0, this.#count).sort();
    for (let position = 1; position < sorted.length; position++) {
      if (sorted[position] === sorted[position - 1]) fail(`token ${sorted[position]} held twice`);
    }
  }
}

/** Reads one lock after its name, checking every invariant of a lock and its holds. */
class LockReader {
  readonly #reader: ByteReader;
  readonly #lastGrantIndex: number;
  readonly #withRenewed: boolean;
  readonly tokens: TokenSet;

  constructor(options: {
    reader: ByteReader;
    lastGrantIndex: number;
    withRenewed: boolean;
    tokens: TokenSet;
  }) {
    this.#reader = options.reader;
    this.#lastGrantIndex = options.lastGrantIndex;
    this.#withRenewed = options.withRenewed;
    this.tokens = options.tokens;
  }

  read(name: string): { mode: LockMode; limit: number | null; holders: Hold[] } {
    const reader = this.#reader;
    const modeValue = reader.byte();
    if (modeValue !== modeByte.exclusive && modeValue !== modeByte.shared) {
      fail(`lock ${name}: mode byte ${modeValue}`);
    }
    const mode: LockMode = modeValue === modeByte.shared ? 'shared' : 'exclusive';
    const limit = reader.optionalUint();
    if (limit === 0 || (mode === 'exclusive' && limit !== null)) {
      fail(`lock ${name}: limit ${limit}`);
    }
    const holderCount = reader.uint();
    if (holderCount < 1 || (mode === 'exclusive' && holderCount !== 1)) {
      fail(`lock ${name}: ${holderCount} holders in ${mode} mode`);
    }
    const holders: Hold[] = [];
    let previousToken = 0;
    for (let count = 0; count < holderCount; count++) {
      const hold = this.#readHold(name);
      if (hold.token <= previousToken) fail(`lock ${name}: holders out of grant order`);
      previousToken = hold.token;
      if (mode === 'shared') this.#checkSharedHolder(name, hold, holders);
      this.tokens.add(hold.token);
      holders.push(hold);
    }
    return { mode, limit, holders };
  }

  #checkSharedHolder(name: string, hold: Hold, earlier: readonly Hold[]): void {
    if (hold.owner === null) fail(`lock ${name}: anonymous shared holder`);
    if (earlier.some((other) => other.owner === hold.owner)) {
      fail(`lock ${name}: owner ${hold.owner} holds twice`);
    }
  }

  #readHold(name: string): Hold {
    const reader = this.#reader;
    const ownerBytes = reader.byteString('owner', 0, commandOwnerBytesMax);
    const token = reader.uint();
    const acquiredAtMs = reader.uint();
    const ttlMs = reader.optionalUint();
    const expiresAtMs = reader.optionalUint();
    const renewed = this.#withRenewed ? reader.byte() : 1;
    if (renewed > 1) fail(`lock ${name}: renewed byte ${renewed}`);
    if (token < 1) fail(`lock ${name}: token 0`);
    if (token > this.#lastGrantIndex) fail(`lock ${name}: token ${token} after last grant`);
    if (ttlMs === 0 || (ttlMs === null) !== (expiresAtMs === null)) {
      fail(`lock ${name}: ttlMs ${ttlMs} with expiresAtMs ${expiresAtMs}`);
    }
    return {
      owner: ownerBytes === '' ? null : ownerBytes,
      token,
      acquiredAtMs,
      ttlMs,
      expiresAtMs,
      renewed: renewed === 1,
    };
  }
}

function fail(message: string): never {
  throw new MalformedSnapshotError(`malformed lock snapshot: ${message}`);
}
