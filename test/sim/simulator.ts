/**
 * Runs one seed: a 3- or 5-node cluster of real RawNodes on simulated disks and a simulated
 * network, on virtual time. A fault phase injects the faults the seed chose while clients propose
 * commands; a quiet phase then undoes every fault and requires a leader and the commit of a fresh
 * proposal on every node within a bound. Every invariant is checked after every event. The same
 * options always give the same run, event for event.
 */
import { decodeConfChangeEntry } from '../../src/raft/configuration.js';
import { type Entry, EntryType, type Message, type NodeId } from '../../src/raft/types.js';
import { AssertionError, assert } from '../../src/util/assert.js';
import { type BugName, bugSwitches } from './bugs.js';
import { type ClientStats, Clients, type Proposal, type Read } from './client.js';
import { VirtualClock } from './clock.js';
import { type DiskStats, SimDisk } from './disk.js';
import { type FaultContext, faultRegistry } from './faults.js';
import { History } from './history.js';
import {
  type AnsweredRead,
  type ClusterView,
  type Invariant,
  type InvariantFactory,
  InvariantViolation,
  invariantRegistry,
  type SentMessage,
} from './invariants.js';
import { type NetworkStats, SimNetwork } from './network.js';
import { NodeHost, type RaftSettings, snapshotHeaderBytes } from './node-host.js';
import { chooseProfile, type ProfileOverrides, quietNetwork, type RunProfile } from './profile.js';
import { RandomStream, SimRandom } from './random.js';
import { Trace } from './trace.js';

export interface SimulationOptions {
  readonly seed: number;
  /** 3 or 5 in practice; any count from 1 works. */
  readonly nodes: number;
  /** The length of the fault phase, in nominal ticks. */
  readonly faultTicks: number;
  readonly bugs?: readonly BugName[];
  /** Only these fault kinds (by name), to focus a run; default every kind in the registry. */
  readonly faults?: readonly string[] | undefined;
  /** Raft options that override what the seed chose, to focus a run. */
  readonly raft?: Partial<RaftSettings> | undefined;
  /** Profile knobs that override what the seed chose, to focus a run. */
  readonly profile?: ProfileOverrides | undefined;
  /** Defaults to every invariant in the registry. */
  readonly invariants?: readonly InvariantFactory[];
  /** How many of the last events a failure shows (default 40). */
  readonly traceSize?: number;
}

export interface SimulationStats {
  events: number;
  /** Distinct terms in which some node led. */
  leaderTerms: number;
  committed: number;
  crashes: number;
  snapshotsInstalled: number;
  faults: Record<string, number>;
  /** Ticks from the start of the quiet phase until the liveness check passed. */
  quietTicks: number;
  /** The bound on quietTicks in this run (election timeouts plus time to catch up). */
  quietBoundTicks: number;
  clients: ClientStats;
  network: NetworkStats;
  disk: DiskStats;
}

export interface SimulationFailure {
  /** The invariant that failed, or 'Liveness', 'Raft Core Assertion', 'Simulator Error'. */
  readonly invariant: string;
  readonly message: string;
  readonly timeUs: number;
  readonly trace: readonly string[];
}

export type SimulationResult =
  | { readonly ok: true; readonly stats: SimulationStats; readonly trace: () => string[] }
  | { readonly ok: false; readonly failure: SimulationFailure; readonly stats: SimulationStats };

/** The quiet phase must reach liveness within this many election timeouts. */
export const quietElectionTimeoutsMax = 30;
/**
 * Events a run may take per node and tick of virtual time, on average since it began (plus a
 * start-up allowance), before it counts as a traffic storm: the busiest healthy seeds take under
 * a hundred; a storm, where messages beget more messages, grows without bound and would otherwise
 * run for minutes.
 */
export const eventsPerNodeTickMax = 300;
const eventsAllowance = 20_000;
const trafficCheckEveryEvents = 10_000;

export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

class Simulation {
  readonly #options: SimulationOptions;
  readonly #profile: RunProfile;
  readonly #clock = new VirtualClock();
  readonly #network: SimNetwork;
  readonly #hosts: NodeHost[];
  readonly #clients: Clients;
  readonly #history = new History();
  readonly #invariants: Invariant[];
  readonly #trace: Trace;
  readonly #faultRandom: SimRandom;
  readonly #clientTiming: SimRandom;
  readonly #sent: SentMessage[] = [];
  readonly #answeredReads: AnsweredRead[] = [];
  /** Spares proposed for the cluster at some point: never proposed again. */
  readonly #usedSpares = new Set<NodeId>();
  /** Nodes whose removal committed and that were shut down for good (see #memberRemoved). */
  readonly #retired = new Set<NodeId>();
  readonly #view: ClusterView;
  readonly #stats: SimulationStats;
  readonly #leaderTerms = new Set<number>();
  /** The term in which each node last led, to trace elections. */
  readonly #ledTerm = new Map<NodeId, number>();
  #serial = 0;
  #faultPhaseEndUs = 0;

  constructor(options: SimulationOptions) {
    this.#options = options;
    const { seed } = options;
    const faults = options.faults;
    const chosen = chooseProfile(
      new SimRandom(seed, RandomStream.profile),
      options.nodes,
      faults === undefined
        ? faultRegistry
        : faultRegistry.filter((kind) => faults.includes(kind.name)),
    );
    this.#profile = { ...chosen, ...options.profile, raft: { ...chosen.raft, ...options.raft } };
    this.#faultRandom = new SimRandom(seed, RandomStream.faults);
    this.#clientTiming = new SimRandom(seed, RandomStream.clientTiming);
    this.#trace = new Trace(options.traceSize ?? 40);
    this.#network = new SimNetwork(
      this.#clock,
      new SimRandom(seed, RandomStream.network),
      this.#profile.network,
      (message) => this.#deliver(message),
    );
    this.#hosts = this.#createHosts();
    this.#clients = new Clients(new SimRandom(seed, RandomStream.clients), 1_000_000);
    this.#invariants = (options.invariants ?? invariantRegistry).map((factory) => factory());
    this.#view = {
      hosts: this.#hosts,
      history: this.#history,
      clients: this.#clients,
      sent: this.#sent,
      answeredReads: this.#answeredReads,
    };
    this.#stats = {
      events: 0,
      leaderTerms: 0,
      committed: 0,
      crashes: 0,
      snapshotsInstalled: 0,
      faults: {},
      quietTicks: 0,
      quietBoundTicks: 0,
      clients: this.#clients.stats,
      network: this.#network.stats,
      disk: { writes: 0, lostAtCrash: 0, survivedCrash: 0 },
    };
  }

  run(): SimulationResult {
    try {
      this.#faultPhase();
      this.#quietPhase();
      return { ok: true, stats: this.#finalStats(), trace: () => this.#trace.lines() };
    } catch (error) {
      return { ok: false, failure: this.#describeFailure(error), stats: this.#finalStats() };
    }
  }

  #createHosts(): NodeHost[] {
    const { seed } = this.#options;
    const { ids, voters, nodeTickUs } = this.#profile;
    const bugs = bugSwitches(this.#options.bugs ?? []);
    const raft =
      bugs.raft === undefined
        ? this.#profile.raft
        : { ...this.#profile.raft, testingBugs: bugs.raft };
    const diskRandom = new SimRandom(seed, RandomStream.disk);
    return ids.map((id, position) => {
      const disk = new SimDisk({
        clock: this.#clock,
        random: diskRandom,
        latency: this.#profile.disk,
        crashSurvivalProbability: this.#profile.crashSurvivalProbability,
        bugs: bugs.disk,
      });
      return new NodeHost({
        id,
        peers: voters.includes(id) ? voters : [],
        clock: this.#clock,
        disk,
        raft,
        tickUs: nodeTickUs[position] ?? this.#profile.tickUs,
        compactEveryEntries: this.#profile.compactEveryEntries,
        snapshotFillerBytes: this.#profile.snapshotFillerBytes,
        bugs: bugs.host,
        observer: {
          readyTaken: (host, ready) => this.#history.readyTaken(host, ready),
          messageSent: (host, message) => this.#sent.push({ host, message }),
          entryApplied: (host, entry) => {
            this.#clients.entryApplied(host, entry);
            if (entry.type === EntryType.confChange) this.#confChangeApplied(entry);
          },
          readAnswered: (host, readState) => {
            const read = this.#clients.readAnswered(host, readState);
            if (read !== undefined && readState.ok) {
              this.#answeredReads.push({ host, read, index: readState.index });
            }
          },
        },
        send: (message) => this.#network.send(message),
        randomFor: (incarnation) =>
          new SimRandom(seed, RandomStream.raftBase + id * 1000 + incarnation),
        nextSerial: () => ++this.#serial,
      });
    });
  }

  #faultPhase(): void {
    const { tickUs } = this.#profile;
    this.#faultPhaseEndUs = this.#options.faultTicks * tickUs;
    for (const host of this.#hosts) {
      host.start();
      this.#trace.record(0, host.id, 'starts');
    }
    this.#afterStep();
    this.#scheduleClients();
    this.#scheduleReads();
    this.#scheduleFault();
    this.#runUntil(this.#faultPhaseEndUs, () => false);
  }

  #scheduleClients(): void {
    const profile = this.#profile;
    this.#clock.schedule(this.#clientTiming.between(1, profile.clientGapUsMax), () => {
      if (this.#clock.now >= this.#faultPhaseEndUs) return;
      this.#clients.proposeSome(this.#hosts, this.#clientTiming.between(1, profile.clientBatchMax));
      this.#scheduleClients();
    });
  }

  #scheduleReads(): void {
    this.#clock.schedule(this.#clientTiming.between(1, this.#profile.readGapUsMax), () => {
      if (this.#clock.now >= this.#faultPhaseEndUs) return;
      this.#clients.readSome(this.#hosts, this.#history.committed.lastIndex);
      this.#scheduleReads();
    });
  }

  #scheduleFault(): void {
    const gapUs =
      this.#faultRandom.between(1, this.#profile.faultGapTicksMax) * this.#profile.tickUs;
    this.#clock.schedule(gapUs, () => {
      if (this.#clock.now >= this.#faultPhaseEndUs) return;
      this.#injectFault();
      this.#scheduleFault();
    });
  }

  #injectFault(): void {
    const name = this.#faultRandom.weighted(this.#profile.faultWeights);
    const kind = faultRegistry.find((fault) => fault.name === name);
    if (kind === undefined) return;
    const done = kind.inject(this.#faultContext());
    if (done === undefined) return;
    this.#stats.faults[kind.name] = (this.#stats.faults[kind.name] ?? 0) + 1;
    this.#trace.record(this.#clock.now, 0, `fault: ${done}`);
  }

  #faultContext(): FaultContext {
    const voters = this.#profile.voters;
    return {
      unusedSpares: () =>
        this.#hosts.filter((host) => !voters.includes(host.id) && !this.#usedSpares.has(host.id)),
      markSpareUsed: (id) => this.#usedSpares.add(id),
      random: this.#faultRandom,
      network: this.#network,
      hosts: this.#hosts,
      ids: this.#profile.ids,
      tickUs: this.#profile.tickUs,
      crashDownTicksMax: this.#profile.crashDownTicksMax,
      later: (delayUs, action) => this.#clock.schedule(delayUs, action),
      crash: (host) => this.#crash(host),
      restart: (host) => this.#restart(host),
      leader: () => this.#leader(),
    };
  }

  #crash(host: NodeHost): void {
    if (!host.alive) return;
    host.crash();
    this.#clients.nodeCrashed(host.id);
    this.#stats.crashes++;
    this.#trace.record(this.#clock.now, host.id, 'crashes');
  }

  #restart(host: NodeHost): void {
    if (host.alive || this.#retired.has(host.id)) return;
    host.start();
    this.#trace.record(this.#clock.now, host.id, `restarts (term ${host.status?.term})`);
  }

  /**
   * A removal committed. Without PreVote and CheckQuorum a removed node that keeps running can
   * depose leaders for ever (thesis §4.2.3), so an operator must stop it: the simulator does, a
   * moment later. With both, it keeps running, and the cluster must shrug it off.
   */
  #confChangeApplied(entry: Entry): void {
    const record = decodeConfChangeEntry(entry.data);
    assert(record !== undefined, `entry ${entry.index} is not a configuration change`);
    const { type, node } = record.change;
    if (type !== 'remove-voter' && type !== 'remove-learner') return;
    const { preVote, checkQuorum } = this.#profile.raft;
    if (preVote !== false && checkQuorum !== false) return;
    if (this.#retired.has(node)) return;
    this.#retired.add(node);
    this.#clock.schedule(0, () => {
      const host = this.#hosts[node - 1];
      if (host === undefined) return;
      this.#crash(host);
      this.#trace.record(this.#clock.now, node, 'is shut down: its removal committed');
    });
  }

  #leader(): NodeHost | undefined {
    let best: NodeHost | undefined;
    for (const host of this.#hosts) {
      const status = host.status;
      if (status?.role !== 'leader') continue;
      if (best?.status === undefined || status.term > best.status.term) best = host;
    }
    return best;
  }

  #deliver(message: Message): void {
    const host = this.#hosts[message.to - 1];
    if (host === undefined || !host.alive) return;
    this.#trace.record(this.#clock.now, host.id, message);
    host.receive(message);
  }

  /** Runs events up to `untilUs` or until `done()` holds after a step. Returns whether it did. */
  #runUntil(untilUs: number, done: () => boolean): boolean {
    const { tickUs, ids } = this.#profile;
    // Bounded by the traffic check below: a run that outpaces it is a storm, and fails.
    for (;;) {
      const next = this.#clock.peekTime();
      if (next === undefined || next > untilUs) return false;
      this.#clock.runNext();
      this.#stats.events++;
      this.#afterStep();
      if (done()) return true;
      if (this.#stats.events % trafficCheckEveryEvents === 0) {
        const ticks = Math.ceil(this.#clock.now / tickUs);
        if (this.#stats.events > eventsAllowance + eventsPerNodeTickMax * ids.length * ticks) break;
      }
    }
    const ticks = Math.round(this.#clock.now / tickUs);
    throw new InvariantViolation(
      'Bounded Traffic',
      `${this.#stats.events} events in ${ticks} ticks, over ${eventsPerNodeTickMax} per node and tick: messages beget messages (${this.#network.stats.sent} sent)`,
    );
  }

  /** Refreshes what the invariants read, traces role changes, then checks every invariant. */
  #afterStep(): void {
    for (const host of this.#hosts) {
      if (!host.touched) continue;
      host.refreshStatus();
      const status = host.status;
      if (status?.role !== 'leader' || this.#ledTerm.get(host.id) === status.term) continue;
      this.#ledTerm.set(host.id, status.term);
      this.#leaderTerms.add(status.term);
      this.#trace.record(this.#clock.now, host.id, `becomes leader of term ${status.term}`);
    }
    for (const invariant of this.#invariants) {
      const broken = invariant.check(this.#view);
      if (broken !== undefined) throw new InvariantViolation(invariant.name, broken);
    }
    this.#sent.length = 0;
    this.#answeredReads.length = 0;
  }

  /**
   * Every fault ends: partitions heal, the network and disks behave, crashed nodes restart. Within
   * the bound a single leader must be followed by every member of its configuration, a proposal
   * made to it must be applied on every member (a new one each time the leader changes before its
   * proposal is acknowledged), and a linearizable read asked of it must be answered.
   */
  #quietPhase(): void {
    const profile = this.#profile;
    this.#network.calm(quietNetwork(profile));
    for (const host of this.#hosts) host.disk.calm(profile.disk);
    for (const host of this.#hosts) this.#restart(host);
    this.#trace.record(this.#clock.now, 0, 'quiet phase: every fault healed');
    this.#afterStep();
    const startUs = this.#clock.now;
    const boundTicks =
      quietElectionTimeoutsMax * (profile.raft.electionTicks ?? 10) + this.#catchUpTicks();
    this.#stats.quietBoundTicks = boundTicks;
    const { live, waitingFor } = this.#livenessProbe();
    const reached = live() || this.#runUntil(startUs + boundTicks * profile.tickUs, live);
    this.#stats.quietTicks = Math.ceil((this.#clock.now - startUs) / profile.tickUs);
    if (!reached) {
      const state = this.#hosts
        .map(
          (host) =>
            `${host.id}:${host.status?.role}/t${host.status?.term}/applied ${host.appliedLength}`,
        )
        .join(' ');
      throw new InvariantViolation(
        'Liveness',
        `${boundTicks} ticks after the faults ended, still waiting for ${waitingFor()} (${state})`,
      );
    }
  }

  /**
   * A check run after every quiet step, which proposes and reads as the cluster gets ready.
   * `waitingFor` says what it waits for, for the failure message.
   */
  #livenessProbe(): { live: () => boolean; waitingFor: () => string } {
    let barrier: Proposal | undefined;
    let read: Read | undefined;
    let waitingFor = 'a leader followed by every member of its configuration';
    const live = (): boolean => {
      const leader = this.#stableLeader();
      if (leader === undefined) return false;
      if (barrier === undefined || barrier.node !== leader.id || isLost(barrier)) {
        barrier = this.#clients.propose(leader);
      }
      waitingFor = `leader ${leader.id} to commit a proposal (${barrier === undefined ? 'refused' : `index ${barrier.index}, ${barrier.outcome}`})`;
      const index = barrier?.outcome === 'acknowledged' ? barrier.index : undefined;
      if (index === undefined) return false;
      waitingFor = `every member to apply ${index}`;
      if (!this.#members(leader).every((host) => host.appliedLength >= index)) return false;
      if (read === undefined || read.node !== leader.id || read.outcome === 'failed') {
        read = this.#clients.read(leader, this.#history.committed.lastIndex);
      }
      waitingFor = `leader ${leader.id} to answer a read (${read === undefined ? 'refused' : read.outcome})`;
      return read?.outcome === 'answered';
    };
    return { live, waitingFor: () => waitingFor };
  }

  /** The running members of `leader`'s configuration (voters and learners). */
  #members(leader: NodeHost): NodeHost[] {
    const status = leader.status;
    if (status === undefined) return [];
    return this.#hosts.filter(
      (host) => status.voters.includes(host.id) || status.learners.includes(host.id),
    );
  }

  /**
   * Time to bring the most lagging node up to date at the quiet network's pace, which the liveness
   * bound allows on top of the elections: a seed with one-entry appends and a follower thousands
   * of entries behind needs it, however healthy the cluster. So does a snapshot in many small
   * chunks: the core resends lost or overtaken chunks at heartbeats, so one chunk per heartbeat is
   * the pace allowed.
   */
  #catchUpTicks(): number {
    const { raft, disk, tickUs, snapshotFillerBytes } = this.#profile;
    const network = quietNetwork(this.#profile);
    let lastIndex = 0;
    for (const host of this.#hosts) lastIndex = Math.max(lastIndex, host.log.lastIndex);
    let lag = 0;
    for (const host of this.#hosts) lag = Math.max(lag, lastIndex - host.appliedLength);
    const entriesPerRoundTrip = (raft.maxEntriesPerAppend ?? 1) * (raft.maxInflightAppends ?? 1);
    const roundTripUs = 2 * (network.delayMaxUs + disk.maxUs);
    const appendTicks = Math.ceil((Math.ceil(lag / entriesPerRoundTrip) * roundTripUs) / tickUs);
    const snapshotBytes = snapshotHeaderBytes + snapshotFillerBytes;
    const chunks = Math.ceil(snapshotBytes / (raft.maxSnapshotChunkBytes ?? snapshotBytes));
    return appendTicks + chunks * (raft.heartbeatTicks ?? 1);
  }

  /** The leader every running member of its configuration follows in its term. */
  #stableLeader(): NodeHost | undefined {
    const leader = this.#leader();
    if (leader === undefined || !leader.leadsWithLog() || leader.status === undefined)
      return undefined;
    const { term } = leader.status;
    for (const host of this.#members(leader)) {
      const status = host.status;
      if (status === undefined || status.leader !== leader.id || status.term !== term)
        return undefined;
    }
    return leader;
  }

  #describeFailure(error: unknown): SimulationFailure {
    const invariant =
      error instanceof InvariantViolation
        ? error.invariant
        : error instanceof AssertionError
          ? assertionSource(error)
          : 'Simulator Error';
    let message = String(error);
    if (error instanceof InvariantViolation) message = error.detail;
    else if (error instanceof AssertionError) message = error.message;
    else if (error instanceof Error) message = error.stack ?? error.message;
    return { invariant, message, timeUs: this.#clock.now, trace: this.#trace.lines() };
  }

  #finalStats(): SimulationStats {
    const disk: DiskStats = { writes: 0, lostAtCrash: 0, survivedCrash: 0 };
    for (const host of this.#hosts) {
      disk.writes += host.disk.stats.writes;
      disk.lostAtCrash += host.disk.stats.lostAtCrash;
      disk.survivedCrash += host.disk.stats.survivedCrash;
    }
    return {
      ...this.#stats,
      leaderTerms: this.#leaderTerms.size,
      committed: this.#history.committed.lastIndex,
      snapshotsInstalled: this.#hosts.reduce((sum, host) => sum + host.snapshotsInstalled, 0),
      disk,
    };
  }
}

function isLost(proposal: Proposal): boolean {
  return proposal.outcome === 'superseded' || proposal.outcome === 'orphaned';
}

/** Whether a failed assertion is the core's own (it checks its invariants too) or the simulator's. */
function assertionSource(error: AssertionError): string {
  const frame = error.stack
    ?.split('\n')
    .find((line) => line.includes(' at ') && !line.includes('/util/assert.'));
  return frame?.includes('/src/raft/') === true ? 'Raft Core Assertion' : 'Simulator Assertion';
}
