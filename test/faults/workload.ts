/**
 * The workload of a fault run: concurrent clients, each making one operation at a time on a few
 * contended locks, each operation through a node picked at random, every one recorded as an
 * Operation of the history (history.ts) with what it answered.
 *
 * A request refused at connect (the node is down) never reached lockd: it is not an operation,
 * and the client tries another node at once, as a client with several endpoints would.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../../src/util/assert.js';
import type { Operation, OperationKind, Outcome } from './history.js';
import { type HttpResult, httpRequest, parseJsonObject } from './http.js';
import type { MsRange } from './nemesis.js';
import { RandomStream, RunRandom } from './random.js';

export interface WorkloadOptions {
  readonly seed: number;
  readonly clients: number;
  readonly locks: number;
  readonly ttlMs: MsRange;
  /** Of the acquires, this percentage waits (for up to `waitMs`) instead of answering 409 at once. */
  readonly waitPercent: number;
  readonly waitMs: MsRange;
  /** lockd's --request-timeout-ms: a request's answer may take this long past its wait. */
  readonly serverRequestTimeoutMs: number;
  /** A client rests up to this long between operations. */
  readonly thinkMsMax: number;
}

/** How long past the server's own bound a client waits before giving up on an answer. */
const answerMarginMs = 2_000;
/** When every node refuses (all are down), a client rests this long before trying again. */
const allRefusedRestMs = 200;
/** Operations a run records at most; the workload stops there. */
export const operationsMax = 500_000;

export function lockNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `lock-${index}`);
}

export function ownerOf(client: number): string {
  return `c${client}`;
}

/** The operations of a run, ids given in order of call. */
export class HistoryRecorder {
  readonly #operations: Operation[] = [];
  readonly #clock: () => number;
  #nextId = 0;
  /** Requests refused at connect, not recorded as operations. */
  refusedRequests = 0;
  /** Answers the workload does not expect (a 400 means a bug here; a 500, one in lockd). */
  readonly unexpectedAnswers: string[] = [];

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  get full(): boolean {
    return this.#nextId >= operationsMax;
  }

  now(): number {
    return this.#clock();
  }

  /** Takes the next id; call it when the operation is sent. */
  nextId(): number {
    return this.#nextId++;
  }

  add(operation: Operation): void {
    this.#operations.push(operation);
  }

  noteUnexpected(note: string): void {
    if (this.unexpectedAnswers.length < 100) this.unexpectedAnswers.push(note);
  }

  /**
   * The operations in order of call, numbered from 0 without gaps (ids taken by requests refused
   * at connect leave holes until then).
   */
  operations(): Operation[] {
    return [...this.#operations]
      .sort((a, b) => a.id - b.id)
      .map((operation, index) => ({ ...operation, id: index }));
  }
}

/** Where requests go: the node ids and their client ports. */
export interface Targets {
  readonly nodeIds: readonly number[];
  clientPort(id: number): number;
}

/** What one operation asks. */
export interface Step {
  readonly kind: OperationKind;
  readonly lock: string;
  readonly owner?: string;
  readonly ttlMs?: number;
  readonly waitMs?: number;
}

/** What a client believes of a lock: it holds it, it may (an answer was lost), or it does not. */
type Belief = 'held' | 'maybe' | 'free';

export interface ClientContext {
  readonly client: number;
  readonly options: WorkloadOptions;
  readonly targets: Targets;
  readonly recorder: HistoryRecorder;
  /** True once the client should finish its current operation and stop. */
  readonly stopping: () => boolean;
}

/** One client: operations one at a time until told to stop. */
export async function runClient(context: ClientContext): Promise<void> {
  const { options, client } = context;
  const random = new RunRandom(options.seed, RandomStream.clientBase + client);
  const names = lockNames(options.locks);
  const beliefs = new Map<string, Belief>();
  while (!context.stopping() && !context.recorder.full) {
    const lock = random.pick(names);
    const belief = beliefs.get(lock) ?? 'free';
    const step = chooseStep(random, { lock, owner: ownerOf(client), belief, options });
    const operation = await perform(context, random, step);
    if (operation === undefined) {
      await sleep(allRefusedRestMs);
      continue;
    }
    beliefs.set(lock, nextBelief(belief, operation));
    await sleep(random.between(0, options.thinkMsMax));
  }
}

function chooseStep(
  random: RunRandom,
  input: {
    readonly lock: string;
    readonly owner: string;
    readonly belief: Belief;
    readonly options: WorkloadOptions;
  },
): Step {
  const { lock, owner, belief, options } = input;
  const roll = random.nextInt(100);
  const ttlMs = random.between(options.ttlMs.min, options.ttlMs.max);
  if (belief === 'free') {
    if (roll >= 60) return { kind: 'check', lock };
    const waits = random.percent(options.waitPercent);
    return waits
      ? {
          kind: 'acquire',
          lock,
          owner,
          ttlMs,
          waitMs: random.between(options.waitMs.min, options.waitMs.max),
        }
      : { kind: 'acquire', lock, owner, ttlMs };
  }
  // Held, or maybe held: the same owner again is safe whatever happened (re-acquire is idempotent).
  if (roll < 30) return { kind: 'refresh', lock, owner, ttlMs };
  if (roll < 65) return { kind: 'release', lock, owner };
  if (roll < 75) return { kind: 'acquire', lock, owner, ttlMs };
  return { kind: 'check', lock };
}

function nextBelief(belief: Belief, operation: Operation): Belief {
  const { outcome } = operation;
  if (outcome.type === 'unknown') return operation.kind === 'check' ? belief : 'maybe';
  switch (operation.kind) {
    case 'acquire':
    case 'refresh':
      return outcome.type === 'ok' ? 'held' : 'free';
    case 'release':
      return 'free';
    case 'check':
      // Free or another's: not ours now. A lost waiting acquire may still grant it later; the
      // client then acquires again as the same owner, which is safe, and its lease bounds it.
      return outcome.type === 'ok' && outcome.holder === ownerOf(operation.client)
        ? 'held'
        : 'free';
  }
}

/**
 * Sends the step to a random node (another one if refused, each node once), records it and
 * returns the operation; undefined when every node refused.
 */
export async function perform(
  context: Pick<ClientContext, 'client' | 'targets' | 'recorder' | 'options'>,
  random: RunRandom,
  step: Step,
): Promise<Operation | undefined> {
  const { recorder } = context;
  const candidates = random.shuffled(context.targets.nodeIds);
  for (const node of candidates) {
    const id = recorder.nextId();
    const callMs = recorder.now();
    const result = await httpRequest({
      port: context.targets.clientPort(node),
      ...requestFor(step),
      timeoutMs: (step.waitMs ?? 0) + context.options.serverRequestTimeoutMs + answerMarginMs,
    });
    if (result.type === 'refused') {
      recorder.refusedRequests++;
      continue;
    }
    const outcome = outcomeOf(step.kind, result, recorder);
    const operation: Operation = {
      id,
      client: context.client,
      node,
      ...step,
      callMs,
      returnMs: recorder.now(),
      outcome,
    };
    recorder.add(operation);
    return operation;
  }
  return undefined;
}

function requestFor(step: Step): { method: 'GET' | 'POST' | 'DELETE'; path: string } {
  const name = encodeURIComponent(step.lock);
  const query = new URLSearchParams();
  if (step.owner !== undefined && step.kind !== 'check') query.set('owner', step.owner);
  if (step.ttlMs !== undefined) query.set('ttl', String(step.ttlMs));
  if (step.waitMs !== undefined) query.set('wait', String(step.waitMs));
  const search = query.size === 0 ? '' : `?${query.toString()}`;
  switch (step.kind) {
    case 'acquire':
      return { method: 'POST', path: `/lock/${name}${search}` };
    case 'refresh':
      return { method: 'POST', path: `/lock/${name}/refresh${search}` };
    case 'release':
      return { method: 'DELETE', path: `/lock/${name}${search}` };
    case 'check':
      return { method: 'GET', path: `/lock/${name}` };
  }
}

/** The answers each kind expects as definite failures (status and Lockd-Error-Code). */
const expectedFailures: Readonly<Record<OperationKind, readonly string[]>> = {
  acquire: ['409 LOCKD_ERR_LOCK_CONFLICT'],
  refresh: ['404 LOCKD_ERR_NOT_LOCKED', '409 LOCKD_ERR_NOT_OWNER'],
  release: ['404 LOCKD_ERR_NOT_LOCKED', '409 LOCKD_ERR_NOT_OWNER'],
  check: ['404 LOCKD_ERR_NOT_LOCKED', '404 LOCKD_ERR_NOT_FOUND', '404 undefined'],
};

/** What the answer means for the history. */
export function outcomeOf(
  kind: OperationKind,
  result: Exclude<HttpResult, { type: 'refused' }>,
  recorder: Pick<HistoryRecorder, 'noteUnexpected'>,
): Outcome {
  if (result.type === 'error') return { type: 'unknown', reason: result.reason };
  const { status, errorCode } = result;
  if (status >= 500) return { type: 'unknown', reason: `${status} ${errorCode ?? ''}`.trim() };
  if (status === 200) return okOutcome(kind, result.body, recorder);
  if (!expectedFailures[kind].includes(`${status} ${errorCode}`))
    recorder.noteUnexpected(`${kind}: ${status} ${errorCode ?? '-'} ${result.body.trim()}`);
  return { type: 'fail', status, code: errorCode ?? `HTTP_${status}` };
}

function okOutcome(
  kind: OperationKind,
  body: string,
  recorder: Pick<HistoryRecorder, 'noteUnexpected'>,
): Outcome {
  if (kind === 'release') return { type: 'ok' };
  const parsed = parseJsonObject(body);
  const source = kind === 'check' ? firstHolder(parsed) : parsed;
  const token = source?.token;
  if (typeof token !== 'number') {
    // lockd said yes without the token its answers always carry: record what is certain.
    recorder.noteUnexpected(`${kind}: 200 without a token: ${body.trim()}`);
    return { type: 'unknown', reason: '200 without a token' };
  }
  if (kind === 'check') {
    const holder = source?.owner;
    return typeof holder === 'string' ? { type: 'ok', token, holder } : { type: 'ok', token };
  }
  // lockd writes the lease's end as an ISO time; the history keeps Unix milliseconds.
  const expiresAt =
    typeof source?.expiresAt === 'string' ? Date.parse(source.expiresAt) : Number.NaN;
  return Number.isFinite(expiresAt) ? { type: 'ok', token, expiresAt } : { type: 'ok', token };
}

function firstHolder(
  view: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  const holders = view?.holders;
  if (!Array.isArray(holders) || holders.length === 0) return undefined;
  const first: unknown = holders[0];
  return typeof first === 'object' && first !== null
    ? (first as Record<string, unknown>)
    : undefined;
}

/**
 * After the run: one check of every lock, through one node, repeated (bounded) until each has a
 * definite answer, so the history ends with the state the cluster settled on.
 */
export async function finalChecks(input: {
  readonly recorder: HistoryRecorder;
  readonly client: number;
  readonly node: number;
  readonly port: number;
  readonly locks: number;
  readonly serverRequestTimeoutMs: number;
  readonly deadlineMs: number;
}): Promise<void> {
  const { recorder } = input;
  for (const lock of lockNames(input.locks)) {
    let settled = false;
    for (
      let attempt = 0;
      attempt < 20 && !settled && recorder.now() < input.deadlineMs;
      attempt++
    ) {
      const id = recorder.nextId();
      const callMs = recorder.now();
      const result = await httpRequest({
        port: input.port,
        method: 'GET',
        path: `/lock/${encodeURIComponent(lock)}`,
        timeoutMs: input.serverRequestTimeoutMs + answerMarginMs,
      });
      assert(result.type !== 'refused', `node ${input.node} refused the final check`);
      const outcome = outcomeOf('check', result, recorder);
      const returnMs = recorder.now();
      recorder.add({
        id,
        client: input.client,
        node: input.node,
        kind: 'check',
        lock,
        callMs,
        returnMs,
        outcome,
      });
      settled = outcome.type !== 'unknown';
      if (!settled) await sleep(200);
    }
    if (!settled) throw new Error(`the final check of ${lock} got no definite answer`);
  }
}
