/**
 * An in-memory cluster of RawNodes for tests: every node's Ready is "persisted" into an in-memory
 * copy, its messages go into one in-flight pool, and its committed entries into an applied list
 * (the test state machine: a snapshot of it is the encoded list). Message loss, reordering,
 * partitions, crashes and restarts are driven by a seeded Random, so a failing seed replays
 * exactly. After every action the five Raft safety properties can be checked (`SafetyChecker`),
 * which throws on the first violation, and every read answered is checked to be linearizable.
 */
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode, type RawNodeOptions } from '../../src/raft/raw-node.js';
import {
  type ConfChange,
  type Entry,
  type EntryType,
  emptyHardState,
  type HardState,
  type Message,
  type NodeId,
  type PersistedState,
  type ReadState,
  type Ready,
  type Snapshot,
} from '../../src/raft/types.js';

export type NodeOptions = Partial<
  Omit<RawNodeOptions, 'id' | 'peers' | 'random' | 'persisted' | 'electionTicks' | 'heartbeatTicks'>
>;

export interface NetworkOptions {
  /** Every node of the simulation. */
  readonly ids: readonly NodeId[];
  /** The bootstrap voters (default: every node). The others start empty, as joining nodes. */
  readonly voters?: readonly NodeId[];
  readonly seed: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** The probability that a message is lost when sent (0 by default). */
  readonly dropRate?: number;
  /** Deliver in-flight messages in random order rather than in the order they were sent. */
  readonly reorder?: boolean;
  /** Passed to every RawNode. */
  readonly nodeOptions?: NodeOptions;
  /** What some nodes have on disk when the simulation starts (default: nothing). */
  readonly initialState?: ReadonlyMap<NodeId, { hardState: HardState; entries: readonly Entry[] }>;
}

/** What a node has made durable: the only thing that survives its crash. */
export interface DurableState {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  /** The entries the snapshot covers, decoded from its data (the test state machine). */
  snapshotEntries: Entry[];
  /** The log after the snapshot, contiguous. */
  entries: Entry[];
}

export interface SimulatedNode {
  readonly id: NodeId;
  /** Undefined while the node is crashed. */
  raw: RawNode | undefined;
  readonly durable: DurableState;
  /** The entries this incarnation applied, in order, from index 1 (restored from snapshots). */
  applied: Entry[];
}

/** A read asked of a node, and what it must see to be linearizable. */
export interface ReadRecord {
  readonly node: NodeId;
  readonly requestId: number;
  /** The highest index any node had applied (so any client could have seen) when it was asked. */
  readonly mustCover: number;
  /** Its answer, once it came. */
  answer: ReadState | undefined;
}

export class Network {
  readonly ids: readonly NodeId[];
  /** The source of every random decision the network makes. */
  readonly random: SeededRandom;
  readonly safety = new SafetyChecker();
  dropRate: number;
  reorder: boolean;
  /** Called with every message a node sends, before loss is decided: for tests that count them. */
  onSend: ((message: Message) => void) | undefined = undefined;
  /** Every read asked, by request id. */
  readonly reads = new Map<number, ReadRecord>();
  readonly #options: NetworkOptions;
  readonly #nodes = new Map<NodeId, SimulatedNode>();
  #inFlight: Message[] = [];
  /** Directed links that lose every message, as "from->to". */
  readonly #cut = new Set<string>();
  #nextRequestId = 1;
  #maxApplied = 0;

  constructor(options: NetworkOptions) {
    this.#options = options;
    this.ids = [...options.ids];
    this.random = new SeededRandom(options.seed);
    this.dropRate = options.dropRate ?? 0;
    this.reorder = options.reorder ?? false;
    for (const id of this.ids) {
      const initial = options.initialState?.get(id);
      const node: SimulatedNode = {
        id,
        raw: undefined,
        durable: {
          hardState: initial?.hardState ?? emptyHardState,
          snapshot: undefined,
          snapshotEntries: [],
          entries: [...(initial?.entries ?? [])],
        },
        applied: [],
      };
      this.#nodes.set(id, node);
      this.#start(node);
    }
  }

  /** The RawNode of a running node. */
  node(id: NodeId): RawNode {
    const raw = this.simulated(id).raw;
    if (raw === undefined) throw new Error(`node ${id} is crashed`);
    return raw;
  }

  simulated(id: NodeId): SimulatedNode {
    const node = this.#nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  isAlive(id: NodeId): boolean {
    return this.simulated(id).raw !== undefined;
  }

  aliveIds(): NodeId[] {
    return this.ids.filter((id) => this.isAlive(id));
  }

  get inFlight(): readonly Message[] {
    return this.#inFlight;
  }

  /** Running nodes that believe they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    return this.aliveIds()
      .map((id) => this.node(id).status())
      .filter((status) => status.role === 'leader')
      .map((status) => ({ id: status.id, term: status.term }));
  }

  /** The leader of the highest term among running nodes, if any. */
  currentLeader(): NodeId | undefined {
    const leaders = this.leaders().sort((a, b) => b.term - a.term);
    return leaders[0]?.id;
  }

  /** The members (voters and learners) of the membership `id` sees. */
  membersSeenBy(id: NodeId): NodeId[] {
    const { voters, learners } = this.node(id).status();
    return [...voters, ...learners];
  }

  tick(id: NodeId): void {
    this.node(id).tick();
    this.safety.observeStatus(this.node(id).status());
  }

  tickAll(): void {
    for (const id of this.aliveIds()) this.tick(id);
  }

  propose(id: NodeId, data: Uint8Array): ReturnType<RawNode['propose']> {
    return this.node(id).propose(data);
  }

  proposeConfChange(id: NodeId, change: ConfChange): ReturnType<RawNode['proposeConfChange']> {
    return this.node(id).proposeConfChange(change);
  }

  /** Asks node `id` for a linearizable read. Returns its record (answered later, or failed now). */
  read(id: NodeId): ReadRecord {
    const requestId = this.#nextRequestId++;
    const record: ReadRecord = {
      node: id,
      requestId,
      mustCover: this.#maxApplied,
      answer: undefined,
    };
    this.reads.set(requestId, record);
    const result = this.node(id).readIndex(requestId);
    if (!result.ok) record.answer = { requestId, ok: false, reason: result.reason };
    return record;
  }

  /**
   * The host took a snapshot of node `id`'s state machine at its applied index (or `index`), and
   * compacted its log. Returns the snapshot, or undefined if the log was compacted past it already.
   */
  compact(id: NodeId, index?: number): Snapshot | undefined {
    const node = this.simulated(id);
    const at = index ?? this.node(id).status().appliedIndex;
    const covered = node.applied.slice(0, at);
    const snapshot = this.node(id).compact(at, encodeEntries(covered));
    if (snapshot === undefined) return undefined;
    const durable = node.durable;
    durable.snapshot = snapshot;
    durable.snapshotEntries = covered;
    durable.entries = durable.entries.filter((entry) => entry.index > at);
    return snapshot;
  }

  /**
   * Handles one Ready of node `id` as a host must: persist, then send, then apply, then answer
   * reads, then advance. Returns the Ready, or undefined if it had none.
   */
  processReady(id: NodeId): Ready | undefined {
    const node = this.simulated(id);
    const raw = node.raw;
    if (raw === undefined || !raw.hasReady()) return undefined;
    const ready = raw.ready();
    persist(node.durable, ready);
    this.safety.checkReadyContract(id, ready, node.durable);
    for (const message of ready.messages) this.#send(message);
    if (ready.snapshot !== undefined) {
      node.applied = [...node.durable.snapshotEntries];
      for (const entry of node.applied) this.safety.observeApplied(id, entry);
    }
    for (const entry of ready.committedEntries) {
      if (entry.index !== node.applied.length + 1) {
        throw new Error(`node ${id} applies ${entry.index} after ${node.applied.length}`);
      }
      node.applied.push(entry);
      this.safety.observeApplied(id, entry);
    }
    this.#maxApplied = Math.max(this.#maxApplied, node.applied.length);
    for (const readState of ready.readStates) this.#answerRead(id, readState);
    raw.advance();
    this.safety.observeReady(id, raw.status(), ready, node.durable);
    return ready;
  }

  /** Processes the Ready of every running node once. Returns whether any had one. */
  processAllReadies(): boolean {
    let any = false;
    for (const id of this.aliveIds()) if (this.processReady(id) !== undefined) any = true;
    return any;
  }

  /** Delivers (or loses, if its link is cut or its target is down) the in-flight message at `position`. */
  deliverAt(position: number): Message {
    const [message] = this.#inFlight.splice(position, 1);
    if (message === undefined) throw new Error(`no in-flight message at ${position}`);
    const target = this.#nodes.get(message.to);
    if (target?.raw === undefined || this.#cut.has(link(message.from, message.to))) return message;
    target.raw.step(message);
    this.safety.observeStatus(target.raw.status());
    return message;
  }

  /** Whether messages from `from` to `to` are lost (a partition). */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.#cut.has(link(from, to));
  }

  /** Removes the in-flight message at `position` without delivering it. */
  dropAt(position: number): Message {
    const [message] = this.#inFlight.splice(position, 1);
    if (message === undefined) throw new Error(`no in-flight message at ${position}`);
    return message;
  }

  /** Delivers one message: the oldest, or a random one when reordering. Returns false if none. */
  deliverOne(): boolean {
    if (this.#inFlight.length === 0) return false;
    this.deliverAt(this.reorder ? this.random.nextInt(this.#inFlight.length) : 0);
    return true;
  }

  /** Loses one random in-flight message. */
  dropOne(): boolean {
    if (this.#inFlight.length === 0) return false;
    this.#inFlight.splice(this.random.nextInt(this.#inFlight.length), 1);
    return true;
  }

  /** Delivers every message in flight now (not those their delivery causes). */
  deliverAll(): void {
    for (let count = this.#inFlight.length; count > 0; count--) this.deliverOne();
  }

  /**
   * Runs readies and deliveries, without ticking, until nothing is left to do. The bound turns a
   * livelock into a failure instead of a hang.
   */
  stabilize(roundsMax = 1000): void {
    for (let round = 0; round < roundsMax; round++) {
      const anyReady = this.processAllReadies();
      if (!anyReady && this.#inFlight.length === 0) return;
      this.deliverAll();
    }
    throw new Error(`the network did not stabilize in ${roundsMax} rounds`);
  }

  /** Ticks every running node and stabilizes, `ticks` times. */
  runFor(ticks: number): void {
    this.stabilize();
    for (let tick = 0; tick < ticks; tick++) {
      this.tickAll();
      this.stabilize();
    }
  }

  /** Ticks every running node and stabilizes, until `done` holds. Returns the ticks it took. */
  runUntil(done: () => boolean, ticksMax: number): number {
    this.stabilize();
    for (let ticks = 0; ticks < ticksMax; ticks++) {
      if (done()) return ticks;
      this.tickAll();
      this.stabilize();
    }
    if (done()) return ticksMax;
    throw new Error(`condition not reached in ${ticksMax} ticks`);
  }

  /** Runs until one leader is followed by every running member of its membership. Returns it. */
  electLeader(ticksMax = 500): NodeId {
    let leader: NodeId | undefined;
    this.runUntil(() => {
      leader = this.currentLeader();
      if (leader === undefined) return false;
      const members = this.membersSeenBy(leader).filter((id) => this.isAlive(id));
      return members.every((id) => this.node(id).status().leader === leader);
    }, ticksMax);
    if (leader === undefined) throw new Error('no leader');
    return leader;
  }

  /** Cuts every link between different groups; nodes in no group are cut off from everyone. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    const groupOf = new Map<NodeId, number>();
    groups.forEach((group, index) => {
      for (const id of group) groupOf.set(id, index);
    });
    for (const from of this.ids) {
      for (const to of this.ids) {
        const fromGroup = groupOf.get(from);
        if (from !== to && (fromGroup === undefined || fromGroup !== groupOf.get(to))) {
          this.#cut.add(link(from, to));
        }
      }
    }
  }

  isolate(id: NodeId): void {
    this.partition(
      [id],
      this.ids.filter((other) => other !== id),
    );
  }

  heal(): void {
    this.#cut.clear();
  }

  /** Stops a node: its volatile state, applied list and undelivered output are gone. */
  crash(id: NodeId): void {
    const node = this.simulated(id);
    if (node.raw === undefined) throw new Error(`node ${id} is already crashed`);
    node.raw = undefined;
    node.applied = [];
  }

  /** Starts a crashed node again from its durable state, as a host does after a restart. */
  restart(id: NodeId): void {
    const node = this.simulated(id);
    if (node.raw !== undefined) throw new Error(`node ${id} is running`);
    this.#start(node);
  }

  /** The durable logs and applied lists must agree everywhere: throws if they do not. */
  checkSafety(): void {
    this.safety.checkLogMatching([...this.#nodes.values()].map((node) => fullLog(node.durable)));
  }

  #start(node: SimulatedNode): void {
    const { hardState, snapshot, snapshotEntries, entries } = node.durable;
    const persisted: PersistedState = {
      hardState,
      entries: [...entries],
      ...(snapshot === undefined ? {} : { snapshot }),
    };
    const voters = this.#options.voters ?? this.ids;
    // The host restores its state machine from the snapshot before it applies anything.
    node.applied = [...snapshotEntries];
    node.raw = new RawNode({
      id: node.id,
      peers: voters.includes(node.id) ? voters : [],
      electionTicks: this.#options.electionTicks ?? 10,
      heartbeatTicks: this.#options.heartbeatTicks ?? 1,
      random: new SeededRandom(this.random.nextUint32()),
      persisted,
      ...this.#options.nodeOptions,
    });
    this.safety.observeStatus(node.raw.status());
  }

  #answerRead(id: NodeId, readState: ReadState): void {
    const record = this.reads.get(readState.requestId);
    if (record === undefined || record.node !== id) {
      throw new Error(`node ${id} answers read ${readState.requestId}, which it was not asked`);
    }
    if (record.answer !== undefined) {
      throw new Error(`node ${id} answers read ${readState.requestId} twice`);
    }
    record.answer = readState;
    if (readState.ok && readState.index < record.mustCover) {
      throw new Error(
        `Linearizability: read ${readState.requestId} on node ${id} at index ${readState.index} ` +
          `misses index ${record.mustCover}, applied before the read was asked`,
      );
    }
  }

  #send(message: Message): void {
    this.onSend?.(message);
    if (this.dropRate > 0 && this.random.nextInt(1_000_000) < this.dropRate * 1_000_000) return;
    this.#inFlight.push(message);
  }
}

function link(from: NodeId, to: NodeId): string {
  return `${from}->${to}`;
}

/** The whole log a node holds, from index 1: the snapshot's entries, then the log after it. */
export function fullLog(durable: DurableState): Entry[] {
  return durable.snapshotEntries.length === 0
    ? durable.entries
    : [...durable.snapshotEntries, ...durable.entries];
}

/** Applies a Ready's durable part to a node's storage copy, as the Ready contract describes. */
export function persist(durable: DurableState, ready: Ready): void {
  if (ready.snapshot !== undefined) {
    durable.snapshot = ready.snapshot;
    durable.snapshotEntries = decodeEntries(ready.snapshot.data);
    durable.entries = [];
  }
  if (ready.hardState !== undefined) durable.hardState = ready.hardState;
  const first = ready.entries[0];
  if (first === undefined) return;
  const firstIndex = (durable.snapshot?.index ?? 0) + 1;
  const lastIndex = firstIndex + durable.entries.length - 1;
  if (first.index > lastIndex + 1 || first.index < firstIndex) {
    throw new Error(`a gap in the persisted log: ${first.index} after ${lastIndex}`);
  }
  durable.entries.length = first.index - firstIndex;
  durable.entries.push(...ready.entries);
}

/** The test state machine's snapshot: its applied entries, encoded. */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const size = entries.reduce((total, entry) => total + 21 + entry.data.length, 4);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, entries.length);
  let offset = 4;
  for (const entry of entries) {
    view.setFloat64(offset, entry.index);
    view.setFloat64(offset + 8, entry.term);
    view.setUint8(offset + 16, entry.type);
    view.setUint32(offset + 17, entry.data.length);
    bytes.set(entry.data, offset + 21);
    offset += 21 + entry.data.length;
  }
  return bytes;
}

export function decodeEntries(bytes: Uint8Array): Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: Entry[] = [];
  let offset = 4;
  for (let count = view.getUint32(0); count > 0; count--) {
    const length = view.getUint32(offset + 17);
    entries.push({
      index: view.getFloat64(offset),
      term: view.getFloat64(offset + 8),
      type: view.getUint8(offset + 16) as EntryType,
      data: bytes.slice(offset + 21, offset + 21 + length),
    });
    offset += 21 + length;
  }
  return entries;
}

/**
 * The safety properties of Raft (Figure 3 of the paper), checked as the cluster runs:
 * Election Safety, Leader Append-Only, Log Matching, Leader Completeness, State Machine Safety.
 */
export class SafetyChecker {
  /** Election Safety: the one leader of each term ever seen. */
  readonly leaderOfTerm = new Map<number, NodeId>();
  /** State Machine Safety: the entry applied at each index, by whichever node applied it first. */
  readonly appliedAt = new Map<number, Entry>();
  /**
   * Leader Completeness: the committed prefix, each entry with the term of the leader that
   * committed it, which every leader of a later term must hold.
   */
  readonly committed: { entry: Entry; leaderTerm: number }[] = [];
  /** One vote per term: who each voter granted its vote to, per term, across restarts. */
  readonly #votes = new Map<string, NodeId>();
  /** Whether to check the §5.4.2 rule directly, besides its consequences (see #checkCommitRule). */
  checkCommitRule = true;
  /** §5.4.2: the commit index each leader had when last seen, with its term. */
  readonly #leaderCommits = new Map<NodeId, { term: number; commit: number }>();
  /** Leader Append-Only: each node's durable log as it was when it last led, keyed by node. */
  readonly #leaderLogs = new Map<NodeId, { term: number; lastIndex: number; lastTerm: number }>();

  observeStatus(status: { id: NodeId; role: string; term: number }): void {
    if (status.role !== 'leader') return;
    const known = this.leaderOfTerm.get(status.term);
    if (known !== undefined && known !== status.id) {
      throw new Error(
        `Election Safety: nodes ${known} and ${status.id} both lead term ${status.term}`,
      );
    }
    this.leaderOfTerm.set(status.term, status.id);
  }

  observeApplied(id: NodeId, entry: Entry): void {
    const earlier = this.appliedAt.get(entry.index);
    if (earlier === undefined) {
      this.appliedAt.set(entry.index, entry);
    } else if (!sameEntry(earlier, entry)) {
      throw new Error(
        `State Machine Safety: node ${id} applied ${describe(entry)} where another applied ${describe(earlier)}`,
      );
    }
  }

  observeReady(
    id: NodeId,
    status: { role: string; term: number; commitIndex: number },
    ready: Ready,
    durable: DurableState,
  ): void {
    this.observeStatus({ id, ...status });
    if (status.role !== 'leader') {
      this.#leaderLogs.delete(id);
      return;
    }
    const entries = fullLog(durable);
    // Leader Append-Only: while it leads one term, a leader's log only grows.
    const previous = this.#leaderLogs.get(id);
    if (previous !== undefined && previous.term === status.term) {
      const first = ready.entries[0];
      if (
        ready.snapshot !== undefined ||
        (first !== undefined && first.index <= previous.lastIndex)
      ) {
        throw new Error(`Leader Append-Only: leader ${id} rewrote its log from ${first?.index}`);
      }
    } else {
      this.#checkLeaderCompleteness(id, status.term, entries);
    }
    const last = entries.at(-1);
    this.#leaderLogs.set(id, {
      term: status.term,
      lastIndex: last?.index ?? 0,
      lastTerm: last?.term ?? 0,
    });
    this.#checkCommitRule(id, status.term, ready, entries);
    // A leader's commit index covers entries committed in its term (or earlier).
    const commit = ready.hardState?.commit ?? 0;
    for (let index = this.committed.length + 1; index <= commit; index++) {
      const entry = entries[index - 1];
      if (entry === undefined) throw new Error(`leader ${id} committed ${index} beyond its log`);
      this.committed.push({ entry, leaderTerm: status.term });
    }
  }

  /**
   * §5.4.2 (Figure 8): "Raft never commits log entries from previous terms by counting replicas."
   * A leader learns nothing of commitment from others, so whenever its commit index moves during
   * its term, it moves onto an entry of that term. (The first commit index seen from a new leader
   * may be one it learned as a follower.)
   */
  #checkCommitRule(id: NodeId, term: number, ready: Ready, entries: readonly Entry[]): void {
    const commit = ready.hardState?.commit;
    if (commit === undefined || !this.checkCommitRule) return;
    const seen = this.#leaderCommits.get(id);
    this.#leaderCommits.set(id, { term, commit });
    if (seen === undefined || seen.term !== term || commit <= seen.commit) return;
    const entry = entries[commit - 1];
    if (entry === undefined || entry.term !== term) {
      throw new Error(
        `Figure 8 (§5.4.2): leader ${id} of term ${term} committed ${entry === undefined ? `index ${commit}` : describe(entry)}, of an earlier term, by counting replicas`,
      );
    }
  }

  /**
   * The I/O ordering of a Ready, checked once it is persisted and before anything is sent or
   * applied: no message may promise what is not durable, and only durable entries are applied.
   */
  checkReadyContract(id: NodeId, ready: Ready, durable: DurableState): void {
    const { hardState } = durable;
    const entries = fullLog(durable);
    if (hardState.commit > entries.length) {
      throw new Error(`node ${id} persisted commit ${hardState.commit} beyond its log`);
    }
    for (const entry of ready.committedEntries) {
      const stored = entries[entry.index - 1];
      if (entry.index > hardState.commit || stored === undefined || !sameEntry(stored, entry)) {
        throw new Error(`node ${id} applies ${describe(entry)} before it is durably committed`);
      }
    }
    for (const message of ready.messages) {
      this.#checkPromise(id, message, hardState, entries.length);
    }
  }

  /**
   * A message promises durable state of its term. If the node has durably moved on to a higher
   * term since, it can never act in that term again, and the promise holds vacuously (§5.4.3).
   * A pre-vote, or a pre-vote granted, speaks of a future term and promises nothing.
   */
  #checkPromise(
    id: NodeId,
    message: Message,
    hardState: HardState,
    durableLastIndex: number,
  ): void {
    if (message.type === 'PreVote' || (message.type === 'PreVoteResponse' && message.granted)) {
      return;
    }
    if (hardState.term > message.term) return;
    if (hardState.term < message.term) {
      throw new Error(`node ${id} sends a term ${message.term} message before the term is durable`);
    }
    if (message.type === 'RequestVoteResponse' && message.granted) {
      if (hardState.vote !== message.to) {
        throw new Error(`node ${id} grants a vote in term ${message.term} that is not durable`);
      }
      const key = `${message.term}/${id}`;
      const earlier = this.#votes.get(key);
      if (earlier !== undefined && earlier !== message.to) {
        throw new Error(
          `node ${id} voted for ${earlier} and ${message.to} in term ${message.term}`,
        );
      }
      this.#votes.set(key, message.to);
    } else if (message.type === 'RequestVote' && hardState.vote !== id) {
      throw new Error(
        `node ${id} campaigns in term ${message.term} before its self-vote is durable`,
      );
    } else if (
      (message.type === 'AppendEntriesResponse' && message.success) ||
      (message.type === 'InstallSnapshotResponse' && message.installed)
    ) {
      if (message.matchIndex > durableLastIndex) {
        throw new Error(`node ${id} acknowledges ${message.matchIndex} beyond its durable log`);
      }
    }
  }

  /** Log Matching: two logs with an entry of the same index and term agree on all before it. */
  checkLogMatching(logs: readonly (readonly Entry[])[]): void {
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        checkLogPair(logs[a] ?? [], logs[b] ?? []);
      }
    }
  }

  #checkLeaderCompleteness(id: NodeId, term: number, entries: readonly Entry[]): void {
    for (const { entry, leaderTerm } of this.committed) {
      if (leaderTerm >= term) continue;
      const held = entries[entry.index - 1];
      if (held === undefined || !sameEntry(held, entry)) {
        throw new Error(
          `Leader Completeness: leader ${id} of term ${term} lacks committed ${describe(entry)}`,
        );
      }
    }
  }
}

function checkLogPair(a: readonly Entry[], b: readonly Entry[]): void {
  // The highest index where both logs hold an entry of the same term: all before must be equal.
  let highest = Math.min(a.length, b.length);
  while (highest > 0 && a[highest - 1]?.term !== b[highest - 1]?.term) highest--;
  for (let index = 1; index <= highest; index++) {
    const left = a[index - 1];
    const right = b[index - 1];
    if (left === undefined || right === undefined || !sameEntry(left, right)) {
      throw new Error(`Log Matching: logs agree at ${highest} but differ at ${index}`);
    }
  }
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  if (a.data.length !== b.data.length) return false;
  return a.data.every((byte, position) => byte === b.data[position]);
}

function describe(entry: Entry): string {
  return `entry ${entry.index} of term ${entry.term}`;
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}
