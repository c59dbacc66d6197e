// The storages the contract tests run against, each able to reopen what it saved.
import assert from 'node:assert/strict';
import { LmdbStorage } from '../../src/storage/lmdb-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import type { RaftStorage } from '../../src/storage/storage.js';
import { WalStorage, type WalStorageOptions } from '../../src/storage/wal-storage.js';
import { makeTemporaryDirectory } from './helpers.js';

export interface StorageHarness {
  readonly name: string;
  /** A new, empty storage. */
  create(): Promise<RaftStorage>;
  /** Closes `storage` and opens what it saved, as a restarted node would. */
  reopen(storage: RaftStorage): Promise<RaftStorage>;
  /** Closes everything opened and removes what was created. */
  cleanup(): Promise<void>;
}

export function memoryHarness(): StorageHarness {
  return {
    name: 'MemoryStorage',
    create: async () => new MemoryStorage(),
    async reopen(storage) {
      assert.ok(storage instanceof MemoryStorage);
      await storage.close();
      return new MemoryStorage(storage.snapshot());
    },
    cleanup: async () => {},
  };
}

export function lmdbHarness(): StorageHarness {
  const directories: { path: string; remove(): void }[] = [];
  const opened: LmdbStorage[] = [];
  const open = async (dataDir: string) => {
    const storage = await LmdbStorage.open(dataDir);
    opened.push(storage);
    return storage;
  };
  return {
    name: 'LmdbStorage',
    async create() {
      const directory = makeTemporaryDirectory();
      directories.push(directory);
      return open(directory.path);
    },
    async reopen(storage) {
      assert.ok(storage instanceof LmdbStorage);
      await storage.close();
      return open(storage.dataDir);
    },
    async cleanup() {
      for (const storage of opened.splice(0)) await storage.close();
      for (const directory of directories.splice(0)) directory.remove();
    },
  };
}

/** WalStorage; `options` lets a run use tiny segments, so that rotation happens all the time. */
export function walHarness(options: WalStorageOptions = {}): StorageHarness {
  const directories: { path: string; remove(): void }[] = [];
  const opened: WalStorage[] = [];
  const open = async (dataDir: string) => {
    const storage = await WalStorage.open(dataDir, options);
    opened.push(storage);
    return storage;
  };
  const segmentNote =
    options.segmentBytesMax === undefined ? '' : `, ${options.segmentBytesMax} byte segments`;
  return {
    name: `WalStorage${segmentNote}`,
    async create() {
      const directory = makeTemporaryDirectory();
      directories.push(directory);
      return open(directory.path);
    },
    async reopen(storage) {
      assert.ok(storage instanceof WalStorage);
      await storage.close();
      return open(storage.dataDir);
    },
    async cleanup() {
      for (const storage of opened.splice(0)) await storage.close();
      for (const directory of directories.splice(0)) directory.remove();
    },
  };
}
