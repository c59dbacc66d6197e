/**
 * What every benchmark target provides: a way to start a fresh deployment of itself (in its own
 * temporary directory, on free ports) and, for a running deployment, one or more ways to drive it.
 */
import type { LoadKind, LockSession } from '../load.js';

/** bare: the node:http ceiling. floor: the node:net floors beside Redis (targets/floor.ts). */
export type SystemName = 'bare' | 'floor' | 'lockd' | 'etcd' | 'redis';

/**
 * Where the load goes. single: the one node. spread: worker i talks to node i mod n (followers
 * forward to the leader). leader: every worker talks to the leader.
 */
export type Placement = 'single' | 'spread' | 'leader';

export interface SessionOptions {
  readonly workerIndex: number;
  readonly load: LoadKind;
  /** Longer than the measured window, so no lease or TTL can end during it. */
  readonly leaseMs: number;
}

export interface Variant {
  readonly label: string;
  readonly placement: Placement;
  openSession(options: SessionOptions): Promise<LockSession>;
}

export interface Deployment {
  readonly variants: readonly Variant[];
  /** The server processes, whose CPU time over each measured window the report gives. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** An empty directory of its own; the caller removes it after `stop`. */
  readonly directory: string;
  readonly nodes: number;
}

export interface Target {
  readonly system: SystemName;
  readonly nodes: number;
  supports(load: LoadKind): boolean;
  start(options: StartOptions): Promise<Deployment>;
}

export function placementsFor(nodes: number): readonly Placement[] {
  return nodes === 1 ? ['single'] : ['spread', 'leader'];
}

export function nodesLabel(nodes: number): string {
  return nodes === 1 ? '1 node' : `${nodes} nodes`;
}

/** Which of `ports` worker `workerIndex` talks to under `placement`. */
export function portFor(options: {
  readonly ports: readonly number[];
  readonly leaderPort: number;
  readonly placement: Placement;
  readonly workerIndex: number;
}): number {
  if (options.placement === 'leader') return options.leaderPort;
  const port = options.ports[options.workerIndex % options.ports.length];
  if (port === undefined) throw new Error('a deployment has no ports');
  return port;
}
