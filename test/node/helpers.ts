/** A LockNode on MemoryStorage with a fake clock and scheduler, and request builders. */
import type {
  AcquireRequest,
  Limits,
  LockEvent,
  RefreshRequest,
  ReleaseRequest,
} from '../../src/api/lock-service.js';
import { defaultLimits } from '../../src/node/limits.js';
import { LockNode, type NodeLogger } from '../../src/node/lock-node.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { FakeTime } from './fake-time.js';

export const tickMs = 100;

export interface LogRecord {
  readonly level: 'info' | 'warn' | 'error';
  readonly object: object;
  readonly message: string;
}

export interface TestNode {
  readonly node: LockNode;
  readonly time: FakeTime;
  readonly storage: MemoryStorage;
  readonly logs: LogRecord[];
  readonly fatal: unknown[];
}

export interface StartOptions {
  readonly storage?: MemoryStorage;
  readonly time?: FakeTime;
  readonly limits?: Partial<Limits>;
  readonly eventHistoryCapacity?: number;
  readonly snapshotEvery?: number;
}

/** Starts a node and waits (moving fake time tick by tick) until it leads and is ready. */
export async function startLeader(options: StartOptions = {}): Promise<TestNode> {
  const started = await startNode(options);
  await untilLeaderReady(started);
  return started;
}

export async function startNode(options: StartOptions = {}): Promise<TestNode> {
  const time = options.time ?? new FakeTime();
  const storage = options.storage ?? new MemoryStorage();
  const logs: LogRecord[] = [];
  const fatal: unknown[] = [];
  const logger: NodeLogger = {
    info: (object, message) => logs.push({ level: 'info', object, message }),
    warn: (object, message) => logs.push({ level: 'warn', object, message }),
    error: (object, message) => logs.push({ level: 'error', object, message }),
  };
  const node = await LockNode.start({
    id: 1,
    members: [1],
    storage,
    tickMs,
    electionTicks: 10,
    heartbeatTicks: 1,
    seed: 7,
    logger,
    onFatal: (error) => fatal.push(error),
    clock: time.clock,
    limits: { ...defaultLimits, ...options.limits },
    scheduler: time,
    ...(options.eventHistoryCapacity === undefined
      ? {}
      : { eventHistoryCapacity: options.eventHistoryCapacity }),
    ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }),
  });
  return { node, time, storage, logs, fatal };
}

export async function untilLeaderReady({ node, time }: TestNode): Promise<void> {
  for (let tick = 0; tick < 100; tick++) {
    if (node.status().leaderReady) return;
    time.advance(tickMs);
    await node.idle();
  }
  throw new Error(`no ready leader after 100 ticks: ${JSON.stringify(node.status())}`);
}

/** Moves fake time by `ms` (firing due timers) and waits until the node has nothing left to do. */
export async function advance({ node, time }: TestNode, ms: number): Promise<void> {
  time.advance(ms);
  await node.idle();
}

export interface AcquireOptions extends Partial<Omit<AcquireRequest, 'name'>> {}

export function acquireRequest(name: string, options: AcquireOptions = {}): AcquireRequest {
  return {
    name,
    owner: null,
    ttlMs: null,
    waitMs: 0,
    mode: 'exclusive',
    limit: null,
    signal: new AbortController().signal,
    ...options,
  };
}

export function releaseRequest(
  name: string,
  options: Partial<Omit<ReleaseRequest, 'name'>> = {},
): ReleaseRequest {
  return { name, owner: null, force: false, ...options };
}

export function refreshRequest(
  name: string,
  owner: string,
  ttlMs: number | null = null,
): RefreshRequest {
  return { name, owner, ttlMs };
}

/** Records every event from now on. */
export function recordEvents(node: LockNode, prefix = ''): LockEvent[] {
  const events: LockEvent[] = [];
  node.subscribe({ name: null, prefix }, null, (event) => events.push(event));
  return events;
}

/** Events as short strings, `type owner token id`, for exact comparisons. */
export function brief(events: readonly LockEvent[]): string[] {
  return events.map(
    (event) => `${event.type} ${event.name} ${event.owner ?? '-'} ${event.token} ${event.id}`,
  );
}

export function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
