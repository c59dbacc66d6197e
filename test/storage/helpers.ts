// Shared by the storage tests and the crash fixture: entries with recognisable bytes, temporary
// data directories, and a small seeded random generator.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeConfChangeEntry } from '../../src/raft/configuration.js';
import { type Entry, EntryType, type Snapshot } from '../../src/raft/types.js';

const textEncoder = new TextEncoder();

/** The bytes of entry `index`, of varying length so that records differ in size. */
export function payloadOf(index: number): Uint8Array {
  return textEncoder.encode(`command ${index};`.repeat(1 + (index % 7)));
}

export function normalEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.normal, data: payloadOf(index) };
}

export function noopEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.noop, data: new Uint8Array(0) };
}

/** A membership change (node 4 joins 1, 2, 3 as a learner), as the core encodes it. */
export function confChangeEntry(index: number, term: number): Entry {
  const data = encodeConfChangeEntry({
    change: { type: 'add-learner', node: 4 },
    confState: { voters: [1, 2, 3], learners: [4] },
  });
  return { index, term, type: EntryType.confChange, data };
}

/** A snapshot at `index` in `term` with recognisable bytes. */
export function snapshotAt(index: number, term: number): Snapshot {
  return {
    index,
    term,
    confState: { voters: [1, 2, 3], learners: [] },
    data: textEncoder.encode(`state as of ${index}`),
  };
}

/** Normal entries `first`..`last` (inclusive), all in `term`. */
export function entriesInTerm(first: number, last: number, term: number): Entry[] {
  const entries: Entry[] = [];
  for (let index = first; index <= last; index++) entries.push(normalEntry(index, term));
  return entries;
}

export function makeTemporaryDirectory(): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'lockd-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** mulberry32: a tiny seeded generator, so that a failing run replays from its printed seed. */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** An integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let mixed = this.#state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    const unit = ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
    return Math.floor(unit * maxExclusive);
  }
}

/** The seed for randomised tests: `LOCKD_TEST_SEED` replays a failure, otherwise a fixed one. */
export function testSeed(fallback: number): number {
  const fromEnvironment = process.env.LOCKD_TEST_SEED;
  return fromEnvironment === undefined ? fallback : Number(fromEnvironment);
}

/**
 * Runs a writer script (`node --import tsx <script> <dataDir>`) that prints `acked <lastIndex>
 * <commit>` after each save resolves; once it has acknowledged `acksBeforeKill` saves, runs
 * `beforeKill` (with the writer's pid) and SIGKILLs it. Returns the last acknowledgement read:
 * every line read, also those still in the pipe after the kill, is an acknowledged save.
 */
export async function runWriterUntilKilled(
  scriptPath: string,
  dataDir: string,
  acksBeforeKill: number,
  beforeKill: (pid: number | undefined) => Promise<void> = async () => {},
): Promise<{ index: number; commit: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', scriptPath, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  let lastAck = { index: 0, commit: 0 };
  let acks = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^acked (\d+) (\d+)$/.exec(line);
    assert.ok(match, `unexpected line from the writer: ${line}`);
    lastAck = { index: Number(match[1]), commit: Number(match[2]) };
    acks += 1;
    if (acks === acksBeforeKill) {
      await beforeKill(child.pid);
      child.kill('SIGKILL');
    }
  }
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `the writer ended by itself (code ${code}): ${stderr}`);
  return lastAck;
}
