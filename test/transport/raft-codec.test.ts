import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import type { AppendEntries, AppendEntriesResponse, Message } from '../../src/raft/types.js';
import { decodePayload, encodePayload, encodeRaftFrame } from '../../src/transport/envelope.js';
import { encodeFrame, FrameDecoder, frameHeaderBytes } from '../../src/transport/frame.js';
import { newNonce, proofOf } from '../../src/transport/handshake.js';
import {
  binaryRaftTag,
  RaftCodecError,
  raftCodecVersion,
  readBinary,
} from '../../src/transport/raft-codec.js';
import { PeerTransport } from '../../src/transport/transport.js';

const append: AppendEntries = {
  type: 'AppendEntries',
  from: 1,
  to: 3,
  term: 7,
  prevLogIndex: 2 ** 53 - 10,
  prevLogTerm: 6,
  commit: 2 ** 53 - 12,
  entries: [
    { term: 7, index: 2 ** 53 - 9, type: 0, data: new Uint8Array([1, 2, 250]) },
    { term: 7, index: 2 ** 53 - 8, type: 1, data: new Uint8Array() },
    { term: 7, index: 2 ** 53 - 7, type: 2, data: new Uint8Array(300).fill(9) },
  ],
};

const answer: AppendEntriesResponse = {
  type: 'AppendEntriesResponse',
  from: 3,
  to: 1,
  term: 7,
  success: false,
  matchIndex: 0,
  rejectHint: 123_456_789_012,
};

/** The payload of a frame, and the message it decodes to. */
function roundTrip(message: Message, binary: boolean): { payload: Buffer; decoded: unknown } {
  const payload = encodeRaftFrame(message, binary).subarray(frameHeaderBytes);
  return { payload, decoded: decodePayload(Buffer.from(payload)) };
}

/** Entries with their data as plain arrays, so that deepEqual ignores Buffer against Uint8Array. */
function comparable(message: unknown): unknown {
  const record = message as { entries?: readonly { data: Uint8Array }[] };
  if (record.entries === undefined) return message;
  return {
    ...record,
    entries: record.entries.map((entry) => ({ ...entry, data: [...entry.data] })),
  };
}

describe('binary Raft codec', () => {
  for (const message of [
    append,
    { ...append, entries: [] },
    answer,
    { ...answer, success: true },
  ]) {
    test(`${message.type} with ${'entries' in message ? message.entries.length : 'no'} entries survives the binary layout`, () => {
      const { payload, decoded } = roundTrip(message, true);
      assert.equal(payload[0], binaryRaftTag);
      const envelope = decoded as { kind: string; message: Message };
      assert.equal(envelope.kind, 'raft');
      assert.deepEqual(comparable(envelope.message), comparable(message));
    });
  }

  test('without the peer announcing it, or for other messages, frames stay msgpack', () => {
    const vote: Message = {
      type: 'RequestVote',
      from: 1,
      to: 2,
      term: 4,
      lastLogIndex: 9,
      lastLogTerm: 3,
    };
    for (const [message, binary] of [
      [append, false],
      [vote, true],
    ] as const) {
      const { payload, decoded } = roundTrip(message, binary);
      assert.notEqual(payload[0], binaryRaftTag);
      assert.deepEqual(payload, encodePayload({ kind: 'raft', message }));
      assert.deepEqual(comparable((decoded as { message: Message }).message), comparable(message));
    }
  });

  test('a payload cut short anywhere, or with bytes past its end, is refused', () => {
    for (const message of [append, answer]) {
      const { payload } = roundTrip(message, true);
      for (let length = 1; length < payload.length; length++) {
        assert.throws(
          () => readBinary(Buffer.from(payload.subarray(0, length))),
          /cut short|bytes past its end|cannot fit/,
          `${message.type} cut to ${length} of ${payload.length} bytes`,
        );
      }
      assert.throws(
        () => readBinary(Buffer.concat([payload, Buffer.from([0])])),
        /1 bytes past its end/,
      );
    }
  });

  test('an unknown kind, or an entry count the payload cannot hold, is refused before allocating', () => {
    const { payload } = roundTrip(append, true);
    const unknownKind = Buffer.from(payload);
    unknownKind[1] = 9;
    assert.throws(() => readBinary(unknownKind), /unknown binary Raft message kind 9/);
    const hugeCount = Buffer.from(payload);
    hugeCount.writeUInt32LE(0xffff_ffff, 18 + 24);
    assert.throws(() => readBinary(hugeCount), RaftCodecError);
    assert.throws(() => readBinary(hugeCount), /4294967295 entries cannot fit/);
  });
});

/**
 * A peer that does the acceptor's half of the handshake by hand, announcing the binary layout or
 * not (as a node of an earlier release would not), and hands over every payload after the welcome.
 */
async function fakeAcceptor(
  announce: boolean,
): Promise<{ port: number; payloads: AsyncIterator<Buffer>; close: () => void }> {
  const secret = Buffer.from('correct horse battery staple');
  const received: Buffer[] = [];
  let wake: (() => void) | undefined;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const decoder = new FrameDecoder(1 << 20);
    const nonce = newNonce();
    let welcomed = false;
    socket.on('data', (chunk: Buffer) => {
      for (const payload of decoder.push(chunk)) {
        const value = decodePayload(payload) as { type?: string; nonce?: Uint8Array };
        if (value.type === 'hello' && value.nonce !== undefined) {
          const proof = proofOf(
            secret,
            'acceptor',
            { dialer: value.nonce, acceptor: nonce },
            { dialer: 1, acceptor: 2 },
          );
          const challenge = { type: 'challenge', from: 2, nonce, proof };
          const announced = announce ? { ...challenge, raftCodec: raftCodecVersion } : challenge;
          socket.write(encodeFrame(encodePayload(announced)));
        } else if (value.type === 'auth' && !welcomed) {
          welcomed = true;
          socket.write(encodeFrame(encodePayload({ type: 'welcome' })));
        } else {
          received.push(payload);
          wake?.();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(typeof address === 'object' && address !== null);
  const payloads: AsyncIterator<Buffer> = {
    next: async () => {
      while (received.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return { done: false, value: received.shift() as Buffer };
    },
  };
  const close = (): void => {
    for (const socket of sockets) socket.destroy();
    server.close();
  };
  return { port: address.port, payloads, close };
}

describe('binary Raft codec on the peer link', () => {
  for (const announce of [true, false]) {
    test(`a dialer sends AppendEntries ${announce ? 'binary to a peer that announced it' : 'as msgpack to a peer that did not'}`, async () => {
      const peer = await fakeAcceptor(announce);
      const transport = await PeerTransport.start({
        selfId: 1,
        listen: { host: '127.0.0.1', port: 0 },
        peers: new Map([[2, { host: '127.0.0.1', port: peer.port }]]),
        secret: Buffer.from('correct horse battery staple'),
        onMessage: () => {},
        onCall: async () => null,
        logger: { info: () => {}, warn: () => {} },
        allowFaultInjection: false,
      });
      try {
        // Sent before the handshake ends, so queued and encoded before the peer said anything:
        // msgpack whatever comes next. Its arrival proves that the link is up.
        transport.send([{ ...append, to: 2 }]);
        const queued = (await peer.payloads.next()).value as Buffer;
        assert.notEqual(queued[0], binaryRaftTag);
        transport.send([{ ...append, to: 2 }]);
        const next = (await peer.payloads.next()).value as Buffer;
        assert.equal(next[0] === binaryRaftTag, announce);
        const decoded = decodePayload(next) as { message: Message };
        assert.deepEqual(comparable(decoded.message), comparable({ ...append, to: 2 }));
      } finally {
        await transport.close();
        peer.close();
      }
    });
  }
});
