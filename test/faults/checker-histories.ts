/**
 * Histories for the checker's tests: a builder for hand-written ones, and a simulator that makes
 * histories linearizable by construction (each operation takes effect at a random point inside its
 * call–return interval, on an exact copy of lockd's lock rules).
 */
import type { FaultEvent, History, Operation, OperationKind, Outcome } from './history.js';

export const conflict: Outcome = { type: 'fail', status: 409, code: 'LOCKD_ERR_LOCK_CONFLICT' };
export const notLocked: Outcome = { type: 'fail', status: 404, code: 'LOCKD_ERR_NOT_LOCKED' };
export const notOwner: Outcome = { type: 'fail', status: 409, code: 'LOCKD_ERR_NOT_OWNER' };
export const lost: Outcome = { type: 'unknown', reason: 'timeout' };

export function ok(fields: { readonly token?: number; readonly holder?: string } = {}): Outcome {
  return { type: 'ok', ...fields };
}

interface Draft {
  readonly kind: OperationKind;
  readonly lock: string;
  readonly owner?: string;
  readonly ttlMs?: number;
  readonly callMs: number;
  readonly returnMs: number;
  readonly outcome: Outcome;
  readonly client?: number;
}

/**
 * Builds a history from operations given as [callMs, returnMs] spans. Ids follow call order (as
 * the runner's do); each owner is its own client, checks are made by client 0.
 */
export class HistoryBuilder {
  readonly #drafts: Draft[] = [];
  readonly #faults: FaultEvent[] = [];
  readonly #lock: string;

  constructor(lock = 'foo') {
    this.#lock = lock;
  }

  acquire(owner: string, span: readonly [number, number], outcome: Outcome, ttlMs?: number): this {
    return this.#add('acquire', owner, span, outcome, ttlMs);
  }

  refresh(owner: string, span: readonly [number, number], outcome: Outcome, ttlMs?: number): this {
    return this.#add('refresh', owner, span, outcome, ttlMs);
  }

  release(owner: string, span: readonly [number, number], outcome: Outcome): this {
    return this.#add('release', owner, span, outcome, undefined);
  }

  check(span: readonly [number, number], outcome: Outcome): this {
    return this.#add('check', undefined, span, outcome, undefined);
  }

  fault(atMs: number, kind: string, description: string): this {
    this.#faults.push({ atMs, kind, description });
    return this;
  }

  build(): History {
    const owners = [...new Set(this.#drafts.flatMap((draft) => draft.owner ?? []))];
    const sorted = [...this.#drafts].sort((left, right) => left.callMs - right.callMs);
    const operations = sorted.map(
      (draft, id): Operation => ({
        ...draft,
        id,
        client: draft.client ?? (draft.owner === undefined ? 0 : owners.indexOf(draft.owner) + 1),
        node: 1,
      }),
    );
    return { seed: 0, nodes: 3, operations, faults: this.#faults, startedAtUnixMs: 0 };
  }

  #add(
    kind: OperationKind,
    owner: string | undefined,
    span: readonly [number, number],
    outcome: Outcome,
    ttlMs: number | undefined,
  ): this {
    const [callMs, returnMs] = span;
    this.#drafts.push({
      kind,
      lock: this.#lock,
      callMs,
      returnMs,
      outcome,
      ...(owner === undefined ? {} : { owner }),
      ...(ttlMs === undefined ? {} : { ttlMs }),
    });
    return this;
  }
}

/** One step of a simulated client: what it asks, and how the simulated cluster treats it. */
export interface ClientStep {
  readonly kind: OperationKind;
  readonly lockIndex: number;
  /** Each client has two owner names, `c<client>-0` and `c<client>-1`. */
  readonly ownerIndex: number;
  readonly ttlMs: number | undefined;
  readonly gapMs: number;
  readonly durationMs: number;
  /** Where in [call, return] it takes effect, as a fraction. */
  readonly pointFraction: number;
  /** The answer is lost (recorded `unknown`); `tookEffect` says whether it still happened. */
  readonly lostAnswer: boolean;
  readonly tookEffect: boolean;
  /** If its lease has run out when this step takes effect, a new leader had extended it first. */
  readonly extendLease: boolean;
}

interface SimulatedHold {
  readonly owner: string;
  readonly token: number;
  readonly ttlMs: number | null;
  readonly expiresAtMs: number | null;
}

interface Pending {
  readonly client: number;
  readonly step: ClientStep;
  readonly owner: string;
  readonly callMs: number;
  readonly returnMs: number;
  readonly pointMs: number;
}

/** lockd's rules for one operation: the answer, and the hold after it. */
function simulateStep(
  hold: SimulatedHold | undefined,
  pending: Pending,
  nextToken: () => number,
): { readonly outcome: Outcome; readonly hold: SimulatedHold | undefined } {
  const { step, owner, pointMs } = pending;
  const lease = (ttlMs: number | null) => ({
    ttlMs,
    expiresAtMs: ttlMs === null ? null : pointMs + ttlMs,
  });
  const own = hold?.owner === owner;
  switch (step.kind) {
    case 'acquire': {
      if (hold === undefined) {
        const granted = { owner, token: nextToken(), ...lease(step.ttlMs ?? null) };
        return { outcome: ok({ token: granted.token }), hold: granted };
      }
      if (!own) return { outcome: conflict, hold };
      return {
        outcome: ok({ token: hold.token }),
        hold: { ...hold, ...lease(step.ttlMs ?? null) },
      };
    }
    case 'refresh':
      if (hold === undefined) return { outcome: notLocked, hold };
      if (!own) return { outcome: notOwner, hold };
      return {
        outcome: ok({ token: hold.token }),
        hold: { ...hold, ...lease(step.ttlMs ?? hold.ttlMs) },
      };
    case 'release':
      if (hold === undefined) return { outcome: notLocked, hold };
      return own ? { outcome: ok(), hold: undefined } : { outcome: notOwner, hold };
    case 'check':
      return hold === undefined
        ? { outcome: notLocked, hold }
        : { outcome: ok({ holder: hold.owner, token: hold.token }), hold };
  }
}

/** The hold at `pointMs`: a lease past its end is gone, unless a new leader extended it. */
function liveHold(hold: SimulatedHold | undefined, pending: Pending): SimulatedHold | undefined {
  if (hold?.expiresAtMs == null || hold.expiresAtMs > pending.pointMs) return hold;
  if (!pending.step.extendLease || hold.ttlMs === null) return undefined;
  return { ...hold, expiresAtMs: pending.pointMs + hold.ttlMs };
}

function scheduleClients(clients: readonly (readonly ClientStep[])[]): Pending[] {
  const pending: Pending[] = [];
  clients.forEach((steps, client) => {
    let clockMs = 0;
    for (const step of steps) {
      const callMs = clockMs + step.gapMs;
      const returnMs = callMs + step.durationMs;
      // A lost answer's effect may come after the runner gave up.
      const spanMs = step.lostAnswer ? step.durationMs * 2 : step.durationMs;
      const pointMs = callMs + step.pointFraction * spanMs;
      pending.push({
        client,
        step,
        owner: `c${client}-${step.ownerIndex}`,
        callMs,
        returnMs,
        pointMs,
      });
      clockMs = returnMs;
    }
  });
  return pending;
}

/**
 * Runs the clients' steps against lockd's rules, each taking effect at its point, and records the
 * history. Linearizable by construction: the points are a linearization.
 */
export function simulateHistory(clients: readonly (readonly ClientStep[])[]): History {
  return simulateRun(clients).history;
}

/** A simulated run: the history, and the ids of the operations that took effect, in effect order. */
export interface SimulatedRun {
  readonly history: History;
  readonly effectOrder: readonly { readonly id: number; readonly pointMs: number }[];
}

export function simulateRun(clients: readonly (readonly ClientStep[])[]): SimulatedRun {
  const pending = scheduleClients(clients);
  const holds = new Map<number, SimulatedHold>();
  let raftIndex = 0;
  // Every write takes a Raft entry; a grant's token is its entry's index.
  const nextToken = (): number => ++raftIndex;
  const outcomes = new Map<Pending, Outcome>();
  const byPoint = [...pending].sort((left, right) => left.pointMs - right.pointMs);
  for (const item of byPoint) {
    const hold = liveHold(holds.get(item.step.lockIndex), item);
    const applied =
      item.step.lostAnswer && !item.step.tookEffect
        ? undefined
        : simulateStep(hold, item, nextToken);
    // Other entries (this operation's own, other locks' writes) take indexes too: tokens skip.
    raftIndex += 1;
    const after = applied === undefined ? hold : applied.hold;
    if (after === undefined) holds.delete(item.step.lockIndex);
    else holds.set(item.step.lockIndex, after);
    outcomes.set(item, item.step.lostAnswer ? lost : (applied?.outcome ?? lost));
  }
  const byCall = [...pending].sort(
    (left, right) => left.callMs - right.callMs || left.client - right.client,
  );
  const operations = byCall.map(
    (item, id): Operation => ({
      id,
      client: item.client,
      node: 1 + (id % 3),
      kind: item.step.kind,
      lock: `lock-${item.step.lockIndex}`,
      ...(item.step.kind === 'check' ? {} : { owner: item.owner }),
      ...(item.step.ttlMs === undefined ||
      (item.step.kind !== 'acquire' && item.step.kind !== 'refresh')
        ? {}
        : { ttlMs: item.step.ttlMs }),
      callMs: item.callMs,
      returnMs: item.returnMs,
      outcome: outcomes.get(item) ?? lost,
    }),
  );
  const idOf = new Map(byCall.map((item, id) => [item, id]));
  const effectOrder = byPoint.flatMap((item) =>
    item.step.lostAnswer && !item.step.tookEffect
      ? []
      : [{ id: idOf.get(item) ?? -1, pointMs: item.pointMs }],
  );
  return {
    history: { seed: 0, nodes: 3, operations, faults: [], startedAtUnixMs: 0 },
    effectOrder,
  };
}

/** A small seeded generator (mulberry32) for histories too large to shrink. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const kindsByWeight: readonly OperationKind[] = [
  ...Array<OperationKind>(7).fill('acquire'),
  ...Array<OperationKind>(4).fill('refresh'),
  ...Array<OperationKind>(5).fill('release'),
  ...Array<OperationKind>(4).fill('check'),
];

/**
 * A large random workload: `operations` steps spread over `clients` and `locks`, with lost answers
 * on `lostCheckFraction` of the checks and `lostWriteFraction` of the other operations.
 */
export function randomWorkload(options: {
  readonly seed: number;
  readonly operations: number;
  readonly clients: number;
  readonly locks: number;
  readonly lostCheckFraction: number;
  readonly lostWriteFraction: number;
}): ClientStep[][] {
  const random = seededRandom(options.seed);
  const pick = (count: number): number => Math.floor(random() * count);
  const clients: ClientStep[][] = Array.from({ length: options.clients }, () => []);
  for (let index = 0; index < options.operations; index++) {
    const kind = kindsByWeight[pick(kindsByWeight.length)] ?? 'check';
    const lostFraction = kind === 'check' ? options.lostCheckFraction : options.lostWriteFraction;
    clients[index % options.clients]?.push({
      kind,
      lockIndex: pick(options.locks),
      ownerIndex: pick(2),
      ttlMs: random() < 0.5 ? undefined : 50 + pick(200),
      gapMs: pick(20),
      durationMs: 1 + pick(30),
      pointFraction: random(),
      lostAnswer: random() < lostFraction,
      tookEffect: random() < 0.5,
      extendLease: random() < 0.2,
    });
  }
  return clients;
}
