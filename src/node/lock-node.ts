/**
 * The host of one lockd node: owns the Raft core, the storage, the peer link, the lock state
 * machine and the timers, and turns client calls into proposals whose results come back when their
 * entries are applied. The parts, one file each:
 * - ready-loop.ts: runs the Ready contract (persist, send, restore, apply, answer reads, advance);
 * - routing.ts: a write goes to the leader, a read waits for its quorum confirmation;
 * - leader-duties.ts, leader-requests.ts: what only the leader does, and writes as it serves them;
 * - forwarding.ts: writes sent to a follower, forwarded to the leader over the peer link;
 * - reads.ts: linearizable reads (ReadIndex) on any node;
 * - conditions.ts: bounded waits for a leader (during an election) and the like;
 * - membership.ts (with address-book.ts, peers.ts, node-entries.ts): members and their addresses;
 * - replicated-state.ts (with node-snapshot.ts): the lock state machine, applying each batch,
 *   snapshots taken every `snapshotEvery` entries and restored on start or when the leader sends one.
 */
import type { AddMemberRequest, ClusterService, ClusterStatus } from '../api/cluster-service.js';
import type {
  AcquireRequest,
  AcquireResult,
  EventFilter,
  EventSubscription,
  Limits,
  ListRequest,
  ListResult,
  LockEvent,
  LockService,
  LockSummary,
  LockView,
  RefreshRequest,
  RefreshResult,
  ReleaseRequest,
  ReleaseResult,
} from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import { createRandom } from '../raft/random.js';
import { RawNode } from '../raft/raw-node.js';
import type { Message, NodeId, RaftStatus } from '../raft/types.js';
import type { RaftStorage } from '../storage/storage.js';
import { PeerTransport } from '../transport/transport.js';
import { assert } from '../util/assert.js';
import { formatAddress, isNodeId, type MemberAddresses, type MemberContact } from './addresses.js';
import { ConditionWaiters } from './conditions.js';
import { EventHistory, eventHistoryDefaults } from './events.js';
import { ForwardedCalls, Forwarder, type LeaderService } from './forwarding.js';
import { LeaderDuties } from './leader-duties.js';
import { LeaderRequests } from './leader-requests.js';
import {
  assertValidLimits,
  checkAcquireRequest,
  checkName,
  checkRefreshRequest,
  checkReleaseRequest,
  listLimitMax,
} from './limits.js';
import type { NodeLogger } from './logger.js';
import { checkContact, Membership } from './membership.js';
import { noLeaderError, Proposer } from './proposer.js';
import { ReadBarrier } from './reads.js';
import { ReadyLoop } from './ready-loop.js';
import { ReplicatedState } from './replicated-state.js';
import { Router } from './routing.js';
import { type Scheduler, systemScheduler, type Timer } from './scheduler.js';
import { holderView } from './views.js';
import { clientGoneError } from './waiters.js';

export type { MemberAddresses, MemberContact, NodeAddress } from './addresses.js';
export type { NodeLogger } from './logger.js';

export interface ClusterOptions {
  /** This node's addresses; its peer link listens on `self.peer` (port 0: any free port). */
  readonly self: MemberAddresses;
  /**
   * The voters of the cluster as first started, this node included, with their addresses (a
   * port 0 means "not known yet": see learnMembers). Empty for a node joining a running cluster:
   * it knows only itself until it is told the members (learnMembers) and the leader reaches it.
   * Used only on the first start: after that the log and snapshots say who the members are.
   */
  readonly members: ReadonlyMap<NodeId, MemberAddresses>;
  /** The shared cluster secret of the peer link. */
  readonly secret: Uint8Array;
  /** Test builds only: lets setPeerFaults() drop peer traffic. */
  readonly allowFaultInjection: boolean;
}

export interface LockNodeOptions {
  readonly id: NodeId;
  /**
   * Without `cluster`: the voters, which can only be this node (the default). Kept for callers of
   * the single-node build; a cluster's members are in `cluster.members`.
   */
  readonly members?: readonly NodeId[];
  /** Absent: a single node without a peer link. */
  readonly cluster?: ClusterOptions;
  readonly storage: RaftStorage;
  /** Wall-clock length of one Raft tick. */
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Seeds the Raft core's randomized election timeouts. */
  readonly seed: number;
  readonly logger: NodeLogger;
  /** Called once if the node hits an error it cannot continue after (e.g. a failed fsync). */
  readonly onFatal: (error: unknown) => void;
  /** The wall clock, epoch milliseconds (Date.now): the leader stamps every command with it. */
  readonly clock: () => number;
  readonly limits: Limits;
  /** Timers (ticks, lease expiry, wait deadlines); tests pass a fake one. Default: setTimeout. */
  readonly scheduler?: Scheduler;
  /** How many recent events are kept for Last-Event-ID replay (default 10 000). */
  readonly eventHistoryCapacity?: number;
  /** A snapshot is taken, and the log compacted, every this many applied entries (default 10 000). */
  readonly snapshotEvery?: number;
  /**
   * The api's request time-out (default 10 000). A request waits at most half of it for a leader
   * (during an election) before it is answered 503 with Retry-After, so that the node's answer
   * comes before the api's own time-out; a linearizable read waits at most this long for its
   * confirmation; a forwarded write at most this long beyond its own wait.
   */
  readonly requestTimeoutMs?: number;
  /** The longest one membership change may take, the new member's catch-up included (default 30 000). */
  readonly membershipTimeoutMs?: number;
}

export const lockNodeDefaults = {
  snapshotEvery: 10_000,
  requestTimeoutMs: 10_000,
  membershipTimeoutMs: 30_000,
} as const;

/** A page of `list` scans at most this many names beyond its limit (names whose holds all ran out). */
const listScanSlack = 1_000;

/**
 * How long a leader's commit index waits for a batch to carry it before it is sent alone: longer
 * than a client's turn between two writes on one machine (about a millisecond), short beside the
 * heartbeat that would carry it otherwise.
 */
export const commitBroadcastDelayMs = 2;

/**
 * Every ready batch is persisted with one write (group commit) before its messages are sent and
 * anything is applied. Writes go to the leader (forwarded from a follower); linearizable reads are
 * answered by any node once it has applied what a quorum confirmed; events come from applying, so
 * subscriptions work on every node.
 */
export class LockNode implements LockService, ClusterService {
  readonly #raft: RawNode;
  readonly #storage: RaftStorage;
  readonly #options: LockNodeOptions;
  readonly #scheduler: Scheduler;
  readonly #history: EventHistory;
  readonly #proposer: Proposer;
  readonly #duties: LeaderDuties;
  readonly #leaderRequests: LeaderRequests;
  readonly #conditions: ConditionWaiters;
  readonly #reads: ReadBarrier;
  readonly #membership: Membership;
  readonly #readyLoop: ReadyLoop;
  readonly #router: Router;
  readonly #state: ReplicatedState;
  readonly #calls: ForwardedCalls;
  readonly #requestTimeoutMs: number;
  readonly limits: Limits;
  #transport: PeerTransport | undefined;
  #forwarder: Forwarder | undefined;
  #ticker: Timer | undefined;
  /** Armed while followers have not been sent the leader's commit index. */
  #commitBroadcast: Timer | undefined;
  #failed = false;
  #stopping = false;

  private constructor(options: LockNodeOptions, raft: RawNode) {
    this.#options = options;
    this.#storage = options.storage;
    this.#raft = raft;
    this.limits = options.limits;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? lockNodeDefaults.requestTimeoutMs;
    this.#history = new EventHistory({
      capacity: options.eventHistoryCapacity ?? eventHistoryDefaults.capacity,
      maxSubscribers: eventHistoryDefaults.maxSubscribers,
      onSubscriberError: (error) =>
        options.logger.error({ err: error }, 'an event subscriber threw: it was dropped'),
    });
    const scheduleReady = () => this.#readyLoop.schedule();
    this.#proposer = new Proposer({
      raft,
      refusal: () => this.#refusal(),
      scheduleReady,
      scheduler: this.#scheduler,
      commitTimeoutMs: this.#requestTimeoutMs,
    });
    const stamp = () => this.#stamp();
    const now = () => this.#now();
    const locks = () => this.#state.locks;
    this.#duties = new LeaderDuties({
      raft,
      proposer: this.#proposer,
      scheduler: this.#scheduler,
      logger: options.logger,
      limits: options.limits,
      locks,
      stamp,
      now,
      serving: () => this.#refusal() === undefined,
    });
    this.#leaderRequests = new LeaderRequests({
      proposer: this.#proposer,
      duties: this.#duties,
      limits: options.limits,
      locks,
      stamp,
      now,
      requireLeader: () => this.#requireLeader(),
    });
    this.#conditions = new ConditionWaiters(this.#scheduler);
    this.#reads = new ReadBarrier({
      scheduler: this.#scheduler,
      readIndex: (requestId) => raft.readIndex(requestId),
      appliedIndex: () => this.#state.locks.appliedIndex,
      scheduleReady,
      maxPendingReads: 4096,
    });
    this.#membership = new Membership({
      id: options.id,
      raft,
      self: () => this.#selfContact(),
      conditions: this.#conditions,
      scheduler: this.#scheduler,
      logger: options.logger,
      clock: options.clock,
      membershipTimeoutMs: options.membershipTimeoutMs ?? lockNodeDefaults.membershipTimeoutMs,
      scheduleReady,
      isLeader: () => this.#duties.isLeader(),
      isReady: () => this.#duties.isReady(),
      appliedIndex: () => this.#state.locks.appliedIndex,
    });
    this.#router = new Router({
      id: options.id,
      raft,
      duties: this.#duties,
      membership: this.#membership,
      conditions: this.#conditions,
      reads: this.#reads,
      requestTimeoutMs: this.#requestTimeoutMs,
    });
    this.#calls = new ForwardedCalls({
      service: this.#leaderService(),
      scheduler: this.#scheduler,
      answeredKeptMs: this.#requestTimeoutMs,
    });
    this.#state = new ReplicatedState({
      raft,
      storage: options.storage,
      logger: options.logger,
      history: this.#history,
      proposer: this.#proposer,
      duties: this.#duties,
      membership: this.#membership,
      reads: this.#reads,
      conditions: this.#conditions,
      snapshotEvery: options.snapshotEvery ?? lockNodeDefaults.snapshotEvery,
      transport: () => this.#transport,
    });
    this.#readyLoop = new ReadyLoop(raft, {
      handle: (ready) => this.#state.handleReady(ready),
      afterAdvance: async () => {
        await this.#state.afterAdvance();
        this.#armCommitBroadcast();
      },
      running: () => !this.#stopping && !this.#failed,
      onError: (error) => this.#fail(error),
    });
  }

  /**
   * Loads the persisted state (snapshot and log), starts the peer link, replays the log into the
   * state machine, then starts ticking.
   */
  static async start(options: LockNodeOptions): Promise<LockNode> {
    assertValidLimits(options.limits);
    const voters = bootstrapVoters(options);
    const persisted = await options.storage.load();
    const raft = new RawNode({
      id: options.id,
      peers: voters,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: createRandom(options.seed),
      persisted,
      // A leader's appends leave before its own fsync, which then overlaps its followers'.
      earlyMessages: true,
      // A commit index rides on the next batch (see #armCommitBroadcast).
      deferCommitBroadcast: true,
    });
    const node = new LockNode(options, raft);
    if (persisted.snapshot !== undefined) node.#state.restore(persisted.snapshot);
    node.#learnConfiguredMembers();
    if (options.cluster !== undefined) await node.#startTransport(options.cluster);
    try {
      await node.#readyLoop.runNow();
    } catch (error) {
      await node.#transport?.close();
      throw error;
    }
    assert(
      node.#state.locks.appliedIndex >= persisted.hardState.commit,
      'the replay must reach the persisted commit index before the node serves',
    );
    node.#scheduleTick();
    options.logger.info({ ...raft.status(), locks: node.#state.locks.size }, 'raft node started');
    return node;
  }

  // ---- LockService ------------------------------------------------------------------------------

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertServing();
    checkAcquireRequest(request, this.limits);
    if (request.signal.aborted) throw clientGoneError();
    const leader = this.#router.writeTarget() ?? (await this.#router.leaderForWrite());
    if (leader === this.#options.id) return this.#leaderRequests.acquire(request);
    return this.#forwarderTo().acquire(leader, request);
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    this.#assertServing();
    checkReleaseRequest(request, this.limits);
    const leader = this.#router.writeTarget() ?? (await this.#router.leaderForWrite());
    if (leader === this.#options.id) return this.#leaderRequests.release(request);
    return this.#forwarderTo().release(leader, request);
  }

  async refresh(request: RefreshRequest): Promise<RefreshResult> {
    this.#assertServing();
    checkRefreshRequest(request, this.limits);
    const leader = this.#router.writeTarget() ?? (await this.#router.leaderForWrite());
    if (leader === this.#options.id) return this.#leaderRequests.refresh(request);
    return this.#forwarderTo().refresh(leader, request);
  }

  /**
   * Answers from the applied state, hiding holds whose lease ran out. Without `stale`, only once
   * a quorum confirmed that the state includes every write acknowledged so far (ReadIndex).
   * Waiters are known on the leader only (a follower shows none).
   *
   * A lease has run out for a read when it has for the log: at the state machine's time (the
   * latest stamp applied), not at this node's clock. A refresh stamped before the lease's end may
   * commit after it (a slow disk, a slow follower); it then renews the hold, and a read that had
   * judged by the clock would have shown the lock free in between, and the same holding back
   * after it, which no single order of events explains. Judged by the log, the lock shows as held
   * until the leader's expire entry (or any later-stamped entry) applies, a few ms past the end.
   */
  async describe(
    name: string,
    options: { readonly stale: boolean },
  ): Promise<LockView | undefined> {
    this.#assertServing();
    checkName(name);
    if (!options.stale) await this.#router.linearizable();
    const lock = this.#state.locks.live(name, this.#state.locks.timeMs);
    if (lock === undefined) return undefined;
    return {
      name,
      mode: lock.mode,
      limit: lock.limit,
      holders: lock.holders.map(holderView),
      waiters: this.#duties.waiting.views(name),
    };
  }

  /** Sorted by name; never sorts: walks the state machine's name index from the page's start. */
  async list(request: ListRequest): Promise<ListResult> {
    this.#assertServing();
    if (!Number.isSafeInteger(request.limit) || request.limit < 1 || request.limit > listLimitMax) {
      throw new LockdError('LOCKD_ERR_BAD_REQUEST', `limit must be 1 to ${listLimitMax}`);
    }
    await this.#router.linearizable();
    // As in describe: leases run out at the log's time, not this node's clock.
    const now = this.#state.locks.timeMs;
    const { prefix, after, limit } = request;
    const startAfter = after >= prefix ? after : undefined;
    const names =
      startAfter === undefined
        ? this.#state.locks.names(prefix, false)
        : this.#state.locks.names(startAfter, true);
    const locks: LockSummary[] = [];
    let scanned = 0;
    let lastScanned: string | undefined;
    for (const name of names) {
      if (!name.startsWith(prefix)) return { locks, next: null };
      if (locks.length === limit || scanned === limit + listScanSlack) {
        return { locks, next: lastScanned ?? null };
      }
      scanned++;
      lastScanned = name;
      const lock = this.#state.locks.live(name, now);
      if (lock === undefined) continue;
      const holders = lock.holders.map(holderView);
      locks.push({ name, mode: lock.mode, holders, waiters: this.#duties.waiting.count(name) });
    }
    return { locks, next: null };
  }

  subscribe(
    filter: EventFilter,
    lastEventId: string | null,
    onEvent: (event: LockEvent) => void,
  ): EventSubscription {
    this.#assertServing();
    return this.#history.subscribe(filter, lastEventId, onEvent);
  }

  leaderClientAddress(): string | null {
    const leader = this.#router.writeTarget();
    if (leader === undefined || leader === this.#options.id) return null;
    const address = this.#membership.book.get(leader)?.clientAddress;
    return address === undefined || address === '' ? null : address;
  }

  // ---- ClusterService ---------------------------------------------------------------------------

  clusterStatus(): ClusterStatus {
    return this.#membership.status();
  }

  async addMember(request: AddMemberRequest): Promise<ClusterStatus> {
    this.#assertServing();
    checkContact(request);
    const leader = this.#router.writeTarget() ?? (await this.#router.leaderForWrite());
    if (leader === this.#options.id) return this.#membership.addAsLeader(request);
    return this.#forwarderTo().addMember(leader, request);
  }

  async removeMember(id: NodeId): Promise<ClusterStatus> {
    this.#assertServing();
    if (!isNodeId(id)) {
      throw new LockdError(
        'LOCKD_ERR_BAD_REQUEST',
        `node id ${String(id)} is not a positive integer`,
      );
    }
    const leader = this.#router.writeTarget() ?? (await this.#router.leaderForWrite());
    if (leader === this.#options.id) return this.#membership.removeAsLeader(id);
    try {
      return await this.#forwarderTo().removeMember(leader, id);
    } catch (error) {
      // Removing the leader: this node may close its link to it (the removal committed) before
      // the leader's answer comes back on it. The change is made all the same.
      if (id === leader && this.#membership.isRemoved(id)) return this.clusterStatus();
      throw error;
    }
  }

  setPeerFaults(isolatedFrom: readonly NodeId[]): void {
    const transport = this.#transport;
    if (transport === undefined || this.#options.cluster?.allowFaultInjection !== true) {
      throw new LockdError('LOCKD_ERR_BAD_REQUEST', 'fault injection is disabled');
    }
    if (!isolatedFrom.every((id) => Number.isSafeInteger(id) && id >= 1)) {
      throw new LockdError('LOCKD_ERR_BAD_REQUEST', 'node ids must be positive integers');
    }
    transport.setFaults({ isolatedFrom });
  }

  /**
   * Tells a node the members' addresses (e.g. the members a POST /cluster/members answered with,
   * or GET /cluster's): a joining node admits the leader's connection only once it knows it.
   */
  learnMembers(members: readonly MemberContact[]): void {
    this.#assertServing();
    this.#membership.learn(members);
    this.#readyLoop.schedule();
  }

  // ---- For tests and status pages ------------------------------------------------------------

  status(): RaftStatus & {
    readonly locks: number;
    readonly leases: number;
    readonly waiters: number;
    readonly pendingProposals: number;
    readonly expiriesInFlight: number;
    readonly leaderReady: boolean;
  } {
    return {
      ...this.#raft.status(),
      locks: this.#state.locks.size,
      leases: this.#state.locks.leaseCount,
      waiters: this.#duties.waiting.size,
      pendingProposals: this.#proposer.pending.size,
      expiriesInFlight: this.#duties.expiry.inFlight,
      leaderReady: this.#duties.isReady(),
    };
  }

  /** The port the peer link listens on (0 without one). */
  get peerPort(): number {
    return this.#transport?.port ?? 0;
  }

  /**
   * Resolves once the node has no work scheduled (no ready batch, no queue to pump): what a test
   * awaits after moving its fake clock, instead of sleeping.
   */
  async idle(): Promise<void> {
    const roundsMax = 10_000;
    for (let round = 0; round < roundsMax; round++) {
      const running = this.#readyLoop.running;
      if (running !== undefined) {
        await running.catch(() => undefined);
        continue;
      }
      if (!this.#readyLoop.busy && !this.#duties.busy && !this.#raft.hasReady()) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert(false, `the node was still busy after ${roundsMax} rounds`);
  }

  /**
   * Stops ticking, answers every waiter and waiting request, finishes the batch under way, fails
   * what is pending, closes the peer link and the storage.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#ticker?.cancel();
    this.#commitBroadcast?.cancel();
    const shuttingDown = new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down');
    this.#duties.stop(shuttingDown);
    this.#conditions.failAll(shuttingDown);
    this.#reads.failAll(shuttingDown);
    this.#calls.abortAll();
    await this.#readyLoop.running?.catch(() => undefined);
    this.#proposer.pending.failAll(shuttingDown);
    this.#membership.failAll(shuttingDown);
    await this.#transport?.close();
    await this.#storage.close();
  }

  // ---- Forwarding -------------------------------------------------------------------------------

  #forwarderTo(): Forwarder {
    const forwarder = this.#forwarder;
    assert(forwarder !== undefined, 'a node without a peer link only writes as the leader');
    return forwarder;
  }

  /** What this node runs for a follower's forwarded call: as leader, never forwarded again. */
  #leaderService(): LeaderService {
    return {
      acquire: async (request) => {
        this.#assertServing();
        checkAcquireRequest(request, this.limits);
        return this.#leaderRequests.acquire(request);
      },
      release: async (request) => {
        this.#assertServing();
        checkReleaseRequest(request, this.limits);
        return this.#leaderRequests.release(request);
      },
      refresh: async (request) => {
        this.#assertServing();
        checkRefreshRequest(request, this.limits);
        return this.#leaderRequests.refresh(request);
      },
      addMember: async (request) => {
        this.#assertServing();
        return this.#membership.addAsLeader(request);
      },
      removeMember: async (id) => {
        this.#assertServing();
        return this.#membership.removeAsLeader(id);
      },
      isRenewal: (grant) => this.#duties.renewedGrants.has(grant),
      releaseUnwanted: (grant) => this.#duties.releaseUnwanted(grant),
    };
  }

  #requireLeader(): void {
    if (!this.#duties.isLeader()) throw noLeaderError(this.#raft.status().leader);
  }

  // ---- The peer link ----------------------------------------------------------------------------

  async #startTransport(cluster: ClusterOptions): Promise<void> {
    const { logger } = this.#options;
    const transport = await PeerTransport.start({
      selfId: this.#options.id,
      listen: cluster.self.peer,
      peers: new Map(),
      secret: cluster.secret,
      onMessage: (message) => this.#receive(message),
      onCall: (from, method, body) => this.#calls.handle(from, method, body),
      logger,
      allowFaultInjection: cluster.allowFaultInjection,
    });
    this.#transport = transport;
    this.#forwarder = new Forwarder({
      call: (to, method, body, timeoutMs) => transport.call(to, method, body, timeoutMs),
      requestTimeoutMs: this.#requestTimeoutMs,
      membershipTimeoutMs:
        this.#options.membershipTimeoutMs ?? lockNodeDefaults.membershipTimeoutMs,
      logger,
    });
    this.#membership.attachTransport(transport);
  }

  /** A Raft message from a peer. The core drops malformed ones; anything else thrown is logged. */
  #receive(message: Message): void {
    if (this.#stopping || this.#failed) return;
    try {
      if (isNodeId(message.from)) this.#membership.heard(message.from);
      this.#raft.step(message);
    } catch (error) {
      this.#options.logger.error(
        { err: error, type: message.type, from: message.from },
        'a peer message could not be taken: dropped',
      );
      return;
    }
    this.#readyLoop.schedule();
  }

  /** The addresses this node was started with, for the peer link until the log has them. */
  #learnConfiguredMembers(): void {
    const cluster = this.#options.cluster;
    if (cluster === undefined) return;
    const contacts: MemberContact[] = [];
    for (const [id, addresses] of cluster.members) {
      if (id === this.#options.id) continue;
      contacts.push({
        id,
        clientAddress: formatAddress(addresses.client),
        peerAddress: formatAddress(addresses.peer),
      });
    }
    this.#membership.book.learn(contacts);
  }

  #selfContact(): MemberContact {
    const cluster = this.#options.cluster;
    if (cluster === undefined) return { id: this.#options.id, clientAddress: '', peerAddress: '' };
    const port = this.#transport?.port ?? cluster.self.peer.port;
    return {
      id: this.#options.id,
      clientAddress: formatAddress(cluster.self.client),
      peerAddress: formatAddress({ host: cluster.self.peer.host, port }),
    };
  }

  // ---- Time and state ---------------------------------------------------------------------------

  /** Wall-clock time stamped on commands, epoch milliseconds. */
  #stamp(): number {
    const nowMs = Math.floor(this.#options.clock());
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, `the clock says ${nowMs}`);
    return nowMs;
  }

  /** The time apply() would see for a command stamped now: never before the state's own time. */
  #now(): number {
    return Math.max(this.#stamp(), this.#state.locks.timeMs);
  }

  #refusal(): LockdError | undefined {
    if (this.#stopping)
      return new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down');
    if (this.#failed)
      return new LockdError('LOCKD_ERR_INTERNAL', 'The node has failed and is stopping');
    return undefined;
  }

  #assertServing(): void {
    const refusal = this.#refusal();
    if (refusal !== undefined) throw refusal;
  }

  #scheduleTick(): void {
    this.#ticker = this.#scheduler.after(this.#options.tickMs, () => this.#tick());
  }

  /**
   * A commit index that no batch carried within commitBroadcastDelayMs goes out alone. Under load
   * the next batch carries it, and when writes come one at a time the next write usually does:
   * either way followers are spared a message and its answer per commit. They need the index
   * only to apply (their reads and events wait for it), so they hear of it soon in any case.
   */
  #armCommitBroadcast(): void {
    if (this.#commitBroadcast !== undefined || !this.#raft.owesCommit()) return;
    this.#commitBroadcast = this.#scheduler.after(commitBroadcastDelayMs, () => {
      this.#commitBroadcast = undefined;
      if (this.#stopping || this.#failed) return;
      this.#raft.broadcastCommit();
      this.#readyLoop.schedule();
    });
  }

  #tick(): void {
    if (this.#stopping || this.#failed) return;
    this.#scheduleTick();
    this.#raft.tick();
    this.#readyLoop.schedule();
    this.#duties.tick();
    this.#conditions.check();
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#ticker?.cancel();
    this.#commitBroadcast?.cancel();
    this.#options.logger.error({ err: error }, 'raft node failed; it must stop');
    const failed = new LockdError('LOCKD_ERR_INTERNAL', 'The node failed while committing');
    this.#duties.stop(failed);
    this.#conditions.failAll(failed);
    this.#reads.failAll(failed);
    this.#calls.abortAll();
    this.#proposer.pending.failAll(failed);
    this.#membership.failAll(failed);
    // Nothing more goes out: a node that cannot persist must not send what it promised.
    this.#transport?.close().catch(() => undefined);
    this.#options.onFatal(error);
  }
}

/** The voters of the cluster's first start (the log and snapshots take over after that). */
function bootstrapVoters(options: LockNodeOptions): NodeId[] {
  const { id, cluster } = options;
  if (cluster === undefined) {
    const members = options.members ?? [id];
    assert(
      members.length === 1 && members[0] === id,
      'without cluster options a node runs alone: members must be [id]',
    );
    return [id];
  }
  const voters = [...cluster.members.keys()];
  assert(
    voters.length === 0 || voters.includes(id),
    `cluster members ${voters.join(', ')} must include this node (${id}), or be empty to join`,
  );
  return voters;
}
