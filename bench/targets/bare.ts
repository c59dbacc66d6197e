/**
 * The ceiling: bench/bare-server.ts, the lock API's happy path on a bare node:http server with an
 * in-memory Set. It has no queue, so it is measured under the uncontended load only.
 */
import { pidsOf, stopProcess } from '../processes.js';
import { LockdSession, startNodeProcess } from './lockd.js';
import type { Target } from './target.js';

export function bareTarget(): Target {
  return {
    system: 'bare',
    nodes: 1,
    supports: (load) => load === 'uncontended',
    start: async () => {
      const server = await startNodeProcess(['--import', 'tsx', 'bench/bare-server.ts']);
      return {
        variants: [
          {
            label: 'bare node:http (mem)',
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
