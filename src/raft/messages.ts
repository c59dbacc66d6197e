import { decodeConfChangeEntry } from './configuration.js';
import {
  type AppendEntries,
  type ConfState,
  type Entry,
  EntryType,
  type InstallSnapshot,
  type Message,
} from './types.js';

/**
 * Whether a message that came off the wire is shaped as the protocol promises. The core trusts
 * its peers to follow Raft (a peer that lies about its log can break safety whatever we check),
 * but a malformed message is dropped here rather than tripping an assertion deep inside.
 */
export function isWellFormedMessage(message: Message): boolean {
  if (!isNodeId(message.from) || !isNodeId(message.to) || !isCount(message.term)) return false;
  if (message.term < 1) return false;
  switch (message.type) {
    case 'RequestVote':
    case 'PreVote':
      return (
        isCount(message.lastLogIndex) &&
        isCount(message.lastLogTerm) &&
        message.lastLogTerm <= message.term &&
        (message.lastLogIndex === 0) === (message.lastLogTerm === 0) &&
        (message.type === 'PreVote' ||
          message.leadershipTransfer === undefined ||
          typeof message.leadershipTransfer === 'boolean')
      );
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      return typeof message.granted === 'boolean';
    case 'AppendEntries':
      return isWellFormedAppend(message);
    case 'AppendEntriesResponse':
      return (
        typeof message.success === 'boolean' &&
        isCount(message.matchIndex) &&
        isCount(message.rejectHint)
      );
    case 'Heartbeat':
    case 'HeartbeatResponse':
      return isCount(message.readRound);
    case 'ReadIndex':
      return Number.isSafeInteger(message.requestId);
    case 'ReadIndexResponse':
      return (
        Number.isSafeInteger(message.requestId) &&
        ['ok', 'not-leader', 'too-many-pending'].includes(message.result) &&
        isCount(message.index)
      );
    case 'TimeoutNow':
      return true;
    case 'InstallSnapshot':
      return isWellFormedSnapshotChunk(message);
    case 'InstallSnapshotResponse':
      return (
        isCount(message.snapshotIndex) &&
        isCount(message.receivedBytes) &&
        typeof message.installed === 'boolean' &&
        isCount(message.matchIndex)
      );
    default:
      return false;
  }
}

function isWellFormedAppend(message: AppendEntries): boolean {
  const { prevLogIndex, prevLogTerm, entries } = message;
  if (!isCount(prevLogIndex) || !isCount(prevLogTerm) || !isCount(message.commit)) return false;
  if (prevLogTerm > message.term || (prevLogIndex === 0) !== (prevLogTerm === 0)) return false;
  if (!Array.isArray(entries)) return false;
  let previousTerm = prevLogTerm;
  for (let position = 0; position < entries.length; position++) {
    const entry = entries[position];
    if (entry === undefined || entry.index !== prevLogIndex + position + 1) return false;
    if (
      !isCount(entry.term) ||
      entry.term < Math.max(previousTerm, 1) ||
      entry.term > message.term
    ) {
      return false;
    }
    if (!isWellFormedEntry(entry)) return false;
    previousTerm = entry.term;
  }
  return true;
}

function isWellFormedEntry(entry: Entry): boolean {
  if (!(entry.data instanceof Uint8Array)) return false;
  switch (entry.type) {
    case EntryType.normal:
    case EntryType.noop:
      return true;
    case EntryType.confChange:
      return decodeConfChangeEntry(entry.data) !== undefined;
    default:
      return false;
  }
}

function isWellFormedSnapshotChunk(message: InstallSnapshot): boolean {
  const { snapshot, offset, totalBytes, data } = message;
  if (typeof snapshot !== 'object' || snapshot === null) return false;
  if (!isCount(snapshot.index) || !isCount(snapshot.term) || snapshot.index < 1) return false;
  if (snapshot.term < 1 || snapshot.term > message.term) return false;
  if (!isWellFormedConfState(snapshot.confState)) return false;
  if (!isCount(offset) || !isCount(totalBytes) || !(data instanceof Uint8Array)) return false;
  const end = offset + data.length;
  if (end > totalBytes || (data.length === 0 && totalBytes > 0)) return false;
  return typeof message.done === 'boolean' && message.done === (end === totalBytes);
}

function isWellFormedConfState(state: ConfState): boolean {
  if (typeof state !== 'object' || state === null) return false;
  const { voters, learners } = state;
  if (!Array.isArray(voters) || !Array.isArray(learners) || voters.length === 0) return false;
  const members: unknown[] = [...voters, ...learners];
  if (!members.every(isNodeId) || new Set(members).size !== members.length) return false;
  return isIncreasing(voters) && isIncreasing(learners);
}

function isIncreasing(ids: readonly number[]): boolean {
  return ids.every((id, position) => position === 0 || (ids[position - 1] ?? 0) < id);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isNodeId(value: unknown): value is number {
  return isCount(value) && value >= 1;
}
