/** Writing a run's history as JSON, for the checker to read again and for a person to study. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { History } from './history.js';

/** Where failed runs' histories go when no directory was asked for. */
export const defaultHistoryDirectory = join(tmpdir(), 'lockd-faults');

/** Writes the history into `directory` (made if missing) and returns the file's path. */
export function saveHistory(history: History, directory: string): string {
  mkdirSync(directory, { recursive: true });
  const path = join(directory, `lockd-faults-seed-${history.seed}-${history.startedAtUnixMs}.json`);
  writeFileSync(path, `${JSON.stringify(history, null, 1)}\n`);
  return path;
}
