// The node's own bytes: member address entries (beside lock commands in the log), node snapshots
// (lock state and address book), and host:port addresses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCommand, MalformedCommandError } from '../../src/locks/codec.js';
import { LockStateMachine } from '../../src/locks/state-machine.js';
import { formatAddress, parseAddress } from '../../src/node/addresses.js';
import {
  decodeMemberAddresses,
  encodeMemberAddresses,
  isNodeEntry,
  MalformedNodeEntryError,
  nodeEntryKind,
} from '../../src/node/node-entries.js';
import {
  decodeNodeSnapshot,
  encodeNodeSnapshot,
  MalformedNodeSnapshotError,
} from '../../src/node/node-snapshot.js';

const contacts = [
  { id: 1, clientAddress: '127.0.0.1:2081', peerAddress: '127.0.0.1:3081' },
  { id: 42, clientAddress: '[::1]:2082', peerAddress: 'node-42.example:3082' },
];

describe('member address entries', () => {
  test('round trip, and the lock codec never takes one for a command', () => {
    const bytes = encodeMemberAddresses(contacts);
    assert.equal(bytes[0], nodeEntryKind);
    assert.ok(isNodeEntry(bytes));
    assert.deepEqual(decodeMemberAddresses(bytes), contacts);
    // If locks/codec.ts ever gave this kind byte a meaning, entries would be misread: it must not.
    assert.throws(() => decodeCommand(bytes), MalformedCommandError);
  });

  test('damaged records are refused with the reason', () => {
    const bytes = encodeMemberAddresses(contacts);
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, bytes.length - 1), /truncated address/],
      [new Uint8Array([...bytes, 0]), /1 bytes after the last member/],
      [Uint8Array.of(nodeEntryKind, 9, 0, 1), /unknown member addresses version 9/],
      [Uint8Array.of(nodeEntryKind, 1, 0, 0), /0 members/],
      [Uint8Array.of(3, 1, 0, 1), /not a node entry/],
    ];
    for (const [damaged, reason] of cases) {
      assert.throws(
        () => decodeMemberAddresses(damaged),
        (error: unknown) => error instanceof MalformedNodeEntryError && reason.test(error.message),
      );
    }
  });
});

describe('node snapshots', () => {
  test('the lock state and the address book round trip', () => {
    const locks = new LockStateMachine();
    for (let index = 1; index <= 7; index++) locks.applyNoop(index);
    const bytes = encodeNodeSnapshot({ members: contacts, locks: locks.snapshot() });
    const decoded = decodeNodeSnapshot(bytes);
    assert.deepEqual(decoded.members, contacts);
    assert.equal(LockStateMachine.restore(decoded.locks).appliedIndex, 7);
  });

  test('bytes that are not a node snapshot are refused, never half read', () => {
    for (const bytes of [
      new Uint8Array([0xc1]),
      encodeNodeSnapshot({ members: [], locks: new Uint8Array(0) }).subarray(0, 5),
      new TextEncoder().encode('not msgpack at all'),
    ]) {
      assert.throws(() => decodeNodeSnapshot(bytes), MalformedNodeSnapshotError);
    }
  });
});

describe('addresses', () => {
  test('host:port with IPv6 in brackets; anything else is not an address', () => {
    assert.deepEqual(parseAddress('127.0.0.1:2081'), { host: '127.0.0.1', port: 2081 });
    assert.deepEqual(parseAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.equal(formatAddress({ host: '::1', port: 7 }), '[::1]:7');
    for (const bad of ['', 'host', 'host:', ':80', 'host:65536', 'a b:1', '::1:80']) {
      assert.equal(parseAddress(bad), undefined, bad);
    }
  });
});
