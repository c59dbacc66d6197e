import { type AppendEntries, EntryType, type Message } from './types.js';

/**
 * Whether a message that came off the wire is shaped as the protocol promises. The core trusts
 * its peers to follow Raft (a peer that lies about its log can break safety whatever we check),
 * but a malformed message is dropped here rather than tripping an assertion deep inside.
 */
export function isWellFormedMessage(message: Message): boolean {
  if (!isCount(message.from) || !isCount(message.to) || !isCount(message.term)) return false;
  if (message.term < 1) return false;
  switch (message.type) {
    case 'RequestVote':
      return (
        isCount(message.lastLogIndex) &&
        isCount(message.lastLogTerm) &&
        message.lastLogTerm <= message.term &&
        (message.lastLogIndex === 0) === (message.lastLogTerm === 0)
      );
    case 'RequestVoteResponse':
      return typeof message.granted === 'boolean';
    case 'AppendEntries':
      return isWellFormedAppend(message);
    case 'AppendEntriesResponse':
      return (
        typeof message.success === 'boolean' &&
        isCount(message.matchIndex) &&
        isCount(message.rejectHint)
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
    if (entry.type !== EntryType.normal && entry.type !== EntryType.noop) return false;
    if (!(entry.data instanceof Uint8Array)) return false;
    previousTerm = entry.term;
  }
  return true;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
