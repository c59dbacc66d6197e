import { assert } from '../util/assert.js';
import { RaftLog } from './log.js';
import { isWellFormedMessage } from './messages.js';
import { Progress } from './progress.js';
import { committedIndex, voteResult } from './quorum.js';
import {
  type AppendEntries,
  type AppendEntriesResponse,
  type Entry,
  EntryType,
  type Message,
  type NodeId,
  noNode,
  type PersistedState,
  type ProposeResult,
  type Random,
  type RequestVote,
  type RequestVoteResponse,
  type Role,
} from './types.js';

export interface RaftConfig {
  readonly id: NodeId;
  /** Every voter, this node included. */
  readonly voters: readonly NodeId[];
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly random: Random;
  readonly persisted: PersistedState;
  readonly maxEntriesPerAppend: number;
  readonly maxPendingProposals: number;
  readonly maxInflightAppends: number;
}

const emptyData = new Uint8Array(0);

/**
 * The Raft state machine (Ongaro and Ousterhout, "In Search of an Understandable Consensus
 * Algorithm", extended version; § numbers below refer to it). Deterministic: its only inputs are
 * tick(), step() and propose(), its only randomness the injected Random, and its outputs are the
 * messages it queues and the state the RawNode reads from it.
 */
export class Raft {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly log: RaftLog;
  #term: number;
  /** The candidate voted for in #term, or noNode. At most one per term (§5.2). */
  #vote: NodeId;
  #role: Role = 'follower';
  #leader: NodeId = noNode;

  readonly #config: RaftConfig;
  /** Leader only: each other voter's replication state. */
  readonly #progress = new Map<NodeId, Progress>();
  /** Candidate only: the answers received in this election, this node's own included. */
  readonly #votes = new Map<NodeId, boolean>();
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  /** Redrawn in [electionTicks, 2 * electionTicks) at every reset, so that split votes end (§5.2). */
  #randomizedElectionTimeout = 0;
  #messages: Message[] = [];
  /** Leader only: new entries to send at the next flush, so that proposals batch (see flush()). */
  #broadcastEntriesPending = false;
  /** Leader only: the commit index advanced and followers should hear of it at the next flush. */
  #broadcastCommitPending = false;

  constructor(config: RaftConfig) {
    this.#config = config;
    this.id = config.id;
    this.voters = config.voters;
    const { hardState, entries } = config.persisted;
    this.log = new RaftLog(entries, hardState.commit);
    assert(Number.isInteger(hardState.term) && hardState.term >= 0, 'bad persisted term');
    assert(
      this.log.lastTerm() <= hardState.term,
      'the persisted log is ahead of the persisted term',
    );
    assert(
      hardState.vote === noNode || this.voters.includes(hardState.vote),
      `persisted vote for ${hardState.vote}, who is not a voter`,
    );
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#becomeFollower(this.#term, noNode);
    // A cluster of one needs nobody's vote: it elects itself now, so that it serves at once.
    if (this.voters.length === 1) this.#campaign();
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

  /** Time passes by one tick: followers and candidates may start an election, leaders heartbeat. */
  tick(): void {
    if (this.#role === 'leader') {
      this.#heartbeatElapsed++;
      if (this.#heartbeatElapsed >= this.#config.heartbeatTicks) {
        this.#heartbeatElapsed = 0;
        for (const peer of this.#peers()) this.#sendHeartbeat(peer);
      }
    } else {
      this.#electionElapsed++;
      // §5.2: a follower that hears from no leader and grants no vote for an election timeout
      // starts an election; so does a candidate whose election ended without a winner.
      if (this.#electionElapsed >= this.#randomizedElectionTimeout) this.#campaign();
    }
    this.assertInvariants();
  }

  step(message: Message): void {
    if (message.to !== this.id || message.from === this.id) return;
    if (!this.voters.includes(message.from) || !isWellFormedMessage(message)) return;
    if (message.term > this.#term) {
      // §5.1: a higher term means this node is out of date, whatever its role. Only a leader
      // sends AppendEntries, so its sender is the leader of the new term.
      this.#becomeFollower(message.term, message.type === 'AppendEntries' ? message.from : noNode);
    } else if (message.term < this.#term) {
      this.#answerStale(message);
      return;
    }
    switch (this.#role) {
      case 'leader':
        this.#stepLeader(message);
        break;
      case 'candidate':
        this.#stepCandidate(message);
        break;
      case 'follower':
        this.#stepFollower(message);
        break;
    }
    this.assertInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.#role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.#leader };
    if (this.log.lastIndex() - this.log.committed >= this.#config.maxPendingProposals) {
      return { ok: false, reason: 'too-many-pending', leader: this.id };
    }
    // A copy: the log is immutable, whatever the caller does with its buffer afterwards.
    const entry = this.#appendAsLeader(EntryType.normal, data.slice());
    this.assertInvariants();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * Sends what the leader deferred: proposals are only appended when they arrive, and go out here,
   * once per Ready, so that every proposal of one host turn travels in the same AppendEntries.
   */
  flush(): void {
    if (this.#role !== 'leader') return;
    if (!this.#broadcastEntriesPending && !this.#broadcastCommitPending) return;
    const sendCommit = this.#broadcastCommitPending;
    this.#broadcastEntriesPending = false;
    this.#broadcastCommitPending = false;
    for (const peer of this.#peers()) {
      const sentEntries = this.#sendAppends(peer);
      if (!sentEntries && sendCommit) this.#sendCommit(peer);
    }
  }

  hasPendingMessages(): boolean {
    return (
      this.#messages.length > 0 || this.#broadcastEntriesPending || this.#broadcastCommitPending
    );
  }

  /** The messages queued since the last call, to be sent once what they promise is durable. */
  takeMessages(): Message[] {
    const messages = this.#messages;
    this.#messages = [];
    return messages;
  }

  /** Leader only: the replication state of a follower, for tests and status pages. */
  progressOf(peer: NodeId): Progress | undefined {
    return this.#progress.get(peer);
  }

  assertInvariants(): void {
    const log = this.log;
    assert(
      log.applied <= log.committed && log.committed <= log.lastIndex(),
      'applied <= commit <= last',
    );
    assert(log.lastTerm() <= this.#term, 'no entry may come from a future term');
    assert(this.#vote === noNode || this.voters.includes(this.#vote), 'vote for a non-voter');
    switch (this.#role) {
      case 'leader':
        assert(this.#leader === this.id && this.#vote === this.id, 'a leader voted for itself');
        assert(this.#progress.size === this.voters.length - 1, 'a leader tracks every follower');
        break;
      case 'candidate':
        assert(this.#leader === noNode && this.#vote === this.id, 'a candidate votes for itself');
        break;
      case 'follower':
        assert(this.#progress.size === 0 && this.#leader !== this.id, 'a follower tracks nobody');
        break;
    }
  }

  #stepLeader(message: Message): void {
    switch (message.type) {
      case 'RequestVote':
        this.#handleRequestVote(message);
        break;
      case 'AppendEntries':
        // Election Safety (§5.2): one leader per term. Only a bug can bring us here.
        assert(
          false,
          `node ${message.from} claims to lead term ${message.term}, led by ${this.id}`,
        );
        break;
      case 'AppendEntriesResponse':
        this.#handleAppendResponse(message);
        break;
      case 'RequestVoteResponse':
        // A vote that arrived after the election was won: nothing to do.
        break;
    }
  }

  #stepCandidate(message: Message): void {
    switch (message.type) {
      case 'RequestVote':
        this.#handleRequestVote(message);
        break;
      case 'AppendEntries':
        // §5.2: another node won this term's election; recognize it and return to follower.
        this.#becomeFollower(message.term, message.from);
        this.#handleAppendEntries(message);
        break;
      case 'RequestVoteResponse':
        this.#handleVoteResponse(message);
        break;
      case 'AppendEntriesResponse':
        // Nobody was sent AppendEntries by this node in this term.
        break;
    }
  }

  #stepFollower(message: Message): void {
    switch (message.type) {
      case 'RequestVote':
        this.#handleRequestVote(message);
        break;
      case 'AppendEntries':
        assert(
          this.#leader === noNode || this.#leader === message.from,
          `two leaders in term ${this.#term}: ${this.#leader} and ${message.from}`,
        );
        this.#leader = message.from;
        this.#electionElapsed = 0;
        this.#handleAppendEntries(message);
        break;
      case 'RequestVoteResponse':
      case 'AppendEntriesResponse':
        // Answers to a candidacy or leadership of this term that this node has already left.
        break;
    }
  }

  /** §5.1: a message from an older term is refused with our term, so its sender catches up. */
  #answerStale(message: Message): void {
    if (message.type === 'RequestVote') {
      this.#send({
        type: 'RequestVoteResponse',
        from: this.id,
        to: message.from,
        term: this.#term,
        granted: false,
      });
    } else if (message.type === 'AppendEntries') {
      this.#send({
        type: 'AppendEntriesResponse',
        from: this.id,
        to: message.from,
        term: this.#term,
        success: false,
        matchIndex: 0,
        rejectHint: this.log.lastIndex(),
      });
    }
    // Stale responses answer questions this node no longer asks: they are dropped.
  }

  #handleRequestVote(message: RequestVote): void {
    // §5.2: one vote per term, first come first served; a node that already follows a leader in
    // this term does not help anyone else get elected in it (as etcd does).
    const canVote =
      this.#vote === message.from || (this.#vote === noNode && this.#leader === noNode);
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

  #handleVoteResponse(message: RequestVoteResponse): void {
    if (!this.#votes.has(message.from)) this.#votes.set(message.from, message.granted);
    const result = this.#tallyVotes();
    if (result === 'won') this.#becomeLeader();
    else if (result === 'lost') this.#becomeFollower(this.#term, noNode);
  }

  /** §5.3: the consistency check, then the append with conflict truncation, then the commit. */
  #handleAppendEntries(message: AppendEntries): void {
    const { prevLogIndex, prevLogTerm } = message;
    if (prevLogIndex > this.log.lastIndex()) {
      this.#answerAppend(message.from, false, 0, this.log.lastIndex());
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
    const lastNewIndex = this.log.appendAfter(prevLogIndex, message.entries);
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

  #handleAppendResponse(message: AppendEntriesResponse): void {
    const progress = this.#progress.get(message.from);
    assert(progress !== undefined, `no progress for voter ${message.from}`);
    if (!message.success) {
      // The follower's log does not match at the index we tried: probe backwards from its hint.
      if (progress.state === 'replicate') progress.becomeProbe();
      progress.decreaseTo(message.rejectHint);
      this.#sendAppend(message.from, true);
      return;
    }
    if (message.matchIndex > this.log.lastIndex()) return; // Cannot come from this leader's log.
    if (progress.state === 'probe') progress.probeSent = false;
    const updated = progress.maybeUpdate(message.matchIndex);
    if (updated) {
      if (progress.state === 'probe') progress.becomeReplicate();
      if (this.#maybeCommit()) this.#broadcastCommitPending = true;
    }
    this.#sendAppends(message.from);
  }

  /** The heartbeat (§5.2) also carries the commit index and, while probing, the probe again. */
  #sendHeartbeat(peer: NodeId): void {
    const progress = this.#progressFor(peer);
    if (progress.state === 'probe') {
      // The outstanding probe or its answer may have been lost: try again.
      progress.probeSent = false;
      this.#sendAppend(peer, true);
    } else {
      this.#sendCommit(peer);
    }
  }

  /**
   * An empty AppendEntries just after the last entry sent. A follower that missed an earlier
   * message rejects it, which turns a silent loss into a probe.
   */
  #sendCommit(peer: NodeId): void {
    const progress = this.#progressFor(peer);
    if (progress.state === 'probe') {
      this.#sendAppend(peer, true);
      return;
    }
    this.#sendAppendEntries(peer, progress.next - 1, []);
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

  /** One AppendEntries from the follower's next index, if its flow control allows. */
  #sendAppend(peer: NodeId, allowEmpty: boolean): boolean {
    const progress = this.#progressFor(peer);
    if (progress.isPaused()) return false;
    const entries = this.log.slice(
      progress.next,
      this.log.lastIndex(),
      this.#config.maxEntriesPerAppend,
    );
    if (entries.length === 0 && !allowEmpty) return false;
    this.#sendAppendEntries(peer, progress.next - 1, entries);
    progress.sent(entries.at(-1)?.index);
    return true;
  }

  #sendAppendEntries(peer: NodeId, prevLogIndex: number, entries: readonly Entry[]): void {
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

  /**
   * Advances the commit index to the highest index stored on a majority, the leader counting its
   * own log whole (the host persists a Ready before applying it). Figure 8 / §5.4.2: only an entry
   * of the current term is committed by counting; earlier ones are committed with it.
   */
  #maybeCommit(): boolean {
    const matches = this.voters.map((voter) =>
      voter === this.id ? this.log.lastIndex() : this.#progressFor(voter).match,
    );
    const index = committedIndex(matches);
    if (index <= this.log.committed || this.log.term(index) !== this.#term) return false;
    this.log.commitTo(index);
    return true;
  }

  #appendAsLeader(type: EntryType, data: Uint8Array): Entry {
    assert(this.#role === 'leader', 'only a leader appends on its own');
    const entry: Entry = { term: this.#term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([entry]);
    this.#maybeCommit();
    this.#broadcastEntriesPending = this.voters.length > 1;
    return entry;
  }

  #campaign(): void {
    this.#becomeCandidate();
    if (this.#tallyVotes() === 'won') {
      this.#becomeLeader();
      return;
    }
    for (const peer of this.#peers()) {
      this.#send({
        type: 'RequestVote',
        from: this.id,
        to: peer,
        term: this.#term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
      });
    }
  }

  #tallyVotes(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    for (const vote of this.#votes.values()) if (vote) granted++;
    return voteResult(granted, this.#votes.size - granted, this.voters.length);
  }

  #becomeFollower(term: number, leader: NodeId): void {
    assert(term >= this.#term, `term must never decrease (${this.#term} -> ${term})`);
    if (term > this.#term) {
      this.#term = term;
      this.#vote = noNode;
    }
    this.#role = 'follower';
    this.#leader = leader;
    this.#resetRoleState();
  }

  #becomeCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not campaign');
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
    for (const peer of this.#peers()) {
      this.#progress.set(
        peer,
        new Progress(this.log.lastIndex() + 1, this.#config.maxInflightAppends),
      );
    }
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
    const base = this.#config.electionTicks;
    this.#randomizedElectionTimeout = base + this.#config.random.nextInt(base);
  }

  #setVote(candidate: NodeId): void {
    assert(
      this.#vote === noNode || this.#vote === candidate,
      `a second vote in term ${this.#term}: ${this.#vote} then ${candidate}`,
    );
    this.#vote = candidate;
  }

  #progressFor(peer: NodeId): Progress {
    const progress = this.#progress.get(peer);
    assert(progress !== undefined, `no progress for voter ${peer}`);
    return progress;
  }

  #peers(): NodeId[] {
    return this.voters.filter((voter) => voter !== this.id);
  }

  #send(message: Message): void {
    this.#messages.push(message);
  }
}
