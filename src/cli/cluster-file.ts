import { readFileSync } from 'node:fs';
import { type Address, parseAddress, UsageError } from './arguments.js';

const maxClusterFileBytes = 64 * 1024;
const maxMembers = 9;

/**
 * Reads the seed's cluster file: a JSON object mapping node ids to client addresses,
 * e.g. `{"1": "localhost:2081"}`.
 */
export function readClusterFile(path: string): ReadonlyMap<number, Address> {
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

export function parseClusterFile(text: string, path: string): ReadonlyMap<number, Address> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`cluster file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`cluster file ${path} must be a JSON object mapping ids to "host:port"`);
  }
  const members = new Map<number, Address>();
  for (const [key, value] of Object.entries(parsed)) {
    if (!/^[1-9]\d{0,9}$/.test(key) || Number(key) > 2 ** 31 - 1) {
      throw new UsageError(`cluster file ${path}: id '${key}' must be a positive whole number`);
    }
    if (typeof value !== 'string') {
      throw new UsageError(
        `cluster file ${path}: the address of id ${key} must be a "host:port" string`,
      );
    }
    members.set(Number(key), parseAddress(value, `cluster file ${path}: the address of id ${key}`));
  }
  if (members.size === 0) throw new UsageError(`cluster file ${path} names no members`);
  if (members.size > maxMembers)
    throw new UsageError(`cluster file ${path} names more than ${maxMembers} members`);
  return members;
}
