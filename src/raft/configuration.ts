import { assert } from '../util/assert.js';
import type { ConfChange, ConfChangeType, ConfState, Entry, NodeId } from './types.js';
import { EntryType } from './types.js';

/**
 * Cluster membership, changed one server at a time (thesis §4.1). A node uses the latest
 * configuration in its log, committed or not; when a conflicting suffix is truncated, the
 * configuration goes back with it. Single-server changes keep any two consecutive configurations'
 * majorities overlapping, provided that a leader has one change in flight at most and proposes
 * one only after committing an entry of its own term (the fix for the single-server bug).
 */

export const emptyConfState: ConfState = { voters: [], learners: [] };

export function confState(voters: readonly NodeId[], learners: readonly NodeId[] = []): ConfState {
  const state = { voters: sortedIds(voters), learners: sortedIds(learners) };
  assertConfState(state);
  return state;
}

export function assertConfState(state: ConfState): void {
  const all = [...state.voters, ...state.learners];
  assert(
    all.every((id) => Number.isSafeInteger(id) && id >= 1),
    'member ids must be positive integers',
  );
  assert(new Set(all).size === all.length, 'voters and learners must be distinct and disjoint');
  assert(isSorted(state.voters) && isSorted(state.learners), 'member lists must be sorted');
}

export function isVoter(state: ConfState, id: NodeId): boolean {
  return state.voters.includes(id);
}

export function isMember(state: ConfState, id: NodeId): boolean {
  return state.voters.includes(id) || state.learners.includes(id);
}

export function sameConfState(a: ConfState, b: ConfState): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners);
}

export type ApplyResult =
  | { readonly ok: true; readonly confState: ConfState }
  | { readonly ok: false; readonly detail: string };

/** The membership after `change`, or why the change does not apply to `state`. */
export function applyConfChange(state: ConfState, change: ConfChange): ApplyResult {
  const { node } = change;
  if (!Number.isSafeInteger(node) || node < 1) {
    return { ok: false, detail: `node id ${node} is not a positive integer` };
  }
  const voter = state.voters.includes(node);
  const learner = state.learners.includes(node);
  const without = (ids: readonly NodeId[]) => ids.filter((id) => id !== node);
  switch (change.type) {
    case 'add-learner':
      if (voter || learner) return { ok: false, detail: `node ${node} is already a member` };
      return { ok: true, confState: confState(state.voters, [...state.learners, node]) };
    case 'promote-learner':
      if (!learner) return { ok: false, detail: `node ${node} is not a learner` };
      return { ok: true, confState: confState([...state.voters, node], without(state.learners)) };
    case 'remove-voter':
      if (!voter) return { ok: false, detail: `node ${node} is not a voter` };
      if (state.voters.length === 1) {
        return { ok: false, detail: `node ${node} is the last voter` };
      }
      return { ok: true, confState: confState(without(state.voters), state.learners) };
    case 'remove-learner':
      if (!learner) return { ok: false, detail: `node ${node} is not a learner` };
      return { ok: true, confState: confState(state.voters, without(state.learners)) };
  }
}

/** What a confChange entry holds: the change, and the whole membership that results from it. */
export interface ConfChangeRecord {
  readonly change: ConfChange;
  readonly confState: ConfState;
}

const recordVersion = 1;
const changeTypes: readonly ConfChangeType[] = [
  'add-learner',
  'promote-learner',
  'remove-voter',
  'remove-learner',
];
/** Far above any real cluster: a bound on what a decoder allocates for a corrupt record. */
const membersMax = 1024;

/**
 * Layout: version(1) changeType(1) node(8) voterCount(4) voters(8 each) learnerCount(4)
 * learners(8 each). Ids are float64 (exact for every safe integer), counts uint32, big-endian.
 * The whole resulting membership is in the record, so that a node learns it from one entry
 * whatever it knew before (a joining node knows nothing).
 */
export function encodeConfChangeEntry(record: ConfChangeRecord): Uint8Array {
  const { voters, learners } = record.confState;
  const bytes = new Uint8Array(2 + 8 + 4 + 8 * voters.length + 4 + 8 * learners.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, recordVersion);
  view.setUint8(1, changeTypes.indexOf(record.change.type));
  view.setFloat64(2, record.change.node);
  let offset = writeIds(view, 10, voters);
  offset = writeIds(view, offset, learners);
  assert(offset === bytes.length, 'conf change record length');
  return bytes;
}

/** The record in a confChange entry's data, or undefined if the bytes are not one. */
export function decodeConfChangeEntry(data: Uint8Array): ConfChangeRecord | undefined {
  if (data.length < 2 + 8 + 4 + 4) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = changeTypes[view.getUint8(1)];
  const node = view.getFloat64(2);
  if (view.getUint8(0) !== recordVersion || type === undefined) return undefined;
  const voters = readIds(view, 10);
  if (voters === undefined) return undefined;
  const learners = readIds(view, voters.end);
  if (learners === undefined || learners.end !== data.length) return undefined;
  const state = { voters: voters.ids, learners: learners.ids };
  const members = [...state.voters, ...state.learners];
  if (![...members, node].every((id) => Number.isSafeInteger(id) && id >= 1)) return undefined;
  if (new Set(members).size !== members.length || state.voters.length === 0) return undefined;
  if (!isSorted(state.voters) || !isSorted(state.learners)) return undefined;
  if (!resultMatchesChange(state, { type, node })) return undefined;
  return { change: { type, node }, confState: state };
}

/** Whether `state` can be what `change` produced: the node ended up where the change puts it. */
function resultMatchesChange(state: ConfState, change: ConfChange): boolean {
  switch (change.type) {
    case 'add-learner':
      return state.learners.includes(change.node);
    case 'promote-learner':
      return state.voters.includes(change.node);
    case 'remove-voter':
    case 'remove-learner':
      return !isMember(state, change.node);
  }
}

function writeIds(view: DataView, offset: number, ids: readonly NodeId[]): number {
  view.setUint32(offset, ids.length);
  let position = offset + 4;
  for (const id of ids) {
    view.setFloat64(position, id);
    position += 8;
  }
  return position;
}

function readIds(view: DataView, offset: number): { ids: NodeId[]; end: number } | undefined {
  if (offset + 4 > view.byteLength) return undefined;
  const count = view.getUint32(offset);
  const end = offset + 4 + 8 * count;
  if (count > membersMax || end > view.byteLength) return undefined;
  const ids: NodeId[] = [];
  for (let position = offset + 4; position < end; position += 8)
    ids.push(view.getFloat64(position));
  return { ids, end };
}

interface ConfigAt {
  readonly index: number;
  readonly confState: ConfState;
}

/**
 * The membership along the log: a base (as of the snapshot, or the bootstrap configuration at
 * index 0), then one configuration per confChange entry still in the log, in index order. Its size
 * is bounded by the number of confChange entries in the uncompacted log.
 */
export class ConfigHistory {
  #base: ConfigAt;
  #changes: ConfigAt[] = [];

  constructor(baseIndex: number, base: ConfState) {
    assertConfState(base);
    this.#base = { index: baseIndex, confState: base };
  }

  /** The membership in effect: the latest in the log. */
  current(): ConfState {
    return this.#latest().confState;
  }

  /** The index of the entry that set the current membership (the base's index if none did). */
  latestIndex(): number {
    return this.#latest().index;
  }

  /** The membership as of `index` (at or after the base). */
  at(index: number): ConfState {
    assert(index >= this.#base.index, `membership at ${index} is compacted away`);
    let result = this.#base;
    for (const change of this.#changes) if (change.index <= index) result = change;
    return result.confState;
  }

  /** An entry was appended to the log. */
  appended(entry: Entry): void {
    if (entry.type !== EntryType.confChange) return;
    const record = decodeConfChangeEntry(entry.data);
    assert(record !== undefined, `entry ${entry.index} is not a valid membership change`);
    assert(entry.index > this.latestIndex(), 'membership changes out of order');
    this.#changes.push({ index: entry.index, confState: record.confState });
  }

  /** Entries from `index` on were removed from the log: so are the changes they made. */
  truncatedFrom(index: number): void {
    assert(index > this.#base.index, 'truncating below the base membership');
    this.#changes = this.#changes.filter((change) => change.index < index);
  }

  /** The log was compacted up to `index`: the changes at or below it fold into the base. */
  compactedTo(index: number): void {
    this.#base = { index, confState: this.at(index) };
    this.#changes = this.#changes.filter((change) => change.index > index);
  }

  /** The log was replaced by a snapshot. */
  reset(index: number, base: ConfState): void {
    assertConfState(base);
    this.#base = { index, confState: base };
    this.#changes = [];
  }

  #latest(): ConfigAt {
    return this.#changes.at(-1) ?? this.#base;
  }
}

function sortedIds(ids: readonly NodeId[]): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

function isSorted(ids: readonly NodeId[]): boolean {
  return ids.every((id, position) => position === 0 || (ids[position - 1] ?? 0) < id);
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, position) => b[position] === id);
}
