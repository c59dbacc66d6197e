/**
 * WalStorage's use of snapshot files (snapshot-files.ts). The log's snapshot marker is the
 * authority: the snapshot in force is the file at the marker's index, whatever newer files exist.
 * A newer file is what a crash left between writing the file and appending its marker; the
 * compaction or save it belonged to was never acknowledged, so it is deleted on open. Deleting it
 * matters: snapshot-files.ts keeps only the newest few files, and repeated crashes at that point
 * would otherwise push out the file the marker names.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Snapshot } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { StorageCorruptError } from './log-checks.js';
import {
  readSnapshotFile,
  snapshotDirectory,
  snapshotFromRecord,
  writeSnapshotFile,
} from './snapshot-files.js';

/** The file name snapshot-files.ts gives a snapshot; writeSnapshot checks the two agree. */
const snapshotNamePattern = /^(\d{20})\.snap$/;

export function snapshotFilePath(dataDir: string, index: number): string {
  return join(snapshotDirectory(dataDir), `${String(index).padStart(20, '0')}.snap`);
}

/** Writes the snapshot's file, durably, before its marker goes into the log. */
export function writeSnapshot(dataDir: string, snapshot: Snapshot): void {
  const path = writeSnapshotFile(dataDir, {
    index: snapshot.index,
    term: snapshot.term,
    metadata: { confState: snapshot.confState },
    data: snapshot.data,
  });
  assert(
    path === snapshotFilePath(dataDir, snapshot.index),
    `snapshot-files.ts named the snapshot ${path}, WalStorage expects ${snapshotFilePath(dataDir, snapshot.index)}`,
  );
}

/** True when the data directory holds any snapshot file. */
export function hasSnapshotFiles(dataDir: string): boolean {
  return snapshotIndexes(dataDir).length > 0;
}

/** The snapshot the log's marker names, read and checked. Throws StorageCorruptError. */
export function readMarkedSnapshot(
  dataDir: string,
  marker: { readonly index: number; readonly term: number },
): Snapshot | undefined {
  if (marker.index === 0) return undefined;
  const path = snapshotFilePath(dataDir, marker.index);
  if (!existsSync(path)) {
    throw new StorageCorruptError(
      dataDir,
      `the log follows the snapshot at ${marker.index}, but its file ${path} is missing`,
    );
  }
  const record = readSnapshotFile(path);
  if (record.index !== marker.index || record.term !== marker.term) {
    throw new StorageCorruptError(
      dataDir,
      `the log follows the snapshot at ${marker.index} (term ${marker.term}), ` +
        `but ${path} holds the one at ${record.index} (term ${record.term})`,
    );
  }
  return snapshotFromRecord(record, dataDir);
}

/** Deletes snapshot files newer than the marker's (see the file comment). */
export function removeUnmarkedSnapshots(dataDir: string, markerIndex: number): void {
  for (const index of snapshotIndexes(dataDir)) {
    if (index > markerIndex) rmSync(snapshotFilePath(dataDir, index), { force: true });
  }
}

function snapshotIndexes(dataDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(snapshotDirectory(dataDir));
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return [];
    throw error;
  }
  const indexes: number[] = [];
  for (const name of names) {
    const match = snapshotNamePattern.exec(name);
    if (match?.[1] !== undefined) indexes.push(Number(match[1]));
  }
  return indexes;
}
