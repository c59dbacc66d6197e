/**
 * An in-memory cluster of RawNodes for tests: every node's Ready is "persisted" into an in-memory
 * copy, its messages go into one in-flight pool, and its committed entries into an applied list.
 * Message loss, reordering, partitions, crashes and restarts are driven by a seeded Random, so a
 * failing seed replays exactly. After every action the five Raft safety properties can be checked
 * (`SafetyChecker`), which throws on the first violation.
 */
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode, type RawNodeOptions } from '../../src/raft/raw-node.js';
import {
  type Entry,
  emptyHardState,
  type HardState,
  type Message,
  type NodeId,
  type PersistedState,
  type Ready,
} from '../../src/raft/types.js';

export interface NetworkOptions {
  readonly ids: readonly NodeId[];
  readonly seed: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** The probability that a message is lost when sent (0 by default). */
  readonly dropRate?: number;
  /** Deliver in-flight messages in random order rather than in the order they were sent. */
  readonly reorder?: boolean;
  /** Passed to every RawNode. */
  readonly nodeOptions?: Partial<
    Pick<
      RawNodeOptions,
      | 'maxEntriesPerAppend'
      | 'maxPendingProposals'
      | 'maxInflightAppends'
      | 'maxCommittedEntriesPerReady'
    >
  >;
}

/** What a node has made durable: the only thing that survives its crash. */
export interface DurableState {
  hardState: HardState;
  entries: Entry[];
}

export interface SimulatedNode {
  readonly id: NodeId;
  /** Undefined while the node is crashed. */
  raw: RawNode | undefined;
  readonly durable: DurableState;
  /** The entries this incarnation applied, in order (rebuilt by replay after a restart). */
  applied: Entry[];
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
  readonly #options: NetworkOptions;
  readonly #nodes = new Map<NodeId, SimulatedNode>();
  #inFlight: Message[] = [];
  /** Directed links that lose every message, as "from->to". */
  readonly #cut = new Set<string>();

  constructor(options: NetworkOptions) {
    this.#options = options;
    this.ids = [...options.ids];
    this.random = new SeededRandom(options.seed);
    this.dropRate = options.dropRate ?? 0;
    this.reorder = options.reorder ?? false;
    for (const id of this.ids) {
      const node: SimulatedNode = {
        id,
        raw: undefined,
        durable: { hardState: emptyHardState, entries: [] },
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

  /**
   * Handles one Ready of node `id` as a host must: persist, then send, then apply, then advance.
   * Returns the Ready, or undefined if it had none.
   */
  processReady(id: NodeId): Ready | undefined {
    const node = this.simulated(id);
    const raw = node.raw;
    if (raw === undefined || !raw.hasReady()) return undefined;
    const ready = raw.ready();
    persist(node.durable, ready);
    this.safety.checkReadyContract(id, ready, node.durable);
    for (const message of ready.messages) this.#send(message);
    for (const entry of ready.committedEntries) {
      if (entry.index !== node.applied.length + 1) {
        throw new Error(`node ${id} applies ${entry.index} after ${node.applied.length}`);
      }
      node.applied.push(entry);
      this.safety.observeApplied(id, entry);
    }
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
  deliverAt(position: number): void {
    const [message] = this.#inFlight.splice(position, 1);
    if (message === undefined) throw new Error(`no in-flight message at ${position}`);
    const target = this.#nodes.get(message.to);
    if (target?.raw === undefined || this.#cut.has(link(message.from, message.to))) return;
    target.raw.step(message);
    this.safety.observeStatus(target.raw.status());
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

  /** Runs until one leader is followed by every running node. Returns its id. */
  electLeader(ticksMax = 500): NodeId {
    let leader: NodeId | undefined;
    this.runUntil(() => {
      leader = this.currentLeader();
      return (
        leader !== undefined &&
        this.aliveIds().every((id) => this.node(id).status().leader === leader)
      );
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
    this.safety.checkLogMatching([...this.#nodes.values()].map((node) => node.durable.entries));
  }

  #start(node: SimulatedNode): void {
    const persisted: PersistedState = {
      hardState: node.durable.hardState,
      entries: [...node.durable.entries],
    };
    node.raw = new RawNode({
      id: node.id,
      peers: this.ids,
      electionTicks: this.#options.electionTicks ?? 10,
      heartbeatTicks: this.#options.heartbeatTicks ?? 1,
      random: new SeededRandom(this.random.nextUint32()),
      persisted,
      ...this.#options.nodeOptions,
    });
    this.safety.observeStatus(node.raw.status());
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

/** Applies a Ready's durable part to a node's storage copy, as the Ready contract describes. */
export function persist(durable: DurableState, ready: Ready): void {
  if (ready.hardState !== undefined) durable.hardState = ready.hardState;
  const first = ready.entries[0];
  if (first === undefined) return;
  if (first.index > durable.entries.length + 1) {
    throw new Error(`a gap in the persisted log: ${first.index} after ${durable.entries.length}`);
  }
  durable.entries.length = first.index - 1;
  durable.entries.push(...ready.entries);
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
    const entries = durable.entries;
    if (status.role !== 'leader') {
      this.#leaderLogs.delete(id);
      return;
    }
    // Leader Append-Only: while it leads one term, a leader's log only grows.
    const previous = this.#leaderLogs.get(id);
    if (previous !== undefined && previous.term === status.term) {
      const first = ready.entries[0];
      if (first !== undefined && first.index <= previous.lastIndex) {
        throw new Error(`Leader Append-Only: leader ${id} rewrote its log from ${first.index}`);
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
    // A leader's commit index covers entries committed in its term (or earlier).
    const commit = ready.hardState?.commit ?? 0;
    for (let index = this.committed.length + 1; index <= commit; index++) {
      const entry = entries[index - 1];
      if (entry === undefined) throw new Error(`leader ${id} committed ${index} beyond its log`);
      this.committed.push({ entry, leaderTerm: status.term });
    }
  }

  /**
   * The I/O ordering of a Ready, checked once it is persisted and before anything is sent or
   * applied: no message may promise what is not durable, and only durable entries are applied.
   */
  checkReadyContract(id: NodeId, ready: Ready, durable: DurableState): void {
    const { hardState, entries } = durable;
    if (hardState.commit > entries.length) {
      throw new Error(`node ${id} persisted commit ${hardState.commit} beyond its log`);
    }
    for (const entry of ready.committedEntries) {
      const stored = entries[entry.index - 1];
      if (entry.index > hardState.commit || stored === undefined || !sameEntry(stored, entry)) {
        throw new Error(`node ${id} applies ${describe(entry)} before it is durably committed`);
      }
    }
    for (const message of ready.messages)
      this.#checkPromise(id, message, hardState, entries.length);
  }

  /**
   * A message promises durable state of its term. If the node has durably moved on to a higher
   * term since, it can never act in that term again, and the promise holds vacuously (§5.4.3).
   */
  #checkPromise(
    id: NodeId,
    message: Message,
    hardState: HardState,
    durableLastIndex: number,
  ): void {
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
      message.type === 'AppendEntriesResponse' &&
      message.success &&
      message.matchIndex > durableLastIndex
    ) {
      throw new Error(`node ${id} acknowledges ${message.matchIndex} beyond its durable log`);
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
