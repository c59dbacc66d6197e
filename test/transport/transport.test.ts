import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { LockdError } from '../../src/errors.js';
import type { Message } from '../../src/raft/types.js';
import { encodePayload } from '../../src/transport/envelope.js';
import { encodeFrame, FrameDecoder, FrameError } from '../../src/transport/frame.js';
import { PeerTransport, type TransportLogger } from '../../src/transport/transport.js';

const secret = Buffer.from('correct horse battery staple');

interface Harness {
  readonly transport: PeerTransport;
  readonly received: Message[];
  readonly warnings: string[];
  nextMessage(): Promise<Message>;
  nextWarning(prefix: string): Promise<string>;
}

/** Starts transports for ids 1..n on free ports, each knowing the others. */
async function startCluster(
  count: number,
  secrets: readonly Uint8Array[] = [],
): Promise<Harness[]> {
  const ports = new Map<number, number>();
  const harnesses: Harness[] = [];
  // Listen first on port 0, then tell everyone the real ports.
  for (let id = 1; id <= count; id++) {
    const received: Message[] = [];
    const warnings: string[] = [];
    let messageWaiter: ((message: Message) => void) | undefined;
    let warningWaiter: { prefix: string; resolve: (reason: string) => void } | undefined;
    const logger: TransportLogger = {
      info: () => {},
      warn: (object, message) => {
        const reason = `${message}: ${String((object as { reason?: string }).reason ?? '')}`;
        warnings.push(reason);
        if (warningWaiter !== undefined && reason.startsWith(warningWaiter.prefix))
          warningWaiter.resolve(reason);
      },
    };
    const transport = await PeerTransport.start({
      selfId: id,
      listen: { host: '127.0.0.1', port: 0 },
      peers: new Map(),
      secret: secrets[id - 1] ?? secret,
      onMessage: (message) => {
        received.push(message);
        messageWaiter?.(message);
      },
      onCall: async (from, method, body) => {
        if (method === 'fail')
          throw new LockdError('LOCKD_ERR_NOT_LEADER', `node ${id} is not the leader`);
        return { from, method, body, answeredBy: id };
      },
      logger,
      allowFaultInjection: true,
    });
    ports.set(id, transport.port);
    harnesses.push({
      transport,
      received,
      warnings,
      nextMessage: () => new Promise((resolve) => (messageWaiter = resolve)),
      nextWarning: (prefix) => new Promise((resolve) => (warningWaiter = { prefix, resolve })),
    });
  }
  return harnesses;
}

function connectAll(harnesses: readonly Harness[]): void {
  for (const [index, harness] of harnesses.entries()) {
    for (const [peerIndex, peer] of harnesses.entries()) {
      if (peerIndex !== index)
        harness.transport.addPeer(peerIndex + 1, { host: '127.0.0.1', port: peer.transport.port });
    }
  }
}

function vote(from: number, to: number, term: number): Message {
  return { type: 'RequestVote', from, to, term, lastLogIndex: 7, lastLogTerm: 2 };
}

describe('peer transport', () => {
  test('authenticated peers exchange Raft messages with entries intact, and calls with replies', async () => {
    const [one, two] = await startCluster(2);
    assert.ok(one !== undefined && two !== undefined);
    // The peers map of the acceptor must know the dialer before it connects.
    connectAll([one, two]);
    try {
      const arrival = two.nextMessage();
      const append: Message = {
        type: 'AppendEntries',
        from: 1,
        to: 2,
        term: 3,
        prevLogIndex: 4,
        prevLogTerm: 2,
        commit: 4,
        entries: [{ term: 3, index: 5, type: 0, data: new Uint8Array([1, 2, 250]) }],
      };
      one.transport.send([append]);
      const delivered = await arrival;
      assert.deepEqual({ ...delivered, entries: [] }, { ...append, entries: [] });
      assert.ok(delivered.type === 'AppendEntries');
      assert.deepEqual([...(delivered.entries[0]?.data ?? [])], [1, 2, 250]);

      assert.deepEqual(await one.transport.call(2, 'echo', { name: 'foo' }, 5_000), {
        from: 1,
        method: 'echo',
        body: { name: 'foo' },
        answeredBy: 2,
      });
      await assert.rejects(one.transport.call(2, 'fail', null, 5_000), (error: unknown) => {
        assert.ok(error instanceof LockdError);
        assert.equal(error.code, 'LOCKD_ERR_NOT_LEADER');
        assert.equal(error.message, 'node 2 is not the leader');
        return true;
      });
      const back = one.nextMessage();
      two.transport.send([vote(2, 1, 9)]);
      assert.deepEqual(await back, vote(2, 1, 9));
    } finally {
      await Promise.all([one.transport.close(), two.transport.close()]);
    }
  });

  test('a peer with the wrong secret is dropped and never reaches Raft', async () => {
    const [one, two] = await startCluster(2, [secret, Buffer.from('wrong')]);
    assert.ok(one !== undefined && two !== undefined);
    try {
      const dropped = one.nextWarning('peer link failed: node 2');
      one.transport.addPeer(2, { host: '127.0.0.1', port: two.transport.port });
      two.transport.addPeer(1, { host: '127.0.0.1', port: one.transport.port });
      two.transport.send([vote(2, 1, 5)]);
      assert.match(await dropped, /^peer link failed: node 2 failed to prove the cluster secret$/);
      assert.deepEqual(one.received, []);
      assert.equal(one.transport.peers()[0]?.reachable, false);
    } finally {
      await Promise.all([one.transport.close(), two.transport.close()]);
    }
  });

  const garbage: ReadonlyArray<readonly [string, Buffer, RegExp]> = [
    [
      'random bytes',
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      /frame of \d+ bytes exceeds the maximum of 1024|frame checksum mismatch/,
    ],
    [
      'a frame with a bad checksum',
      Buffer.concat([Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]), Buffer.from('hi')]),
      /frame checksum mismatch/,
    ],
    [
      'a huge announced frame',
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
      /exceeds the maximum of 1024/,
    ],
    [
      'a Raft message before the handshake',
      encodeFrame(encodePayload({ kind: 'raft', message: vote(2, 1, 99) })),
      /unexpected frame during the handshake/,
    ],
    [
      'a hello from a stranger',
      encodeFrame(
        encodePayload({ type: 'hello', version: 1, from: 66, to: 1, nonce: Buffer.alloc(32) }),
      ),
      /hello from unknown node 66 to 1/,
    ],
  ];
  for (const [what, bytes, reason] of garbage) {
    test(`${what} on the peer port is dropped and changes nothing`, async () => {
      const [one] = await startCluster(1);
      assert.ok(one !== undefined);
      one.transport.addPeer(2, { host: '127.0.0.1', port: 1 });
      try {
        const dropped = one.nextWarning('peer connection dropped');
        const socket = connect({ host: '127.0.0.1', port: one.transport.port });
        socket.on('error', () => {});
        socket.write(bytes);
        assert.match(await dropped, reason);
        assert.deepEqual(one.received, []);
        socket.destroy();
      } finally {
        await one.transport.close();
      }
    });
  }

  test('fault injection drops traffic to an isolated peer until lifted', async () => {
    const harnesses = await startCluster(2);
    const [one, two] = harnesses;
    assert.ok(one !== undefined && two !== undefined);
    connectAll(harnesses);
    try {
      const first = two.nextMessage();
      one.transport.send([vote(1, 2, 1)]);
      await first;
      // Dropped when sent: nothing of it ever leaves node 1.
      one.transport.setFaults({ isolatedFrom: [2] });
      one.transport.send([vote(1, 2, 2)]);
      assert.equal(one.transport.peers()[0]?.reachable, false);
      one.transport.setFaults({ isolatedFrom: [] });
      const third = two.nextMessage();
      one.transport.send([vote(1, 2, 3)]);
      // The connection is ordered: term 3 arriving proves term 2 would have arrived before it.
      assert.equal((await third).term, 3);
      assert.deepEqual(
        two.received.map((message) => message.term),
        [1, 3],
      );
    } finally {
      await Promise.all([one.transport.close(), two.transport.close()]);
    }
  });
});

describe('FrameDecoder', () => {
  test('reassembles frames split across chunks and several frames in one chunk', () => {
    const frames = Buffer.concat([
      encodeFrame(Buffer.from('alpha')),
      encodeFrame(Buffer.from('')),
      encodeFrame(Buffer.from('gamma')),
    ]);
    for (let split = 0; split <= frames.length; split++) {
      const decoder = new FrameDecoder(64);
      const payloads = [
        ...decoder.push(frames.subarray(0, split)),
        ...decoder.push(frames.subarray(split)),
      ];
      assert.deepEqual(payloads.map(String), ['alpha', '', 'gamma'], `split at ${split}`);
    }
  });

  test('rejects a flipped bit and an oversized length', () => {
    const frame = encodeFrame(Buffer.from('payload'));
    frame[10] = (frame[10] ?? 0) ^ 1;
    assert.throws(() => new FrameDecoder(64).push(frame), FrameError);
    assert.throws(
      () => new FrameDecoder(4).push(encodeFrame(Buffer.from('payload'))),
      /frame of 7 bytes exceeds the maximum of 4/,
    );
  });
});
