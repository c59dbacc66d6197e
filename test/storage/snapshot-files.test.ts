import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StorageCorruptError } from '../../src/storage/log-checks.js';
import {
  readLatestSnapshot,
  snapshotDirectory,
  writeSnapshotFile,
} from '../../src/storage/snapshot-files.js';
import { makeTemporaryDirectory } from '../support/lockd-process.js';

function snapshotAt(index: number): {
  index: number;
  term: number;
  metadata: unknown;
  data: Uint8Array;
} {
  return {
    index,
    term: 3,
    metadata: { voters: [1, 2, 3], learners: [] },
    data: new Uint8Array([index % 256, 1, 2]),
  };
}

test('a written snapshot reads back exactly; the newest wins; old ones are pruned to three', () => {
  const directory = makeTemporaryDirectory();
  try {
    assert.equal(readLatestSnapshot(directory.path), undefined);
    for (const index of [10, 20, 30, 40, 50]) writeSnapshotFile(directory.path, snapshotAt(index));
    const latest = readLatestSnapshot(directory.path);
    assert.ok(latest !== undefined);
    assert.equal(latest.index, 50);
    assert.equal(latest.term, 3);
    assert.deepEqual(latest.metadata, { voters: [1, 2, 3], learners: [] });
    assert.deepEqual([...latest.data], [50, 1, 2]);
    assert.deepEqual(readdirSync(snapshotDirectory(directory.path)), [
      '00000000000000000030.snap',
      '00000000000000000040.snap',
      '00000000000000000050.snap',
    ]);
  } finally {
    directory.remove();
  }
});

test('a flipped bit, a truncated file or a foreign file is reported, never skipped', () => {
  const directory = makeTemporaryDirectory();
  try {
    const path = writeSnapshotFile(directory.path, snapshotAt(7));
    const good = readFileSync(path);
    const corruptions: ReadonlyArray<readonly [Buffer, RegExp]> = [
      [
        Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([(good.at(-1) ?? 0) ^ 1])]),
        /snapshot checksum mismatch/,
      ],
      [good.subarray(0, good.length - 2), /snapshot body is \d+ bytes, header says \d+/],
      [Buffer.from('not a snapshot at all, really'), /not a lockd snapshot \(bad magic\)/],
    ];
    for (const [bytes, message] of corruptions) {
      writeFileSync(path, bytes);
      assert.throws(
        () => readLatestSnapshot(directory.path),
        (error: unknown) => {
          assert.ok(error instanceof StorageCorruptError);
          assert.match(error.message, message);
          assert.ok(error.message.includes(path), error.message);
          return true;
        },
      );
    }
  } finally {
    directory.remove();
  }
});

test('a temporary file left by a crash mid-write is ignored by the loader', () => {
  const directory = makeTemporaryDirectory();
  try {
    writeSnapshotFile(directory.path, snapshotAt(5));
    writeFileSync(
      join(snapshotDirectory(directory.path), '00000000000000000009.snap.tmp-123'),
      'half written',
    );
    assert.equal(readLatestSnapshot(directory.path)?.index, 5);
  } finally {
    directory.remove();
  }
});
