/** Small builders for single-node unit tests that drive a RawNode by hand. */
import { SeededRandom } from '../../src/raft/random.js';
import { RawNode, type RawNodeOptions } from '../../src/raft/raw-node.js';
import {
  type AppendEntries,
  type AppendEntriesResponse,
  type Entry,
  EntryType,
  emptyHardState,
  type HardState,
  type Message,
  type NodeId,
  type PreVote,
  type PreVoteResponse,
  type Ready,
  type RequestVote,
  type RequestVoteResponse,
} from '../../src/raft/types.js';

export const electionTicks = 10;

export interface NodeSetup extends Partial<Omit<RawNodeOptions, 'persisted'>> {
  readonly hardState?: HardState;
  /** The persisted log, given as the term of each entry from index 1. */
  readonly terms?: readonly number[];
  readonly seed?: number;
}

/**
 * A node driven by hand. PreVote and CheckQuorum are off unless asked for: the paper's rules are
 * tested on the paper's algorithm, and the extensions in their own files.
 */
export function newNode(setup: NodeSetup = {}): RawNode {
  const { hardState, terms, seed, ...options } = setup;
  return new RawNode({
    id: 1,
    peers: [1, 2, 3],
    electionTicks,
    heartbeatTicks: 1,
    preVote: false,
    checkQuorum: false,
    random: new SeededRandom(seed ?? 1),
    persisted: { hardState: hardState ?? emptyHardState, entries: log(terms ?? []) },
    ...options,
  });
}

/** A log whose entry i + 1 has term terms[i]. */
export function log(terms: readonly number[]): Entry[] {
  return terms.map((term, position) => entry(position + 1, term));
}

export function entry(index: number, term: number, data = `${index}@${term}`): Entry {
  return { index, term, type: EntryType.normal, data: new TextEncoder().encode(data) };
}

/** Takes the node's Ready and acknowledges it, as a host that did all the work would. */
export function take(node: RawNode): Ready {
  const ready = node.ready();
  node.advance();
  return ready;
}

/** Takes Readies until there are none, returning them in order. */
export function drain(node: RawNode): Ready[] {
  const readies: Ready[] = [];
  for (let round = 0; round < 100 && node.hasReady(); round++) readies.push(take(node));
  if (node.hasReady()) throw new Error('the node never ran out of Readies');
  return readies;
}

export function sent(node: RawNode): Message[] {
  return drain(node).flatMap((ready) => ready.messages);
}

export function ofType<T extends Message['type']>(
  messages: readonly Message[],
  type: T,
): Extract<Message, { type: T }>[] {
  return messages.filter(
    (message): message is Extract<Message, { type: T }> => message.type === type,
  );
}

export function tickUntilCampaign(node: RawNode, ticksMax = 2 * electionTicks): number {
  const term = node.status().term;
  for (let ticks = 1; ticks <= ticksMax; ticks++) {
    node.tick();
    if (node.status().term > term) return ticks;
  }
  throw new Error(`node did not campaign within ${ticksMax} ticks`);
}

/** Ticks until `done` holds; returns the ticks it took. */
export function tickUntil(node: RawNode, done: () => boolean, ticksMax: number): number {
  for (let ticks = 1; ticks <= ticksMax; ticks++) {
    node.tick();
    if (done()) return ticks;
  }
  throw new Error(`condition not reached within ${ticksMax} ticks`);
}

/** Makes node 1 of [1, 2, 3] the leader of the next term, with node 2's vote. */
export function electNode1(node: RawNode): void {
  tickUntilCampaign(node);
  const term = node.status().term;
  node.step(voteResponse({ from: 2, term, granted: true }));
  if (node.status().role !== 'leader') throw new Error('node 1 was not elected');
}

export function requestVote(
  fields: Partial<RequestVote> & { from: NodeId; term: number },
): RequestVote {
  return { type: 'RequestVote', to: 1, lastLogIndex: 0, lastLogTerm: 0, ...fields };
}

export function voteResponse(
  fields: Partial<RequestVoteResponse> & { from: NodeId; term: number; granted: boolean },
): RequestVoteResponse {
  return { type: 'RequestVoteResponse', to: 1, ...fields };
}

export function appendEntries(
  fields: Partial<AppendEntries> & { from: NodeId; term: number },
): AppendEntries {
  return {
    type: 'AppendEntries',
    to: 1,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [],
    commit: 0,
    ...fields,
  };
}

export function preVote(fields: Partial<PreVote> & { from: NodeId; term: number }): PreVote {
  return { type: 'PreVote', to: 1, lastLogIndex: 0, lastLogTerm: 0, ...fields };
}

export function preVoteResponse(
  fields: Partial<PreVoteResponse> & { from: NodeId; term: number; granted: boolean },
): PreVoteResponse {
  return { type: 'PreVoteResponse', to: 1, ...fields };
}

export function appendResponse(
  fields: Partial<AppendEntriesResponse> & { from: NodeId; term: number },
): AppendEntriesResponse {
  return {
    type: 'AppendEntriesResponse',
    to: 1,
    success: true,
    matchIndex: 0,
    rejectHint: 0,
    ...fields,
  };
}
