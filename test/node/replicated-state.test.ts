// Which committed entries of a Ready a node may apply before the Ready is on its disk.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeCommand } from '../../src/locks/codec.js';
import { nodeEntryKind } from '../../src/node/node-entries.js';
import { durableCommittedCount } from '../../src/node/replicated-state.js';
import { type Entry, EntryType, type Ready } from '../../src/raft/types.js';

const release = encodeCommand({
  kind: 'release',
  nowMs: 0,
  name: 'a',
  owner: null,
  token: null,
  handOff: null,
});

function entry(index: number, type: EntryType = EntryType.normal, data = release): Entry {
  return { term: 2, index, type, data };
}

function ready(parts: Partial<Ready>): Ready {
  return {
    softState: undefined,
    hardState: undefined,
    entries: [],
    earlyMessages: [],
    messages: [],
    committedEntries: [],
    snapshot: undefined,
    readStates: [],
    ...parts,
  };
}

describe('durableCommittedCount', () => {
  test('every committed entry when the Ready appends nothing', () => {
    assert.equal(durableCommittedCount(ready({ committedEntries: [entry(4), entry(5)] })), 2);
    assert.equal(durableCommittedCount(ready({})), 0);
  });

  test('only those below the first entry the Ready appends', () => {
    const committedEntries = [entry(4), entry(5), entry(6)];
    assert.equal(durableCommittedCount(ready({ committedEntries, entries: [entry(6)] })), 2);
    assert.equal(durableCommittedCount(ready({ committedEntries, entries: [entry(4)] })), 0);
    assert.equal(durableCommittedCount(ready({ committedEntries, entries: [entry(7)] })), 3);
  });

  test('none when the commit index reaches into what the Ready appends', () => {
    const hardState = (commit: number) => ({ term: 2, vote: 1, commit });
    const entries = [entry(6), entry(7)];
    const throughSix = [entry(4), entry(5), entry(6)];
    assert.equal(
      durableCommittedCount(
        ready({ committedEntries: throughSix, entries, hardState: hardState(6) }),
      ),
      0,
    );
    const throughFive = [entry(4), entry(5)];
    assert.equal(
      durableCommittedCount(
        ready({ committedEntries: throughFive, entries, hardState: hardState(5) }),
      ),
      2,
    );
    assert.equal(
      durableCommittedCount(ready({ committedEntries: throughSix, hardState: hardState(6) })),
      3,
    );
  });

  test('a leader no-op counts; a membership change or a node record ends the prefix', () => {
    const noop = entry(5, EntryType.noop, new Uint8Array());
    const change = entry(6, EntryType.confChange, new Uint8Array([1]));
    const record = entry(6, EntryType.normal, new Uint8Array([nodeEntryKind, 0]));
    assert.equal(durableCommittedCount(ready({ committedEntries: [entry(4), noop, change] })), 2);
    assert.equal(durableCommittedCount(ready({ committedEntries: [entry(4), noop, record] })), 2);
    assert.equal(durableCommittedCount(ready({ committedEntries: [change, entry(7)] })), 0);
  });

  test('none with a snapshot, which is restored only once persisted', () => {
    const snapshot = { index: 3, term: 1, confState: { voters: [1], learners: [] }, data: release };
    assert.equal(durableCommittedCount(ready({ committedEntries: [entry(4)], snapshot })), 0);
  });
});
