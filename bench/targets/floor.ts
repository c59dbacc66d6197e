/**
 * The floors beside Redis: bench/bare-sockets-server.ts, the lock API's happy path served from
 * raw node:net sockets, in memory only, and with Redis's durability (each turn's changes appended
 * and fdatasynced before its answers). They have no queue, so they are measured uncontended only.
 */
import { join } from 'node:path';
import { pidsOf, stopProcess } from '../processes.js';
import { LockdSession, startNodeProcess } from './lockd.js';
import type { Target } from './target.js';

export type FloorKind = 'memory' | 'fdatasync';
export const floorKinds: readonly FloorKind[] = ['memory', 'fdatasync'];

const labels: Readonly<Record<FloorKind, string>> = {
  memory: 'node:net sockets (mem)',
  fdatasync: 'node:net sockets (appendfsync always)',
};

export function floorTarget(kind: FloorKind): Target {
  return {
    system: 'floor',
    nodes: 1,
    supports: (load) => load === 'uncontended',
    start: async ({ directory }) => {
      const log = kind === 'fdatasync' ? ['--log', join(directory, 'changes.log')] : [];
      const server = await startNodeProcess([
        '--import',
        'tsx',
        'bench/bare-sockets-server.ts',
        ...log,
      ]);
      return {
        variants: [
          {
            label: labels[kind],
            placement: 'single',
            openSession: (session) => LockdSession.open(server.port, session),
          },
        ],
        pids: pidsOf([server.child]),
        stop: () => stopProcess(server.child),
      };
    },
  };
}
