/**
 * Writes sent to a follower go to the leader over the peer link and are answered by the follower
 * (DESIGN.md §1). The follower side (Forwarder) turns a request into a call and the reply back
 * into a result; the leader side (ForwardedCalls) runs the call as its own request. A client that
 * goes away is followed across the hop: the follower sends `cancel`, and the leader takes the
 * request's waiter out of its queue, or releases a fresh grant it had already answered with.
 */
import type { AddMemberRequest, ClusterStatus } from '../api/cluster-service.js';
import type {
  AcquireRequest,
  AcquireResult,
  Grant,
  LockMode,
  RefreshRequest,
  RefreshResult,
  ReleaseRequest,
  ReleaseResult,
} from '../api/lock-service.js';
import { isLockdError, LockdError } from '../errors.js';
import type { NodeId } from '../raft/types.js';
import { Cancellation } from '../util/cancellation.js';
import { isNodeId } from './addresses.js';
import type { UnwantedGrant } from './leader-duties.js';
import type { NodeLogger } from './logger.js';
import type { Scheduler, Timer } from './scheduler.js';
import { clientGoneError } from './waiters.js';

/** What the follower needs of the peer link (PeerTransport.call). */
export type CallPeer = (
  to: NodeId,
  method: string,
  body: unknown,
  timeoutMs: number,
) => Promise<unknown>;

export const forwardingLimits = {
  /** Forwarded acquires a leader runs at once, from all followers together. */
  callsInFlightMax: 10_000,
  /** Answered fresh grants kept for a late `cancel`, and for how long. */
  answeredKeptMax: 10_000,
  /** How long a follower waits for the leader to take a `cancel`. */
  cancelTimeoutMs: 2_000,
} as const;

interface AcquireCall {
  readonly callId: number;
  readonly name: string;
  readonly owner: string | null;
  readonly ttlMs: number | null;
  readonly waitMs: number;
  readonly mode: LockMode;
  readonly limit: number | null;
}

export interface ForwarderOptions {
  readonly call: CallPeer;
  /** A forwarded call may take this long beyond its own wait. */
  readonly requestTimeoutMs: number;
  /** A forwarded membership change may take this long. */
  readonly membershipTimeoutMs: number;
  readonly logger: NodeLogger;
}

export class Forwarder {
  readonly #options: ForwarderOptions;
  #nextCallId = 1;

  constructor(options: ForwarderOptions) {
    this.#options = options;
  }

  async acquire(leader: NodeId, request: AcquireRequest): Promise<AcquireResult> {
    // Gone while this node waited for a leader: nothing to send.
    if (request.signal.aborted) throw clientGoneError();
    const callId = this.#nextCallId++;
    const body: AcquireCall = {
      callId,
      name: request.name,
      owner: request.owner,
      ttlMs: request.ttlMs,
      waitMs: request.waitMs,
      mode: request.mode,
      limit: request.limit,
    };
    const cancel = (): void => {
      this.#options
        .call(leader, 'cancel', { callId }, forwardingLimits.cancelTimeoutMs)
        .catch((error: unknown) =>
          this.#options.logger.warn(
            { leader, callId, err: error },
            'could not cancel a forwarded acquire',
          ),
        );
    };
    request.signal.addEventListener('abort', cancel, { once: true });
    try {
      const timeoutMs = request.waitMs + this.#options.requestTimeoutMs;
      return asResult<AcquireResult>(
        await this.#call(leader, 'acquire', body, timeoutMs),
        acquireOutcomes,
      );
    } catch (error) {
      // The leader may still hold the request in its queue: it must not wait for nobody.
      if (isLockdError(error) && error.code === 'LOCKD_ERR_TIMEOUT') cancel();
      throw error;
    } finally {
      request.signal.removeEventListener('abort', cancel);
    }
  }

  async release(leader: NodeId, request: ReleaseRequest): Promise<ReleaseResult> {
    const body = { name: request.name, owner: request.owner, force: request.force };
    const result = await this.#call(leader, 'release', body, this.#options.requestTimeoutMs);
    return asResult<ReleaseResult>(result, releaseOutcomes);
  }

  async refresh(leader: NodeId, request: RefreshRequest): Promise<RefreshResult> {
    const body = { name: request.name, owner: request.owner, ttlMs: request.ttlMs };
    const result = await this.#call(leader, 'refresh', body, this.#options.requestTimeoutMs);
    return asResult<RefreshResult>(result, refreshOutcomes);
  }

  async addMember(leader: NodeId, request: AddMemberRequest): Promise<ClusterStatus> {
    const body = {
      id: request.id,
      clientAddress: request.clientAddress,
      peerAddress: request.peerAddress,
    };
    return asClusterStatus(
      await this.#call(leader, 'addMember', body, this.#membershipTimeoutMs()),
    );
  }

  async removeMember(leader: NodeId, id: NodeId): Promise<ClusterStatus> {
    return asClusterStatus(
      await this.#call(leader, 'removeMember', { id }, this.#membershipTimeoutMs()),
    );
  }

  #membershipTimeoutMs(): number {
    return this.#options.membershipTimeoutMs + this.#options.requestTimeoutMs;
  }

  async #call(leader: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    try {
      return await this.#options.call(leader, method, body, timeoutMs);
    } catch (error) {
      if (isLockdError(error)) throw error;
      throw new LockdError(
        'LOCKD_ERR_NO_LEADER',
        `The leader (node ${leader}) cannot be reached: ${(error as Error).message}`,
      );
    }
  }
}

/** What the leader runs for a forwarded call: its own requests, never forwarded again. */
export interface LeaderService {
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  release(request: ReleaseRequest): Promise<ReleaseResult>;
  refresh(request: RefreshRequest): Promise<RefreshResult>;
  addMember(request: AddMemberRequest): Promise<ClusterStatus>;
  removeMember(id: NodeId): Promise<ClusterStatus>;
  /** Whether this grant renewed a hold its owner already had (never released as unwanted). */
  isRenewal(grant: Grant): boolean;
  releaseUnwanted(grant: UnwantedGrant): void;
}

interface Answered {
  readonly grant: UnwantedGrant;
  readonly timer: Timer;
}

/** The leader's side: runs forwarded calls, and cancels them when their client went away. */
export class ForwardedCalls {
  readonly #service: LeaderService;
  readonly #scheduler: Scheduler;
  /** How long an answered fresh grant is kept for a `cancel` that crossed the answer. */
  readonly #answeredKeptMs: number;
  readonly #inFlight = new Map<string, Cancellation>();
  readonly #answered = new Map<string, Answered>();

  constructor(options: { service: LeaderService; scheduler: Scheduler; answeredKeptMs: number }) {
    this.#service = options.service;
    this.#scheduler = options.scheduler;
    this.#answeredKeptMs = options.answeredKeptMs;
  }

  /**
   * PeerTransport's onCall. Bad bodies are 400s (the caller is an authenticated member, but its
   * bytes are still checked); async, so that a bad body rejects rather than throws.
   */
  async handle(from: NodeId, method: string, body: unknown): Promise<unknown> {
    switch (method) {
      case 'acquire':
        return this.#acquire(from, asAcquireCall(body));
      case 'cancel':
        this.#cancel(`${from}:${asCancel(body)}`);
        return null;
      case 'release':
        return this.#service.release(asReleaseRequest(body));
      case 'refresh':
        return this.#service.refresh(asRefreshRequest(body));
      case 'addMember':
        return this.#service.addMember(asAddMemberRequest(body));
      case 'removeMember':
        return this.#service.removeMember(asRemoveMember(body));
      default:
        throw badCall(`unknown method ${JSON.stringify(method.slice(0, 40))}`);
    }
  }

  /** The node stops: every forwarded request's client is as good as gone. */
  abortAll(): void {
    for (const controller of this.#inFlight.values()) controller.abort();
    this.#inFlight.clear();
    for (const answered of this.#answered.values()) answered.timer.cancel();
    this.#answered.clear();
  }

  async #acquire(from: NodeId, call: AcquireCall): Promise<AcquireResult> {
    const key = `${from}:${call.callId}`;
    if (this.#inFlight.size >= forwardingLimits.callsInFlightMax || this.#inFlight.has(key)) {
      throw new LockdError('LOCKD_ERR_OVERLOADED', 'Too many forwarded requests; retry shortly');
    }
    // Registered before the first await, so that a `cancel` right behind the call finds it.
    const controller = new Cancellation();
    this.#inFlight.set(key, controller);
    try {
      const { callId: _callId, ...request } = call;
      const result = await this.#service.acquire({ ...request, signal: controller.signal });
      if (result.outcome === 'acquired' && !this.#service.isRenewal(result.grant)) {
        const { name, owner, token } = result.grant;
        this.#keepAnswered(key, { name, owner, token });
      }
      return result;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  #cancel(key: string): void {
    const controller = this.#inFlight.get(key);
    if (controller !== undefined) {
      controller.abort();
      return;
    }
    const answered = this.#answered.get(key);
    if (answered === undefined) return;
    answered.timer.cancel();
    this.#answered.delete(key);
    this.#service.releaseUnwanted(answered.grant);
  }

  #keepAnswered(key: string, grant: UnwantedGrant): void {
    if (this.#answered.size >= forwardingLimits.answeredKeptMax) {
      const oldest = this.#answered.keys().next();
      if (!oldest.done) {
        this.#answered.get(oldest.value)?.timer.cancel();
        this.#answered.delete(oldest.value);
      }
    }
    const timer = this.#scheduler.after(this.#answeredKeptMs, () => this.#answered.delete(key));
    this.#answered.set(key, { grant, timer });
  }
}

// ---- Bodies and results on the wire: checked, since they come from another process ----------

const acquireOutcomes = ['acquired', 'conflict'] as const;
const releaseOutcomes = ['released', 'not-locked', 'not-owner'] as const;
const refreshOutcomes = ['refreshed', 'not-locked', 'not-owner'] as const;

function asResult<T extends { readonly outcome: string }>(
  value: unknown,
  outcomes: readonly string[],
): T {
  const outcome = (value as { outcome?: unknown } | null)?.outcome;
  if (typeof outcome !== 'string' || !outcomes.includes(outcome)) {
    throw new LockdError('LOCKD_ERR_INTERNAL', 'The leader answered a forwarded request oddly');
  }
  return value as T;
}

function asClusterStatus(value: unknown): ClusterStatus {
  const record = value as Partial<ClusterStatus> | null;
  if (typeof record !== 'object' || record === null || !Array.isArray(record.members)) {
    throw new LockdError('LOCKD_ERR_INTERNAL', 'The leader answered a membership change oddly');
  }
  return value as ClusterStatus;
}

function record(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null) throw badCall('the body is not a map');
  return body as Record<string, unknown>;
}

function asAcquireCall(body: unknown): AcquireCall {
  const fields = record(body);
  const { callId, name, owner, ttlMs, waitMs, mode, limit } = fields;
  if (
    !Number.isSafeInteger(callId) ||
    typeof name !== 'string' ||
    !isNullableString(owner) ||
    !isNullableNumber(ttlMs) ||
    typeof waitMs !== 'number' ||
    (mode !== 'exclusive' && mode !== 'shared') ||
    !isNullableNumber(limit)
  ) {
    throw badCall('malformed acquire');
  }
  return { callId: callId as number, name, owner, ttlMs, waitMs, mode, limit };
}

function asCancel(body: unknown): number {
  const { callId } = record(body);
  if (!Number.isSafeInteger(callId)) throw badCall('malformed cancel');
  return callId as number;
}

function asReleaseRequest(body: unknown): ReleaseRequest {
  const { name, owner, force } = record(body);
  if (typeof name !== 'string' || !isNullableString(owner) || typeof force !== 'boolean') {
    throw badCall('malformed release');
  }
  return { name, owner, force };
}

function asRefreshRequest(body: unknown): RefreshRequest {
  const { name, owner, ttlMs } = record(body);
  if (typeof name !== 'string' || typeof owner !== 'string' || !isNullableNumber(ttlMs)) {
    throw badCall('malformed refresh');
  }
  return { name, owner, ttlMs };
}

function asAddMemberRequest(body: unknown): AddMemberRequest {
  const { id, clientAddress, peerAddress } = record(body);
  if (!isNodeId(id) || typeof clientAddress !== 'string' || typeof peerAddress !== 'string') {
    throw badCall('malformed addMember');
  }
  return { id, clientAddress, peerAddress };
}

function asRemoveMember(body: unknown): NodeId {
  const { id } = record(body);
  if (!isNodeId(id)) throw badCall('malformed removeMember');
  return id;
}

function isNullableString(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

function isNullableNumber(value: unknown): value is number | null {
  return value === null || typeof value === 'number';
}

function badCall(detail: string): LockdError {
  return new LockdError('LOCKD_ERR_BAD_REQUEST', `Bad forwarded call: ${detail}`);
}
