import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressBook } from '../../src/node/address-book.js';
import type { MemberContact } from '../../src/node/addresses.js';
import { PeerSet } from '../../src/node/peers.js';
import type { PeerTransport } from '../../src/transport/transport.js';

/** A transport that only records what the peer set asks of it. */
function recordingTransport(): { transport: PeerTransport; calls: string[] } {
  const calls: string[] = [];
  const transport = {
    addPeer: (id: number, address: { host: string; port: number }) =>
      calls.push(`add ${id} ${address.host}:${address.port}`),
    removePeer: (id: number) => calls.push(`remove ${id}`),
  } as unknown as PeerTransport;
  return { transport, calls };
}

function contact(id: number, peerPort: number): MemberContact {
  return {
    id,
    clientAddress: `127.0.0.1:${peerPort - 1000}`,
    peerAddress: `127.0.0.1:${peerPort}`,
  };
}

describe('PeerSet', () => {
  test('changes the links only when the members or the address book changed', () => {
    const book = new AddressBook();
    book.learn([contact(1, 3001), contact(2, 3002), contact(3, 3003)]);
    const { transport, calls } = recordingTransport();
    const peers = new PeerSet(1, transport, book);

    peers.sync([1, 2, 3]);
    assert.deepEqual(calls.splice(0), ['add 2 127.0.0.1:3002', 'add 3 127.0.0.1:3003']);

    // The same inputs, as before every batch: nothing to do. A contact learned again unchanged
    // (the leader tells the book its own before every batch) is no change either.
    const version = book.version;
    book.learn([contact(1, 3001)]);
    assert.equal(book.version, version);
    peers.sync([1, 2, 3]);
    assert.deepEqual(calls, []);

    // The log moves node 3: its link is made again to the new address.
    book.applyReplicated([contact(3, 4003)]);
    assert.notEqual(book.version, version);
    peers.sync([1, 2, 3]);
    assert.deepEqual(calls.splice(0), ['remove 3', 'add 3 127.0.0.1:4003']);

    // Node 2 leaves the membership.
    peers.sync([1, 3]);
    assert.deepEqual(calls.splice(0), ['remove 2']);
  });
});
