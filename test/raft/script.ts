/**
 * Scenario scripts, after etcd's data-driven tests (raft/testdata/*.txt): a file of blocks, each a
 * command, a line "----", and the output the command must produce, then a blank line.
 *
 *   add-nodes 3 prevote=false     a cluster of nodes 1..3 (options: voters=1,2 prevote= checkquorum=
 *                                 election= max-entries= chunk-bytes= chunk-window=)
 *   campaign 1                    node 1 starts an election now
 *   tick 1 [n]   tick all [n]     time passes on one node or on all, nothing delivered
 *   run n                         n times: tick all, then stabilize (prints nothing)
 *   deliver [1->2] [type]         hosts handle their Readies, then in-flight messages (matching
 *                                 the filter) are delivered once; prints each message
 *   drop [1->2] [type]            the same, but the messages are lost
 *   stabilize                     deliver until nothing is left in flight; prints each message
 *   propose 1 data | read 1 | transfer 1 2 | conf-change 1 add-learner 4 | compact 1 [index]
 *   partition 1 2 | 3   isolate 1   heal   crash 1   restart 1
 *   status [ids]   log ids   reads
 *
 * Messages print as "from->to Type term=T ...", with entries as index@term:kind. A message lost to
 * a partition or a crashed node ends in "(lost)". RAFT_REWRITE=1 rewrites the expected outputs.
 */
import { decodeConfChangeEntry } from '../../src/raft/configuration.js';
import {
  type ConfChangeType,
  type Entry,
  EntryType,
  type Message,
  type NodeId,
} from '../../src/raft/types.js';
import { fullLog, Network, type NodeOptions, text } from './network.js';

export interface Block {
  /** The comment lines (starting with #) before the command, kept on rewrite. */
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
}

export function parseScript(source: string): Block[] {
  const blocks: Block[] = [];
  const lines = source.split('\n');
  let comments: string[] = [];
  let position = 0;
  while (position < lines.length) {
    const line = lines[position] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      if (line.startsWith('#')) comments.push(line);
      position++;
      continue;
    }
    if (lines[position + 1] !== '----') throw new Error(`line ${position + 2}: expected "----"`);
    const output: string[] = [];
    position += 2;
    while (position < lines.length && (lines[position] ?? '') !== '') {
      output.push(lines[position] ?? '');
      position++;
    }
    blocks.push({ comments, command: line, expected: output.join('\n') });
    comments = [];
  }
  return blocks;
}

export function formatScript(blocks: readonly Block[], outputs: readonly string[]): string {
  return blocks
    .map((block, index) =>
      [...block.comments, block.command, '----', outputs[index] ?? '', ''].join('\n'),
    )
    .join('\n');
}

export class ScriptRunner {
  #network: Network | undefined;

  /** Runs one command; returns its output ("ok" when it prints nothing). */
  run(command: string): string {
    const [name, ...args] = command.trim().split(/\s+/);
    const lines = this.#dispatch(name ?? '', args);
    return lines.length === 0 ? 'ok' : lines.join('\n');
  }

  get network(): Network {
    if (this.#network === undefined) throw new Error('no nodes: add-nodes first');
    return this.#network;
  }

  #dispatch(name: string, args: readonly string[]): string[] {
    const network = () => this.network;
    const id = (position: number) => nodeId(args[position]);
    switch (name) {
      case 'add-nodes':
        this.#addNodes(args);
        return [];
      case 'campaign':
        network().node(id(0)).campaign();
        return [];
      case 'tick':
        this.#tick(args);
        return [];
      case 'run':
        network().runFor(Number(args[0] ?? 1));
        return [];
      case 'deliver':
        return this.#deliver(args, false);
      case 'drop':
        return this.#deliver(args, true);
      case 'stabilize':
        return this.#stabilize();
      case 'propose':
        return [
          formatResult(id(0), network().propose(id(0), new TextEncoder().encode(args[1] ?? ''))),
        ];
      case 'read': {
        const record = network().read(id(0));
        return [
          `read ${record.requestId} on ${id(0)}${record.answer === undefined ? '' : `: ${formatRead(record.answer)}`}`,
        ];
      }
      case 'reads':
        return [...network().reads.values()].map(
          (record) =>
            `read ${record.requestId} on ${record.node}: ${record.answer === undefined ? 'waiting' : formatRead(record.answer)}`,
        );
      case 'transfer':
        return [formatResult(id(0), network().node(id(0)).transferLeadership(id(1)))];
      case 'conf-change': {
        const change = { type: args[1] as ConfChangeType, node: id(2) };
        return [formatResult(id(0), network().proposeConfChange(id(0), change))];
      }
      case 'compact': {
        const snapshot = network().compact(
          id(0),
          args[1] === undefined ? undefined : Number(args[1]),
        );
        return [
          snapshot === undefined
            ? 'nothing to compact'
            : `snapshot ${snapshot.index}@${snapshot.term} (${snapshot.data.length} bytes)`,
        ];
      }
      case 'partition':
        network().partition(
          ...args
            .join(' ')
            .split('|')
            .map((group) => group.trim().split(/\s+/).filter(Boolean).map(nodeId)),
        );
        return [];
      case 'isolate':
        network().isolate(id(0));
        return [];
      case 'heal':
        network().heal();
        return [];
      case 'crash':
        network().crash(id(0));
        return [];
      case 'restart':
        network().restart(id(0));
        return [];
      case 'status':
        return this.#ids(args).map((node) => this.#status(node));
      case 'log':
        return this.#ids(args).map((node) => this.#log(node));
      default:
        throw new Error(`unknown command "${name}"`);
    }
  }

  #addNodes(args: readonly string[]): void {
    const count = Number(args[0]);
    const options = new Map(args.slice(1).map((arg) => arg.split('=') as [string, string]));
    const flag = (key: string) => (options.has(key) ? options.get(key) === 'true' : undefined);
    const number = (key: string) => (options.has(key) ? Number(options.get(key)) : undefined);
    const nodeOptions: Record<string, unknown> = {
      preVote: flag('prevote'),
      checkQuorum: flag('checkquorum'),
      maxEntriesPerAppend: number('max-entries'),
      maxSnapshotChunkBytes: number('chunk-bytes'),
      maxSnapshotChunksInFlight: number('chunk-window'),
    };
    for (const key of Object.keys(nodeOptions))
      if (nodeOptions[key] === undefined) delete nodeOptions[key];
    const ids = Array.from({ length: count }, (_, position) => position + 1);
    const voters = options.get('voters')?.split(',').map(nodeId);
    this.#network = new Network({
      ids,
      ...(voters === undefined ? {} : { voters }),
      seed: number('seed') ?? 1,
      electionTicks: number('election') ?? 10,
      heartbeatTicks: 1,
      nodeOptions: nodeOptions as NodeOptions,
    });
  }

  #tick(args: readonly string[]): void {
    const network = this.network;
    const targets = args[0] === 'all' ? network.aliveIds() : [nodeId(args[0])];
    const times = Number(args[1] ?? 1);
    for (let time = 0; time < times; time++) for (const target of targets) network.tick(target);
  }

  /** Hosts handle their Readies, then matching in-flight messages are delivered (or dropped) once. */
  #deliver(args: readonly string[], drop: boolean): string[] {
    const network = this.network;
    network.processAllReadies();
    const matches = messageFilter(args);
    const lines: string[] = [];
    let position = 0;
    while (position < network.inFlight.length) {
      const message = network.inFlight[position];
      if (message === undefined || !matches(message)) {
        position++;
        continue;
      }
      if (drop) {
        network.dropAt(position);
        lines.push(`${formatMessage(message)} (dropped)`);
      } else {
        lines.push(this.#deliverAt(position));
      }
    }
    return lines;
  }

  #stabilize(): string[] {
    const network = this.network;
    const lines: string[] = [];
    for (let round = 0; round < 1000; round++) {
      const anyReady = network.processAllReadies();
      if (!anyReady && network.inFlight.length === 0) return lines;
      for (let count = network.inFlight.length; count > 0; count--) lines.push(this.#deliverAt(0));
    }
    throw new Error('did not stabilize in 1000 rounds');
  }

  #deliverAt(position: number): string {
    const network = this.network;
    const message = network.inFlight[position];
    if (message === undefined) throw new Error('no message');
    const lost = network.isCut(message.from, message.to) || !network.isAlive(message.to);
    network.deliverAt(position);
    return `${formatMessage(message)}${lost ? ' (lost)' : ''}`;
  }

  #ids(args: readonly string[]): NodeId[] {
    return args.length === 0 ? [...this.network.ids] : args.map(nodeId);
  }

  #status(id: NodeId): string {
    if (!this.network.isAlive(id)) return `${id}: down`;
    const status = this.network.node(id).status();
    const members = `voters=${status.voters.join(',')}${status.learners.length > 0 ? ` learners=${status.learners.join(',')}` : ''}`;
    return (
      `${id}: ${status.role} term=${status.term} leader=${status.leader} commit=${status.commitIndex} ` +
      `applied=${status.appliedIndex} last=${status.lastIndex}${status.snapshotIndex > 0 ? ` snapshot=${status.snapshotIndex}` : ''} ${members}`
    );
  }

  #log(id: NodeId): string {
    const durable = this.network.simulated(id).durable;
    const snapshot =
      durable.snapshot === undefined
        ? ''
        : `snapshot ${durable.snapshot.index}@${durable.snapshot.term} `;
    const entries = durable.snapshot === undefined ? fullLog(durable) : durable.entries;
    return `${id}: ${snapshot}${entries.map(formatEntry).join(' ') || '(empty)'}`;
  }
}

function nodeId(value: string | undefined): NodeId {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id < 1) throw new Error(`bad node id "${value}"`);
  return id;
}

function messageFilter(args: readonly string[]): (message: Message) => boolean {
  const link = args.find((arg) => arg.includes('->'));
  const [from, to] =
    link === undefined
      ? [undefined, undefined]
      : link.split('->').map((part) => (part === '*' ? undefined : Number(part)));
  const type = args.find((arg) => !arg.includes('->'));
  return (message) =>
    (from === undefined || message.from === from) &&
    (to === undefined || message.to === to) &&
    (type === undefined || message.type === type);
}

function formatResult(id: NodeId, result: { ok: boolean } & Record<string, unknown>): string {
  if (result.ok) {
    const details = Object.entries(result)
      .filter(([key]) => key !== 'ok')
      .map(([key, value]) => `${key}=${value}`);
    return [`${id}: ok`, ...details].join(' ');
  }
  const detail = typeof result.detail === 'string' ? ` (${result.detail})` : '';
  return `${id}: refused ${String(result.reason)} leader=${String(result.leader)}${detail}`;
}

function formatRead(answer: { ok: boolean; index?: number; reason?: string }): string {
  return answer.ok ? `ok index=${answer.index}` : `failed ${answer.reason}`;
}

export function formatEntry(entry: Entry): string {
  const kind =
    entry.type === EntryType.noop
      ? 'noop'
      : entry.type === EntryType.confChange
        ? (() => {
            const record = decodeConfChangeEntry(entry.data);
            return record === undefined
              ? 'conf(?)'
              : `conf(${record.change.type} ${record.change.node})`;
          })()
        : JSON.stringify(text(entry.data));
  return `${entry.index}@${entry.term}:${kind}`;
}

export function formatMessage(message: Message): string {
  const head = `${message.from}->${message.to} ${message.type} term=${message.term}`;
  switch (message.type) {
    case 'RequestVote':
      return `${head} last=${message.lastLogIndex}@${message.lastLogTerm}${message.leadershipTransfer === true ? ' transfer' : ''}`;
    case 'PreVote':
      return `${head} last=${message.lastLogIndex}@${message.lastLogTerm}`;
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      return `${head} ${message.granted ? 'granted' : 'refused'}`;
    case 'AppendEntries':
      return `${head} prev=${message.prevLogIndex}@${message.prevLogTerm} commit=${message.commit} [${message.entries.map(formatEntry).join(' ')}]`;
    case 'AppendEntriesResponse':
      return message.success
        ? `${head} ok match=${message.matchIndex}`
        : `${head} reject hint=${message.rejectHint}`;
    case 'Heartbeat':
    case 'HeartbeatResponse':
      return `${head} round=${message.readRound}`;
    case 'ReadIndex':
      return `${head} read=${message.requestId}`;
    case 'ReadIndexResponse':
      return `${head} read=${message.requestId} ${message.result}${message.result === 'ok' ? ` index=${message.index}` : ''}`;
    case 'TimeoutNow':
      return head;
    case 'InstallSnapshot':
      return `${head} snapshot=${message.snapshot.index}@${message.snapshot.term} bytes=${message.offset}..${message.offset + message.data.length}/${message.totalBytes}${message.done ? ' done' : ''}`;
    case 'InstallSnapshotResponse':
      return message.installed
        ? `${head} installed match=${message.matchIndex}`
        : `${head} snapshot=${message.snapshotIndex} received=${message.receivedBytes}`;
  }
}
