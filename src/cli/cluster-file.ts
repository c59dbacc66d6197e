import { readFileSync } from 'node:fs';
import { type Address, parseAddress, UsageError } from './arguments.js';

const maxClusterFileBytes = 64 * 1024;
const maxMembers = 9;
/** The documented rule for the seed's short form: a node's peer port is its client port + 1000. */
export const peerPortOffset = 1000;

export interface MemberAddresses {
  /** Where clients reach the node's HTTP API. */
  readonly client: Address;
  /** Where the other nodes reach its peer link. */
  readonly peer: Address;
}

/**
 * Reads a cluster file: a JSON object mapping node ids to addresses, in the seed's short form
 * `{"101": "localhost:2081"}` (client address; the peer port is the client port + 1000) or the
 * extended form `{"101": {"client": "127.0.0.1:2081", "peer": "127.0.0.1:3081"}}`. Both may mix.
 */
export function readClusterFile(path: string): ReadonlyMap<number, MemberAddresses> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read cluster file ${path}: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(text) > maxClusterFileBytes) {
    throw new UsageError(`cluster file ${path} is larger than ${maxClusterFileBytes} bytes`);
  }
  return parseClusterFile(text, path);
}

export function parseClusterFile(text: string, path: string): ReadonlyMap<number, MemberAddresses> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`cluster file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`cluster file ${path} must be a JSON object mapping ids to "host:port"`);
  }
  const members = new Map<number, MemberAddresses>();
  for (const [key, value] of Object.entries(parsed)) {
    if (!/^[1-9]\d{0,9}$/.test(key) || Number(key) > 2 ** 31 - 1) {
      throw new UsageError(`cluster file ${path}: id '${key}' must be a positive whole number`);
    }
    members.set(Number(key), parseMember(value, `cluster file ${path}: the address of id ${key}`));
  }
  if (members.size === 0) throw new UsageError(`cluster file ${path} names no members`);
  if (members.size > maxMembers) {
    throw new UsageError(`cluster file ${path} names more than ${maxMembers} members`);
  }
  assertDistinctAddresses(members, path);
  return members;
}

function parseMember(value: unknown, what: string): MemberAddresses {
  if (typeof value === 'string') {
    const client = parseAddress(value, what);
    if (client.port === 0 || client.port + peerPortOffset > 65_535) {
      throw new UsageError(
        `${what}: port ${client.port} leaves no peer port (client port + ${peerPortOffset})`,
      );
    }
    return { client, peer: { host: client.host, port: client.port + peerPortOffset } };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    const unknown = Object.keys(record).filter((key) => key !== 'client' && key !== 'peer');
    if (unknown.length > 0) throw new UsageError(`${what} has unknown field '${unknown[0]}'`);
    if (typeof record.client !== 'string' || typeof record.peer !== 'string') {
      throw new UsageError(`${what} must have "client" and "peer" as "host:port" strings`);
    }
    return {
      client: parseAddress(record.client, `${what} (client)`),
      peer: parseAddress(record.peer, `${what} (peer)`),
    };
  }
  throw new UsageError(`${what} must be a "host:port" string or {"client": …, "peer": …}`);
}

function assertDistinctAddresses(
  members: ReadonlyMap<number, MemberAddresses>,
  path: string,
): void {
  const seen = new Map<string, string>();
  for (const [id, member] of members) {
    for (const [kind, address] of [
      ['client', member.client],
      ['peer', member.peer],
    ] as const) {
      const key = `${address.host}:${address.port}`;
      const previous = seen.get(key);
      if (previous !== undefined) {
        throw new UsageError(
          `cluster file ${path}: ${key} is both ${previous} and the ${kind} address of id ${id}`,
        );
      }
      seen.set(key, `the ${kind} address of id ${id}`);
    }
  }
}
