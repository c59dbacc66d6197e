import { assert } from '../util/assert.js';
import { applyConfChange, encodeConfChangeEntry, isMember, isVoter } from './configuration.js';
import { RaftLog } from './log.js';
import { isWellFormedMessage } from './messages.js';
import { Progress, SnapshotTransfer } from './progress.js';
import { committedIndex, hasQuorum, voteResult } from './quorum.js';
import { type ConfirmedRead, ForwardedReads, type LeaderRead, LeaderReads } from './read-only.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import {
  type AppendEntries,
  type AppendEntriesResponse,
  type ConfChange,
  type ConfChangeResult,
  type ConfState,
  type Entry,
  EntryType,
  type Heartbeat,
  type HeartbeatResponse,
  type InstallSnapshot,
  type InstallSnapshotResponse,
  type Message,
  type NodeId,
  noNode,
  type PeerProgress,
  type PersistedState,
  type PreVote,
  type ProposeRefusal,
  type ProposeResult,
  type Random,
  type ReadFailure,
  type ReadIndexResponse,
  type ReadIndexResult,
  type ReadState,
  type RequestVote,
  type Role,
  type Snapshot,
  type TransferResult,
} from './types.js';

/**
 * Deliberate bugs, for tests only: they show that the simulator catches a broken core. Production
 * code never sets them. Each one bypasses the core's own assertion for the rule it breaks, so that
 * it is the simulator's independent checks that must notice.
 */
export interface TestingBugs {
  /** A follower grants its vote to every up-to-date candidate of a term, not just the first. */
  readonly voteTwiceInTerm?: boolean;
  /** A leader commits an entry of an earlier term by counting replicas (Figure 8's mistake). */
  readonly commitOldTermByCounting?: boolean;
  /** The host is handed entries to apply as soon as they are in the log, committed or not. */
  readonly applyBeforeCommit?: boolean;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** The membership before any confChange entry, when the persisted state has no snapshot. */
  readonly bootstrap: ConfState;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly random: Random;
  readonly persisted: PersistedState;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  readonly maxPendingProposals: number;
  readonly maxPendingProposalBytes: number;
  readonly maxInflightAppends: number;
  readonly maxPendingReads: number;
  readonly maxSnapshotChunkBytes: number;
  readonly maxSnapshotChunksInFlight: number;
  readonly maxSnapshotBytes: number;
  /** See RawNodeOptions.deferCommitBroadcast. */
  readonly deferCommitBroadcast: boolean;
  readonly testingBugs: TestingBugs;
}

const emptyData = new Uint8Array(0);

/**
 * The Raft state machine (Ongaro and Ousterhout, "In Search of an Understandable Consensus
 * Algorithm", extended version; § numbers refer to it, "thesis §" to Ongaro's dissertation).
 * Deterministic: its only inputs are tick(), step() and the host's requests, its only randomness
 * the injected Random, and its outputs the messages and read states it queues and the state the
 * RawNode reads from it.
 */
export class Raft {
  readonly id: NodeId;
  readonly log: RaftLog;
  #term: number;
  /** The candidate voted for in #term, or noNode. At most one per term (§5.2). */
  #vote: NodeId;
  #role: Role = 'follower';
  #leader: NodeId = noNode;

  readonly #config: RaftConfig;
  /** Leader only: the replication state of every other member, learners included. */
  readonly #progress = new Map<NodeId, Progress>();
  /** (Pre-)candidate only: the answers received in this election, this node's own included. */
  readonly #votes = new Map<NodeId, boolean>();
  /** Ticks since the leader was last heard from (followers), or since the election began. */
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  /** Redrawn in [electionTicks, 2 * electionTicks) at every reset, so that split votes end (§5.2). */
  #randomizedElectionTimeout = 0;
  #messages: Message[] = [];
  #readStates: ReadState[] = [];
  /** Leader only: new entries to send at the next flush, so that proposals batch (see flush()). */
  #broadcastEntriesPending = false;
  /** Leader only: the commit index advanced and followers should hear of it at the next flush. */
  #broadcastCommitPending = false;
  /** Leader only: the voter leadership is being handed to (thesis §3.10), or noNode. */
  #leadTransferee: NodeId = noNode;
  #transferElapsed = 0;
  #timeoutNowSent = false;
  /** Leader only: the bytes of data in uncommitted entries, bounded by maxPendingProposalBytes. */
  #uncommittedBytes = 0;
  #leaderReads: LeaderReads;
  readonly #forwardedReads: ForwardedReads;
  /** Follower only: the snapshot being received from the leader, chunk by chunk. */
  #snapshotReceiver: SnapshotReceiver | undefined = undefined;
  readonly #bugs: TestingBugs;

  constructor(config: RaftConfig) {
    this.#config = config;
    this.#bugs = config.testingBugs;
    this.id = config.id;
    const { hardState, entries, snapshot } = config.persisted;
    this.log = new RaftLog(entries, Math.max(hardState.commit, snapshot?.index ?? 0), {
      snapshot,
      bootstrap: config.bootstrap,
    });
    assert(Number.isInteger(hardState.term) && hardState.term >= 0, 'bad persisted term');
    assert(
      this.log.lastTerm() <= hardState.term,
      'the persisted log is ahead of the persisted term',
    );
    assert(
      hardState.vote === noNode || (Number.isSafeInteger(hardState.vote) && hardState.vote >= 1),
      `persisted vote for ${hardState.vote}, which is no node id`,
    );
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#leaderReads = new LeaderReads(config.maxPendingReads);
    this.#forwardedReads = new ForwardedReads(config.maxPendingReads, config.electionTicks);
    this.#becomeFollower(this.#term, noNode);
    // A cluster of one needs nobody's vote: it elects itself now, so that it serves at once.
    const voters = this.confState().voters;
    if (voters.length === 1 && voters[0] === this.id) this.#hup(false);
    this.assertInvariants();
  }

  get term(): number {
    return this.#term;
  }

  get vote(): NodeId {
    return this.#vote;
  }

  get role(): Role {
    return this.#role;
  }

  get leader(): NodeId {
    return this.#leader;
  }

  /** The membership in effect: the latest in the log, committed or not (thesis §4.1). */
  confState(): ConfState {
    return this.log.config.current();
  }

  /** Time passes by one tick: followers and candidates may start an election, leaders heartbeat. */
  tick(): void {
    if (this.#role === 'leader') this.#tickLeader();
    else this.#tickNonLeader();
    this.assertInvariants();
  }

  step(message: Message): void {
    if (message.to !== this.id || message.from === this.id || !isWellFormedMessage(message)) return;
    if (message.term > this.#term) {
      if (!this.#acceptHigherTerm(message)) return;
    } else if (message.term < this.#term) {
      this.#answerStale(message);
      return;
    }
    switch (this.#role) {
      case 'leader':
        this.#stepLeader(message);
        break;
      case 'pre-candidate':
      case 'candidate':
        this.#stepCandidate(message);
        break;
      case 'follower':
        this.#stepFollower(message);
        break;
    }
    this.assertInvariants();
  }

  /** The host asks for an election now, as if the election timeout had elapsed. */
  campaign(): void {
    if (this.#role !== 'leader') this.#hup(false);
    this.assertInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.#proposalRefusal(data.length);
    if (refusal !== undefined) return { ok: false, reason: refusal, leader: this.#leader };
    // A copy: the log is immutable, whatever the caller does with its buffer afterwards.
    const entry = this.#appendAsLeader(EntryType.normal, data.slice());
    this.assertInvariants();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * Proposes a single-server membership change (thesis §4.1). It takes effect on every node as soon
   * as its entry is in that node's log, and is undone if the entry is truncated.
   */
  proposeConfChange(change: ConfChange): ConfChangeResult {
    const refuse = (reason: Exclude<ConfChangeResult, { ok: true }>['reason'], detail: string) =>
      ({ ok: false, reason, leader: this.#leader, detail }) as const;
    const refusal = this.#proposalRefusal(0);
    if (refusal !== undefined) return refuse(refusal, `cannot propose: ${refusal}`);
    if (this.log.term(this.log.committed) !== this.#term) {
      return refuse('leader-not-ready', `leader of term ${this.#term} has committed nothing yet`);
    }
    const pendingIndex = this.log.config.latestIndex();
    if (pendingIndex > this.log.committed) {
      return refuse('change-pending', `the change at index ${pendingIndex} is not committed yet`);
    }
    const applied = applyConfChange(this.confState(), change);
    if (!applied.ok) return refuse('invalid-change', applied.detail);
    if (change.type === 'promote-learner') {
      const progress = this.#progressFor(change.node);
      if (progress.match + this.#config.maxEntriesPerAppend < this.log.lastIndex()) {
        return refuse('learner-behind', `learner ${change.node} matches up to ${progress.match}`);
      }
    }
    const data = encodeConfChangeEntry({ change, confState: applied.confState });
    const entry = this.#appendAsLeader(EntryType.confChange, data);
    this.assertInvariants();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * A linearizable read (thesis §6.4). On the leader it joins the next quorum round; on a follower
   * it is forwarded to the leader. Its answer comes in a later Ready's readStates.
   */
  readIndex(requestId: number): ReadIndexResult {
    assert(Number.isSafeInteger(requestId), `read request id ${requestId} is not an integer`);
    if (this.#role === 'leader') {
      if (this.#leaderReads.isFull()) {
        return { ok: false, reason: 'too-many-pending', leader: this.id };
      }
      this.#leaderRead({ requestId, from: this.id });
    } else if (this.#leader === noNode) {
      return { ok: false, reason: 'no-leader', leader: noNode };
    } else if (this.#forwardedReads.isFull()) {
      return { ok: false, reason: 'too-many-pending', leader: this.#leader };
    } else {
      this.#forwardedReads.add(requestId);
      this.#send({
        type: 'ReadIndex',
        from: this.id,
        to: this.#leader,
        term: this.#term,
        requestId,
      });
    }
    this.assertInvariants();
    return { ok: true };
  }

  /**
   * Leadership transfer (thesis §3.10): the leader stops taking proposals, brings `to` up to date,
   * then tells it to campaign at once. Abandoned after an election timeout.
   */
  transferLeadership(to: NodeId): TransferResult {
    if (this.#role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.#leader };
    if (to === this.id) {
      this.#abortTransfer();
      return { ok: true };
    }
    if (!isVoter(this.confState(), to)) {
      return { ok: false, reason: 'not-a-voter', leader: this.id };
    }
    if (this.#leadTransferee !== to) {
      this.#leadTransferee = to;
      this.#transferElapsed = 0;
      this.#timeoutNowSent = false;
    }
    if (!this.#maybeSendTimeoutNow(to)) {
      // Start catching the target up now rather than at the next heartbeat: what is in flight to
      // it may have been lost, and one duplicate probe (or empty append, which a follower that
      // missed entries rejects) costs little.
      const progress = this.#progressFor(to);
      if (progress.state === 'probe') progress.probeSent = false;
      if (!this.#sendAppends(to)) this.#sendCommit(to);
    }
    this.assertInvariants();
    return { ok: true };
  }

  /**
   * The host took a snapshot of its state machine at applied index `index`: the log before it is
   * dropped. The core keeps `data` (the host must not modify it) to send to lagging followers.
   * Returns the snapshot for the host to persist, or undefined if the log is compacted past it.
   */
  compact(index: number, data: Uint8Array): Snapshot | undefined {
    if (index <= this.log.snapshotIndex()) return undefined;
    const snapshot = this.log.compact(index, data);
    this.assertInvariants();
    return snapshot;
  }

  /**
   * Sends what the leader deferred: proposals are only appended when they arrive, and go out here,
   * once per Ready, so that every proposal of one host turn travels in the same AppendEntries; the
   * same for the quorum round of the reads that arrived in that turn.
   */
  flush(): void {
    if (this.#role !== 'leader') return;
    const round = this.#leaderReads.takeRoundToSend();
    if (round !== undefined) {
      for (const voter of this.#voterPeers()) {
        const heartbeat: Heartbeat = {
          type: 'Heartbeat',
          from: this.id,
          to: voter,
          term: this.#term,
          readRound: round,
        };
        this.#send(heartbeat);
      }
    }
    if (!this.#broadcastEntriesPending && !this.#broadcastCommitPending) return;
    // Deferred, a commit index travels with the next entries, a heartbeat, or broadcastCommit().
    const sendCommit = this.#broadcastCommitPending && !this.#config.deferCommitBroadcast;
    this.#broadcastEntriesPending = false;
    this.#broadcastCommitPending = false;
    for (const peer of this.#progress.keys()) {
      const sentEntries = this.#sendAppends(peer);
      if (!sentEntries && sendCommit) this.#sendCommit(peer);
    }
  }

  /** Leader only: whether a follower has not been sent the commit index yet (see deferral). */
  owesCommit(): boolean {
    if (this.#role !== 'leader') return false;
    for (const progress of this.#progress.values()) {
      if (this.#owesCommitTo(progress)) return true;
    }
    return false;
  }

  /** Leader only: sends the commit index to every follower not sent it yet. */
  broadcastCommit(): void {
    if (this.#role !== 'leader') return;
    for (const [peer, progress] of this.#progress) {
      if (this.#owesCommitTo(progress)) this.#sendCommit(peer);
    }
  }

  /**
   * Only a follower being replicated to is owed: one being probed or sent a snapshot hears of the
   * commit index with what brings its log up to date.
   */
  #owesCommitTo(progress: Progress): boolean {
    return progress.state === 'replicate' && progress.commitSent < this.log.committed;
  }

  hasPendingMessages(): boolean {
    return (
      this.#messages.length > 0 ||
      this.#broadcastEntriesPending ||
      this.#broadcastCommitPending ||
      (this.#role === 'leader' && this.#leaderReads.hasRoundToSend())
    );
  }

  /** The messages queued since the last call, to be sent once what they promise is durable. */
  takeMessages(): Message[] {
    const messages = this.#messages;
    this.#messages = [];
    return messages;
  }

  hasReadStates(): boolean {
    return this.#readStates.length > 0;
  }

  takeReadStates(): ReadState[] {
    const readStates = this.#readStates;
    this.#readStates = [];
    return readStates;
  }

  /** Leader only: the replication state of a follower, for tests and status pages. */
  progressOf(peer: NodeId): Progress | undefined {
    return this.#progress.get(peer);
  }

  peerProgress(): PeerProgress[] {
    return [...this.#progress].map(([id, progress]) => ({
      id,
      isLearner: progress.isLearner,
      state: progress.state,
      match: progress.match,
      next: progress.next,
    }));
  }

  assertInvariants(): void {
    const log = this.log;
    assert(
      log.snapshotIndex() <= log.applied &&
        log.applied <= log.committed &&
        log.committed <= log.lastIndex(),
      'snapshot <= applied <= commit <= last',
    );
    assert(log.lastTerm() <= this.#term, 'no entry may come from a future term');
    switch (this.#role) {
      case 'leader': {
        assert(this.#leader === this.id && this.#vote === this.id, 'a leader voted for itself');
        const members = this.#memberPeers();
        const learners = this.confState().learners;
        assert(
          this.#progress.size === members.length &&
            members.every((id) => this.#progress.get(id)?.isLearner === learners.includes(id)),
          'a leader tracks every other member, learners as learners',
        );
        break;
      }
      case 'candidate':
        assert(this.#leader === noNode && this.#vote === this.id, 'a candidate votes for itself');
        break;
      case 'pre-candidate':
        assert(this.#leader === noNode, 'a pre-candidate knows no leader');
        break;
      case 'follower':
        assert(this.#progress.size === 0 && this.#leader !== this.id, 'a follower tracks nobody');
        break;
    }
  }

  // --- Time -----------------------------------------------------------------------------------

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    for (const progress of this.#progress.values()) progress.ticksSinceHeard++;
    // CheckQuorum: a leader that has not heard from a quorum for an election timeout may have been
    // replaced on the other side of a partition. It steps down rather than serve stale reads or
    // hold proposals that cannot commit.
    if (this.#config.checkQuorum && !this.#quorumRecentlyActive()) {
      this.#becomeFollower(this.#term, noNode);
      return;
    }
    if (this.#leadTransferee !== noNode && ++this.#transferElapsed >= this.#config.electionTicks) {
      this.#abortTransfer();
    }
    if (this.#heartbeatElapsed >= this.#config.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      for (const peer of this.#progress.keys()) this.#sendHeartbeat(peer);
      this.#resendReadRound();
    }
  }

  /**
   * A read round's Heartbeat or its answer may be lost. With reads still waiting, the round is
   * sent again every heartbeat to the voters that have not answered it (as etcd's heartbeats
   * carry the last pending read's context), so a loss delays reads instead of stalling them.
   */
  #resendReadRound(): void {
    const round = this.#leaderReads.roundAwaitingAnswers();
    if (round === undefined) return;
    for (const voter of this.#voterPeers()) {
      if (this.#leaderReads.answeredRound(voter) >= round) continue;
      this.#send({
        type: 'Heartbeat',
        from: this.id,
        to: voter,
        term: this.#term,
        readRound: round,
      });
    }
  }

  #tickNonLeader(): void {
    for (const requestId of this.#forwardedReads.tick()) this.#failRead(requestId, 'timeout');
    this.#electionElapsed++;
    // §5.2: a follower that hears from no leader and grants no vote for an election timeout
    // starts an election; so does a candidate whose election ended without a winner. Only voters.
    if (
      isVoter(this.confState(), this.id) &&
      this.#electionElapsed >= this.#randomizedElectionTimeout
    ) {
      this.#hup(false);
    }
  }

  #quorumRecentlyActive(): boolean {
    const voters = this.confState().voters;
    const active = voters.filter(
      (voter) =>
        voter === this.id || this.#progressFor(voter).ticksSinceHeard < this.#config.electionTicks,
    );
    return hasQuorum(active.length, voters.length);
  }

  /** Whether this node has heard from a live leader within the minimum election timeout. */
  #inLease(): boolean {
    if (this.#role === 'leader') return true;
    return this.#leader !== noNode && this.#electionElapsed < this.#config.electionTicks;
  }

  // --- Dispatch -------------------------------------------------------------------------------

  /** §5.1: a higher term means this node is out of date. Returns whether to handle the message. */
  #acceptHigherTerm(message: Message): boolean {
    switch (message.type) {
      case 'PreVote':
        // A pre-vote asks about a term nobody is in yet: nothing changes until a real election.
        return true;
      case 'PreVoteResponse':
        if (message.granted) return true;
        break;
      case 'RequestVote':
        // Thesis §4.2.3: a node that hears from a live leader ignores candidates, so that a node
        // removed from the cluster (or cut off, without PreVote) cannot depose it. A transfer is
        // the leader's own wish, and passes.
        if (this.#config.checkQuorum && this.#inLease() && message.leadershipTransfer !== true) {
          return false;
        }
        break;
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
      case 'TimeoutNow':
        // Only a leader sends these, so their sender leads the new term.
        this.#becomeFollower(message.term, message.from);
        return true;
      default:
        break;
    }
    this.#becomeFollower(message.term, noNode);
    return true;
  }

  #stepLeader(message: Message): void {
    const progress = this.#progress.get(message.from);
    if (progress !== undefined) progress.ticksSinceHeard = 0;
    switch (message.type) {
      case 'RequestVote':
        this.#handleRequestVote(message);
        break;
      case 'PreVote':
        this.#handlePreVote(message);
        break;
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
      case 'TimeoutNow':
        // Election Safety (§5.2): one leader per term. Only a bug can bring us here.
        assert(
          false,
          `node ${message.from} claims to lead term ${message.term}, led by ${this.id}`,
        );
        break;
      case 'AppendEntriesResponse':
        this.#handleAppendResponse(message);
        break;
      case 'HeartbeatResponse':
        this.#handleHeartbeatResponse(message);
        break;
      case 'InstallSnapshotResponse':
        this.#handleSnapshotResponse(message);
        break;
      case 'ReadIndex':
        this.#handleForwardedRead(message.from, message.requestId);
        break;
      case 'RequestVoteResponse':
      case 'PreVoteResponse':
      case 'ReadIndexResponse':
        // Answers to an election already won, or to a read forwarded before this node led.
        break;
    }
  }

  #stepCandidate(message: Message): void {
    switch (message.type) {
      case 'RequestVote':
        this.#handleRequestVote(message);
        break;
      case 'PreVote':
        this.#handlePreVote(message);
        break;
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
        // §5.2: another node leads this term; recognize it and return to follower.
        this.#becomeFollower(message.term, message.from);
        this.#stepFollower(message);
        break;
      case 'RequestVoteResponse':
        if (this.#role === 'candidate') this.#handleVoteResponse(message.from, message.granted);
        break;
      case 'PreVoteResponse':
        // Granted pre-votes carry the term asked about; refusals this node's own term.
        if (
          this.#role === 'pre-candidate' &&
          message.term === (message.granted ? this.#term + 1 : this.#term)
        ) {
          this.#handleVoteResponse(message.from, message.granted);
        }
        break;
      case 'ReadIndex':
        this.#refuseForwardedRead(message.from, message.requestId, 'not-leader');
        break;
      case 'TimeoutNow':
      case 'AppendEntriesResponse':
      case 'HeartbeatResponse':
      case 'InstallSnapshotResponse':
      case 'ReadIndexResponse':
        // Meant for a leader of this term, or for a follower of one: not this node.
        break;
    }
  }

  #stepFollower(message: Message): void {
    switch (message.type) {
      case 'RequestVote':
        this.#handleRequestVote(message);
        break;
      case 'PreVote':
        this.#handlePreVote(message);
        break;
      case 'AppendEntries':
        this.#heardFromLeader(message.from);
        this.#handleAppendEntries(message);
        break;
      case 'Heartbeat':
        this.#heardFromLeader(message.from);
        this.#send({
          type: 'HeartbeatResponse',
          from: this.id,
          to: message.from,
          term: this.#term,
          readRound: message.readRound,
        });
        break;
      case 'InstallSnapshot':
        this.#heardFromLeader(message.from);
        this.#handleInstallSnapshot(message);
        break;
      case 'TimeoutNow':
        // Thesis §3.10: the leader hands over. Campaign now, without a pre-vote: the voters still
        // hear from that leader, and the RequestVote says why it comes.
        if (message.from === this.#leader && isVoter(this.confState(), this.id)) {
          this.#campaign(true);
        }
        break;
      case 'ReadIndex':
        this.#refuseForwardedRead(message.from, message.requestId, 'not-leader');
        break;
      case 'ReadIndexResponse':
        this.#handleReadIndexResponse(message);
        break;
      case 'RequestVoteResponse':
      case 'PreVoteResponse':
      case 'AppendEntriesResponse':
      case 'HeartbeatResponse':
      case 'InstallSnapshotResponse':
        // Answers to a candidacy or leadership of this term that this node has already left.
        break;
    }
  }

  #heardFromLeader(leader: NodeId): void {
    assert(
      this.#leader === noNode || this.#leader === leader,
      `two leaders in term ${this.#term}: ${this.#leader} and ${leader}`,
    );
    this.#leader = leader;
    this.#electionElapsed = 0;
  }

  /** §5.1: a message from an older term is refused with our term, so its sender catches up. */
  #answerStale(message: Message): void {
    const reply = { from: this.id, to: message.from, term: this.#term };
    switch (message.type) {
      case 'RequestVote':
        this.#send({ type: 'RequestVoteResponse', ...reply, granted: false });
        break;
      case 'PreVote':
        // Also how a node that was cut off learns the cluster's term without disrupting it.
        this.#send({ type: 'PreVoteResponse', ...reply, granted: false });
        break;
      case 'AppendEntries':
        this.#send({
          type: 'AppendEntriesResponse',
          ...reply,
          success: false,
          matchIndex: 0,
          rejectHint: this.log.lastIndex() + 1,
        });
        break;
      case 'Heartbeat':
        this.#send({ type: 'HeartbeatResponse', ...reply, readRound: message.readRound });
        break;
      case 'InstallSnapshot':
        this.#send({
          type: 'InstallSnapshotResponse',
          ...reply,
          snapshotIndex: message.snapshot.index,
          receivedBytes: 0,
          installed: false,
          matchIndex: 0,
        });
        break;
      default:
        // Stale responses answer questions this node no longer asks: they are dropped.
        break;
    }
  }

  // --- Elections ------------------------------------------------------------------------------

  /** The election timeout elapsed (or the host asked): a pre-vote first, if enabled. */
  #hup(transfer: boolean): void {
    if (!isVoter(this.confState(), this.id)) return;
    if (this.#config.preVote && !transfer) this.#preCampaign();
    else this.#campaign(transfer);
  }

  #preCampaign(): void {
    this.#becomePreCandidate();
    if (this.#tallyVotes() === 'won') {
      this.#campaign(false);
      return;
    }
    for (const voter of this.#voterPeers()) {
      const preVote: PreVote = {
        type: 'PreVote',
        from: this.id,
        to: voter,
        term: this.#term + 1,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
      };
      this.#send(preVote);
    }
  }

  #campaign(transfer: boolean): void {
    this.#becomeCandidate();
    if (this.#tallyVotes() === 'won') {
      this.#becomeLeader();
      return;
    }
    for (const voter of this.#voterPeers()) {
      const request: RequestVote = {
        type: 'RequestVote',
        from: this.id,
        to: voter,
        term: this.#term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        ...(transfer ? { leadershipTransfer: true } : {}),
      };
      this.#send(request);
    }
  }

  #handleRequestVote(message: RequestVote): void {
    // §5.2: one vote per term, first come first served; a node that already follows a leader in
    // this term does not help anyone else get elected in it (as etcd does).
    const voteFree =
      this.#vote === noNode || (this.#bugs.voteTwiceInTerm === true && this.#role === 'follower');
    const canVote = this.#vote === message.from || (voteFree && this.#leader === noNode);
    // §5.4.1: only for a candidate whose log is at least as up-to-date as ours.
    const granted = canVote && this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    if (granted) {
      this.#setVote(message.from);
      this.#electionElapsed = 0;
    }
    this.#send({
      type: 'RequestVoteResponse',
      from: this.id,
      to: message.from,
      term: this.#term,
      granted,
    });
  }

  /**
   * Thesis §9.6: a pre-vote is granted to a candidate whose log is up to date, for a term above
   * ours, unless we heard from a live leader within an election timeout. Nothing is recorded.
   */
  #handlePreVote(message: PreVote): void {
    const granted =
      message.term > this.#term &&
      !this.#inLease() &&
      this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    this.#send({
      type: 'PreVoteResponse',
      from: this.id,
      to: message.from,
      term: granted ? message.term : this.#term,
      granted,
    });
  }

  #handleVoteResponse(from: NodeId, granted: boolean): void {
    if (!isVoter(this.confState(), from) || this.#votes.has(from)) return;
    this.#votes.set(from, granted);
    const result = this.#tallyVotes();
    if (result === 'won') {
      if (this.#role === 'pre-candidate') this.#campaign(false);
      else this.#becomeLeader();
    } else if (result === 'lost') {
      this.#becomeFollower(this.#term, noNode);
    }
  }

  #tallyVotes(): 'won' | 'lost' | 'pending' {
    const voters = this.confState().voters;
    let granted = 0;
    let denied = 0;
    for (const [voter, vote] of this.#votes) {
      if (!voters.includes(voter)) continue;
      if (vote) granted++;
      else denied++;
    }
    return voteResult(granted, denied, voters.length);
  }

  // --- Replication: the follower side ---------------------------------------------------------

  /** §5.3: the consistency check, then the append with conflict truncation, then the commit. */
  #handleAppendEntries(message: AppendEntries): void {
    let { prevLogIndex, prevLogTerm, entries } = message;
    if (prevLogIndex < this.log.snapshotIndex()) {
      // The start is compacted away here. Everything up to our commit index is in every later
      // leader's log (Leader Completeness, §5.4), so the check restarts from the commit index.
      const committed = this.log.committed;
      const atCommit = entries.find((entry) => entry.index === committed);
      assert(
        atCommit === undefined || atCommit.term === this.log.term(committed),
        `committed entry ${committed} conflicts with the leader`,
      );
      entries = entries.filter((entry) => entry.index > committed);
      if (entries.length === 0) {
        this.#answerAppend(message.from, true, committed, 0);
        return;
      }
      prevLogIndex = committed;
      prevLogTerm = this.log.term(committed);
    }
    if (prevLogIndex > this.log.lastIndex()) {
      this.#answerAppend(message.from, false, 0, this.log.lastIndex() + 1);
      return;
    }
    if (!this.log.matchTerm(prevLogIndex, prevLogTerm)) {
      // Leader Completeness (§5.4): every leader holds every committed entry, so no committed
      // entry can conflict with one.
      assert(
        prevLogIndex > this.log.committed,
        `committed entry ${prevLogIndex} conflicts with the leader`,
      );
      this.#answerAppend(message.from, false, 0, this.log.firstIndexOfTermAt(prevLogIndex));
      return;
    }
    const lastNewIndex = this.log.appendAfter(prevLogIndex, entries);
    // Entries past lastNewIndex were not checked against the leader's log: commit stops there.
    const commit = Math.min(message.commit, lastNewIndex);
    if (commit > this.log.committed) this.log.commitTo(commit);
    this.#answerAppend(message.from, true, lastNewIndex, 0);
  }

  #answerAppend(to: NodeId, success: boolean, matchIndex: number, rejectHint: number): void {
    const response: AppendEntriesResponse = {
      type: 'AppendEntriesResponse',
      from: this.id,
      to,
      term: this.#term,
      success,
      matchIndex,
      rejectHint,
    };
    this.#send(response);
  }

  /**
   * §7: the chunks of a snapshot gather until the last; then it replaces the log, unless the log
   * already holds its last entry (then only the commit index moves).
   */
  #handleInstallSnapshot(message: InstallSnapshot): void {
    const index = message.snapshot.index;
    if (index <= this.log.committed) {
      this.#snapshotReceiver = undefined;
      this.#answerSnapshot(message, 0, true, this.log.committed);
      return;
    }
    if (message.totalBytes > this.#config.maxSnapshotBytes) {
      // Too big to take in memory: refuse every chunk. The operator must raise maxSnapshotBytes.
      this.#answerSnapshot(message, 0, false, 0);
      return;
    }
    let receiver = this.#snapshotReceiver;
    if (receiver === undefined || !receiver.belongs(message)) {
      if (message.offset !== 0) {
        this.#answerSnapshot(message, 0, false, 0);
        return;
      }
      receiver = new SnapshotReceiver(message);
      this.#snapshotReceiver = receiver;
    }
    const snapshot = receiver.accept(message);
    if (snapshot === undefined) {
      this.#answerSnapshot(message, receiver.receivedBytes, false, 0);
      return;
    }
    this.#snapshotReceiver = undefined;
    if (this.log.hasTerm(index) && this.log.term(index) === snapshot.term) {
      this.log.commitTo(index);
    } else {
      this.log.restore(snapshot);
    }
    this.#answerSnapshot(message, snapshot.data.length, true, index);
  }

  #answerSnapshot(
    message: InstallSnapshot,
    receivedBytes: number,
    installed: boolean,
    matchIndex: number,
  ): void {
    const response: InstallSnapshotResponse = {
      type: 'InstallSnapshotResponse',
      from: this.id,
      to: message.from,
      term: this.#term,
      snapshotIndex: message.snapshot.index,
      receivedBytes,
      installed,
      matchIndex,
    };
    this.#send(response);
  }

  // --- Replication: the leader side -----------------------------------------------------------

  #handleAppendResponse(message: AppendEntriesResponse): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return; // Not a member (any more).
    if (!message.success) {
      // An answer to an append sent before the snapshot began: the snapshot decides now.
      if (progress.state === 'snapshot') return;
      // The follower's log does not match at the index we tried: probe backwards from its hint.
      if (progress.state === 'replicate') progress.becomeProbe();
      progress.decreaseTo(message.rejectHint);
      this.#sendAppend(message.from, true);
      return;
    }
    if (message.matchIndex > this.log.lastIndex()) return; // Cannot come from this leader's log.
    // A success that moves nothing (a duplicate, or an answer overtaken by a later one) does not
    // unpause a probe: each such answer would beget another append, and duplicates a storm. A
    // probe whose answer was lost is sent again at the next heartbeat.
    if (progress.maybeUpdate(message.matchIndex)) {
      if (progress.state === 'probe') progress.becomeReplicate();
      else if (progress.state === 'snapshot' && progress.match >= (progress.snapshot?.index ?? 0)) {
        progress.becomeReplicate();
      }
      this.#maybeCommit();
      if (this.#role !== 'leader') return;
    }
    if (!this.#maybeSendTimeoutNow(message.from)) this.#sendAppends(message.from);
  }

  #handleSnapshotResponse(message: InstallSnapshotResponse): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return;
    if (message.installed) {
      if (message.matchIndex > this.log.lastIndex()) return;
      // A duplicate or overtaken answer teaches nothing. Acting on it would start a new transfer
      // per copy when the log is compacted again meanwhile: duplicates would make a storm.
      if (!progress.maybeUpdate(message.matchIndex)) return;
      if (progress.state === 'probe') progress.becomeReplicate();
      else if (progress.state === 'snapshot' && progress.match >= (progress.snapshot?.index ?? 0)) {
        progress.becomeReplicate();
      }
      this.#maybeCommit();
      if (this.#role !== 'leader') return;
      if (!this.#maybeSendTimeoutNow(message.from)) this.#sendAppends(message.from);
      return;
    }
    const transfer = progress.snapshot;
    if (transfer === undefined || transfer.index !== message.snapshotIndex) return;
    transfer.acknowledge(message.receivedBytes);
    this.#sendSnapshotChunks(message.from);
  }

  #handleHeartbeatResponse(message: HeartbeatResponse): void {
    const confirmed = this.#leaderReads.acknowledge(
      message.from,
      message.readRound,
      this.confState().voters,
      this.id,
    );
    this.#answerReads(confirmed);
  }

  /** The heartbeat (§5.2) also carries the commit index and, while probing, the probe again. */
  #sendHeartbeat(peer: NodeId): void {
    const progress = this.#progressFor(peer);
    switch (progress.state) {
      case 'probe':
        // The outstanding probe or its answer may have been lost: try again.
        progress.probeSent = false;
        this.#sendAppend(peer, true);
        break;
      case 'replicate':
        this.#sendCommit(peer);
        break;
      case 'snapshot':
        progress.snapshot?.heartbeat();
        this.#sendSnapshotChunks(peer);
        break;
    }
  }

  /**
   * An empty AppendEntries just after the last entry sent. A follower that missed an earlier
   * message rejects it, which turns a silent loss into a probe.
   */
  #sendCommit(peer: NodeId): void {
    const progress = this.#progressFor(peer);
    if (progress.state !== 'replicate') {
      this.#sendAppend(peer, true);
    } else if (progress.next < this.log.firstIndex()) {
      // What the follower needs next is compacted away: whatever is in flight, only the snapshot
      // can bring it up to date (and a full window must not keep it from being sent).
      this.#startSnapshot(peer, progress);
    } else {
      this.#sendAppendEntries(peer, progress.next - 1, []);
    }
  }

  /** Sends as many AppendEntries as the follower's flow control allows. Returns whether any. */
  #sendAppends(peer: NodeId): boolean {
    let sent = false;
    for (let round = 0; round <= this.#config.maxInflightAppends; round++) {
      if (!this.#sendAppend(peer, false)) break;
      sent = true;
    }
    return sent;
  }

  /**
   * One AppendEntries from the follower's next index, if its flow control allows; or, if that
   * index is compacted away, the snapshot instead.
   */
  #sendAppend(peer: NodeId, allowEmpty: boolean): boolean {
    const progress = this.#progressFor(peer);
    if (progress.state === 'snapshot') return this.#sendSnapshotChunks(peer);
    if (progress.isPaused()) return false;
    if (progress.next < this.log.firstIndex()) return this.#startSnapshot(peer, progress);
    const entries = this.log.slice(
      progress.next,
      this.log.lastIndex(),
      this.#config.maxEntriesPerAppend,
      this.#config.maxBytesPerAppend,
    );
    if (entries.length === 0 && !allowEmpty) return false;
    this.#sendAppendEntries(peer, progress.next - 1, entries);
    progress.sent(entries.at(-1)?.index);
    return true;
  }

  #sendAppendEntries(peer: NodeId, prevLogIndex: number, entries: readonly Entry[]): void {
    this.#progressFor(peer).commitSent = this.log.committed;
    this.#send({
      type: 'AppendEntries',
      from: this.id,
      to: peer,
      term: this.#term,
      prevLogIndex,
      prevLogTerm: this.log.term(prevLogIndex),
      entries,
      commit: this.log.committed,
    });
  }

  #startSnapshot(peer: NodeId, progress: Progress): boolean {
    const snapshot = this.log.snapshot;
    assert(snapshot !== undefined, 'a compacted log has a snapshot');
    progress.becomeSnapshot(
      new SnapshotTransfer({
        index: snapshot.index,
        totalBytes: snapshot.data.length,
        chunkBytes: this.#config.maxSnapshotChunkBytes,
        windowChunks: this.#config.maxSnapshotChunksInFlight,
      }),
    );
    return this.#sendSnapshotChunks(peer);
  }

  /** Sends the chunks the transfer's window allows. Returns whether any. */
  #sendSnapshotChunks(peer: NodeId): boolean {
    const progress = this.#progressFor(peer);
    const snapshot = this.log.snapshot;
    const transfer = progress.snapshot;
    assert(snapshot !== undefined && transfer !== undefined, 'no snapshot to send');
    // The log was compacted again since the transfer began: send the newer snapshot instead.
    if (transfer.index !== snapshot.index) return this.#startSnapshot(peer, progress);
    const { index, term, confState } = snapshot;
    let sent = false;
    for (let count = 0; count < this.#config.maxSnapshotChunksInFlight; count++) {
      const chunk = transfer.takeChunk();
      if (chunk === undefined) break;
      this.#send({
        type: 'InstallSnapshot',
        from: this.id,
        to: peer,
        term: this.#term,
        snapshot: { index, term, confState },
        offset: chunk.offset,
        totalBytes: snapshot.data.length,
        data: snapshot.data.subarray(chunk.offset, chunk.end),
        done: chunk.done,
      });
      sent = true;
    }
    return sent;
  }

  /**
   * Advances the commit index to the highest index stored on a majority of voters, the leader
   * counting its own log whole (the host persists a Ready before applying it) if it is a voter.
   * Figure 8 / §5.4.2: only an entry of the current term is committed by counting; earlier ones
   * are committed with it.
   */
  #maybeCommit(): boolean {
    const voters = this.confState().voters;
    if (voters.length === 0) return false;
    const matches = voters.map((voter) =>
      voter === this.id ? this.log.lastIndex() : this.#progressFor(voter).match,
    );
    const index = committedIndex(matches);
    if (index <= this.log.committed) return false;
    if (this.log.term(index) !== this.#term && this.#bugs.commitOldTermByCounting !== true) {
      return false;
    }
    const previous = this.log.committed;
    this.log.commitTo(index);
    // Followers hear of it at the next flush (unless this leader steps down just below).
    this.#broadcastCommitPending = true;
    this.#afterLeaderCommit(previous);
    return true;
  }

  #afterLeaderCommit(previous: number): void {
    for (const entry of this.log.slice(previous + 1, this.log.committed, Number.MAX_SAFE_INTEGER)) {
      this.#uncommittedBytes -= entry.data.length;
    }
    assert(this.#uncommittedBytes >= 0, 'uncommitted bytes went negative');
    // The first commit of the term: the commit index is now known to be current (§8), and the
    // reads that waited for it can join a round.
    if (
      this.log.term(previous) !== this.#term &&
      this.log.term(this.log.committed) === this.#term
    ) {
      for (const read of this.#leaderReads.takeWaiting()) this.#registerRead(read);
    }
    // Thesis §4.2.2: a leader removed from the cluster leads until that change commits, then
    // steps down, handing over to the most caught-up voter rather than wait for a timeout.
    if (
      !isVoter(this.confState(), this.id) &&
      this.log.committed >= this.log.config.latestIndex()
    ) {
      const successor = this.#voterPeers().find(
        (voter) => this.#progressFor(voter).match === this.log.lastIndex(),
      );
      if (successor !== undefined) this.#sendTimeoutNow(successor);
      this.#becomeFollower(this.#term, noNode);
    }
  }

  #appendAsLeader(type: EntryType, data: Uint8Array): Entry {
    assert(this.#role === 'leader', 'only a leader appends on its own');
    const entry: Entry = { term: this.#term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([entry]);
    this.#uncommittedBytes += data.length;
    if (type === EntryType.confChange) this.#membershipChanged();
    this.#broadcastEntriesPending = this.#progress.size > 0;
    this.#maybeCommit();
    return entry;
  }

  /** The leader's membership changed: track the new members, forget the removed ones. */
  #membershipChanged(): void {
    const conf = this.confState();
    for (const peer of [...this.#progress.keys()]) {
      if (!isMember(conf, peer)) this.#progress.delete(peer);
    }
    for (const member of this.#memberPeers()) {
      const learner = conf.learners.includes(member);
      const progress = this.#progress.get(member);
      if (progress === undefined) {
        // Probe from the change itself: the new member's log is found with the usual backtracking.
        this.#progress.set(
          member,
          new Progress(this.log.lastIndex(), this.#config.maxInflightAppends, learner),
        );
      } else {
        progress.isLearner = learner;
      }
    }
    if (this.#leadTransferee !== noNode && !isVoter(conf, this.#leadTransferee)) {
      this.#abortTransfer();
    }
    // A smaller quorum may confirm reads already answered by enough of the remaining voters.
    this.#answerReads(this.#leaderReads.release(conf.voters, this.id));
  }

  #proposalRefusal(bytes: number): ProposeRefusal | undefined {
    if (this.#role !== 'leader') return 'not-leader';
    if (this.#leadTransferee !== noNode) return 'transferring-leadership';
    const pending = this.log.lastIndex() - this.log.committed;
    const tooManyBytes =
      this.#uncommittedBytes > 0 &&
      this.#uncommittedBytes + bytes > this.#config.maxPendingProposalBytes;
    if (pending >= this.#config.maxPendingProposals || tooManyBytes) return 'too-many-pending';
    return undefined;
  }

  // --- Leadership transfer --------------------------------------------------------------------

  /** Sends TimeoutNow if `peer` is the transferee and has caught up. Returns whether it did. */
  #maybeSendTimeoutNow(peer: NodeId): boolean {
    if (peer !== this.#leadTransferee || this.#timeoutNowSent) return false;
    if (this.#progressFor(peer).match !== this.log.lastIndex()) return false;
    this.#sendTimeoutNow(peer);
    this.#timeoutNowSent = true;
    return true;
  }

  #sendTimeoutNow(peer: NodeId): void {
    this.#send({ type: 'TimeoutNow', from: this.id, to: peer, term: this.#term });
  }

  #abortTransfer(): void {
    this.#leadTransferee = noNode;
    this.#transferElapsed = 0;
    this.#timeoutNowSent = false;
  }

  // --- Reads ----------------------------------------------------------------------------------

  #leaderRead(read: LeaderRead): void {
    assert(!this.#leaderReads.isFull(), 'leader reads full');
    if (this.log.term(this.log.committed) !== this.#term) this.#leaderReads.wait(read);
    else this.#registerRead(read);
  }

  #registerRead(read: LeaderRead): void {
    const voters = this.confState().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      // A quorum of one: this node is the leader as long as it exists.
      this.#answerReads([{ ...read, index: this.log.committed }]);
    } else {
      this.#leaderReads.register(read, this.log.committed);
    }
  }

  #answerReads(reads: readonly ConfirmedRead[]): void {
    for (const { requestId, from, index } of reads) {
      if (from === this.id) {
        this.#readStates.push({ requestId, ok: true, index });
      } else {
        // The follower answers once it has applied `index`: with the commit index deferred, it
        // might not know yet that it may. The same link carries both, in order.
        const progress = this.#progress.get(from);
        if (progress !== undefined && this.#owesCommitTo(progress)) this.#sendCommit(from);
        this.#sendReadIndexResponse(from, requestId, 'ok', index);
      }
    }
  }

  #handleForwardedRead(from: NodeId, requestId: number): void {
    if (this.#leaderReads.isFull()) this.#refuseForwardedRead(from, requestId, 'too-many-pending');
    else this.#leaderRead({ requestId, from });
  }

  #refuseForwardedRead(
    from: NodeId,
    requestId: number,
    result: 'not-leader' | 'too-many-pending',
  ): void {
    this.#sendReadIndexResponse(from, requestId, result, 0);
  }

  #sendReadIndexResponse(
    to: NodeId,
    requestId: number,
    result: ReadIndexResponse['result'],
    index: number,
  ): void {
    this.#send({
      type: 'ReadIndexResponse',
      from: this.id,
      to,
      term: this.#term,
      requestId,
      result,
      index,
    });
  }

  #handleReadIndexResponse(message: ReadIndexResponse): void {
    if (!this.#forwardedReads.resolve(message.requestId)) return; // Failed already, or not ours.
    if (message.result === 'ok') {
      this.#readStates.push({ requestId: message.requestId, ok: true, index: message.index });
    } else {
      this.#failRead(
        message.requestId,
        message.result === 'too-many-pending' ? 'too-many-pending' : 'leader-changed',
      );
    }
  }

  #failRead(requestId: number, reason: ReadFailure): void {
    this.#readStates.push({ requestId, ok: false, reason });
  }

  /** The node leaves its role: reads that counted on it (or on its leader) fail, to be retried. */
  #failPendingReads(): void {
    for (const { requestId, from } of this.#leaderReads.drain()) {
      if (from === this.id) this.#failRead(requestId, 'leader-changed');
      else this.#refuseForwardedRead(from, requestId, 'not-leader');
    }
    for (const requestId of this.#forwardedReads.drain())
      this.#failRead(requestId, 'leader-changed');
  }

  // --- Roles ----------------------------------------------------------------------------------

  #becomeFollower(term: number, leader: NodeId): void {
    assert(term >= this.#term, `term must never decrease (${this.#term} -> ${term})`);
    this.#failPendingReads();
    if (term > this.#term) {
      this.#term = term;
      this.#vote = noNode;
    }
    this.#role = 'follower';
    this.#leader = leader;
    this.#resetRoleState();
  }

  #becomePreCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not campaign');
    this.#failPendingReads();
    this.#role = 'pre-candidate';
    this.#leader = noNode;
    this.#resetRoleState();
    this.#votes.set(this.id, true);
  }

  #becomeCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not campaign');
    this.#failPendingReads();
    this.#term++;
    this.#vote = noNode;
    this.#setVote(this.id);
    this.#role = 'candidate';
    this.#leader = noNode;
    this.#resetRoleState();
    this.#votes.set(this.id, true);
  }

  #becomeLeader(): void {
    assert(this.#role === 'candidate', 'only a candidate becomes leader');
    this.#role = 'leader';
    this.#leader = this.id;
    this.#resetRoleState();
    // Nothing is known of the followers' logs yet: probe each from the end of ours.
    const conf = this.confState();
    for (const member of this.#memberPeers()) {
      const learner = conf.learners.includes(member);
      this.#progress.set(
        member,
        new Progress(this.log.lastIndex() + 1, this.#config.maxInflightAppends, learner),
      );
    }
    const uncommitted = this.log.slice(
      this.log.committed + 1,
      this.log.lastIndex(),
      Number.MAX_SAFE_INTEGER,
    );
    this.#uncommittedBytes = uncommitted.reduce((total, entry) => total + entry.data.length, 0);
    // §8: an entry of the new term, so that entries of earlier terms can commit (Figure 8).
    this.#appendAsLeader(EntryType.noop, emptyData);
  }

  #resetRoleState(): void {
    this.#progress.clear();
    this.#votes.clear();
    this.#broadcastEntriesPending = false;
    this.#broadcastCommitPending = false;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#abortTransfer();
    this.#uncommittedBytes = 0;
    this.#leaderReads = new LeaderReads(this.#config.maxPendingReads);
    this.#snapshotReceiver = undefined;
    const base = this.#config.electionTicks;
    this.#randomizedElectionTimeout = base + this.#config.random.nextInt(base);
  }

  #setVote(candidate: NodeId): void {
    assert(
      this.#vote === noNode || this.#vote === candidate || this.#bugs.voteTwiceInTerm === true,
      `a second vote in term ${this.#term}: ${this.#vote} then ${candidate}`,
    );
    this.#vote = candidate;
  }

  #progressFor(peer: NodeId): Progress {
    const progress = this.#progress.get(peer);
    assert(progress !== undefined, `no progress for member ${peer}`);
    return progress;
  }

  /** Every other member, learners included. */
  #memberPeers(): NodeId[] {
    const { voters, learners } = this.confState();
    return [...voters, ...learners].filter((member) => member !== this.id);
  }

  #voterPeers(): NodeId[] {
    return this.confState().voters.filter((voter) => voter !== this.id);
  }

  #send(message: Message): void {
    this.#messages.push(message);
  }
}
