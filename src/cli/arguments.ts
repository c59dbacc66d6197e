/**
 * Command-line flags. Both `--flag value` and the seed's Go-style `-flag value` are accepted, as is
 * `--flag=value`, so that the seed's `-cluster file.json -id 1` keeps working.
 */

import { parseDurationMs } from '../api/durations.js';
import type { Limits } from '../api/lock-service.js';
import { defaultLimits } from '../node/limits.js';
import { type Address, parseHostPort } from '../util/address.js';

export type { Address };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  readonly help: boolean;
  readonly version: boolean;
  /** The client address; undefined = the cluster file's entry for this node, else 127.0.0.1:2081. */
  readonly listen: string | undefined;
  readonly dataDirectory: string;
  readonly inMemory: boolean;
  /**
   * The log format asked for with --storage; absent when not given, and then the data directory
   * decides (an existing one keeps its format, a new one gets the WAL).
   */
  readonly storage?: StorageKind;
  readonly logLevel: LogLevel;
  readonly clusterFile: string | undefined;
  readonly id: number | undefined;
  readonly requestTimeoutMs: number;
  readonly clusterSecret: string | undefined;
  /** A running member's client address: this node joins that cluster (needs -id). */
  readonly join: string | undefined;
  /** The peer link's address; undefined = the cluster file's, else the client port + 1000. */
  readonly peerListen: string | undefined;
  readonly clusterSecretFile: string | undefined;
  readonly snapshotEvery: number;
  readonly limits: Limits;
  readonly maxBodyBytes: number;
  readonly enableFaultInjection: boolean;
}

export const storageKinds = ['wal', 'lmdb'] as const;
export type StorageKind = (typeof storageKinds)[number];

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

interface FlagSpec {
  readonly name: string;
  readonly value: string | undefined;
  readonly description: string;
}

const day = 24 * 60 * 60 * 1000;

/** Every flag, in the order `--help` lists them. */
export const flagSpecs: readonly FlagSpec[] = [
  {
    name: 'listen',
    value: 'host:port',
    description: 'client HTTP address (default 127.0.0.1:2081)',
  },
  {
    name: 'data-dir',
    value: 'path',
    description: 'where the Raft log and snapshots live (default ./data)',
  },
  {
    name: 'in-memory',
    value: undefined,
    description: 'keep nothing on disk: every lock is lost on exit',
  },
  {
    name: 'storage',
    value: storageKinds.join('|'),
    description: 'log format of a new data directory (default: what it holds, else wal)',
  },
  { name: 'log-level', value: 'level', description: `${logLevels.join('|')} (default info)` },
  {
    name: 'cluster',
    value: 'file.json',
    description: 'cluster file mapping node ids to addresses',
  },
  { name: 'id', value: 'n', description: "this node's id in the cluster file" },
  {
    name: 'join',
    value: 'host:port',
    description: 'join the running cluster of this member (with -id)',
  },
  {
    name: 'peer-listen',
    value: 'host:port',
    description: 'peer link address (default client port + 1000)',
  },
  {
    name: 'cluster-secret',
    value: 'secret',
    description: 'shared secret peers prove (or env LOCKD_CLUSTER_SECRET)',
  },
  {
    name: 'cluster-secret-file',
    value: 'path',
    description: 'read the cluster secret from a file',
  },
  {
    name: 'snapshot-every',
    value: 'n',
    description:
      'snapshot the lock state every n entries, or every locks/10 when more (default 10000)',
  },
  {
    name: 'request-timeout-ms',
    value: 'ms',
    description: 'longest a request may wait for the cluster (default 5000)',
  },
  {
    name: 'max-locks',
    value: 'n',
    description: `most locks held at once (default ${defaultLimits.maxLocks})`,
  },
  {
    name: 'max-waiters-per-lock',
    value: 'n',
    description: `most queued waiters per lock (default ${defaultLimits.maxWaitersPerLock})`,
  },
  {
    name: 'max-holders-per-lock',
    value: 'n',
    description: `most holders of a shared lock (default ${defaultLimits.maxHoldersPerLock})`,
  },
  {
    name: 'max-owner-bytes',
    value: 'n',
    description: `longest owner id (default ${defaultLimits.maxOwnerBytes})`,
  },
  { name: 'max-ttl', value: 'duration', description: 'longest lease, e.g. 24h (default 24h)' },
  {
    name: 'max-wait',
    value: 'duration',
    description: 'longest acquire wait, e.g. 10m (default 10m)',
  },
  { name: 'max-body-bytes', value: 'n', description: 'largest request body (default 65536)' },
  {
    name: 'enable-fault-injection',
    value: undefined,
    description: 'tests only: allow POST /debug/faults',
  },
  { name: 'help', value: undefined, description: 'print this help and exit' },
  { name: 'version', value: undefined, description: 'print the version and exit' },
];

const maxArguments = 64;

export function parseArguments(argv: readonly string[]): CliOptions {
  if (argv.length > maxArguments) throw new UsageError(`too many arguments (max ${maxArguments})`);
  const values = new Map<string, string>();
  for (let position = 0; position < argv.length; position++) {
    const argument = argv[position] ?? '';
    const match = /^--?([a-z][a-z-]*)(?:=(.*))?$/.exec(argument);
    if (match === null) throw new UsageError(`unexpected argument '${argument}' (see --help)`);
    const name = match[1] ?? '';
    const spec = flagSpecs.find((flag) => flag.name === name);
    if (spec === undefined) throw new UsageError(`unknown flag '${argument}' (see --help)`);
    if (values.has(name)) throw new UsageError(`flag --${name} given twice`);
    if (spec.value === undefined) {
      if (match[2] !== undefined) throw new UsageError(`flag --${name} takes no value`);
      values.set(name, 'true');
      continue;
    }
    const value = match[2] ?? argv[++position];
    if (value === undefined || value === '') {
      throw new UsageError(`flag --${name} needs a value: ${spec.value}`);
    }
    values.set(name, value);
  }
  return toOptions(values);
}

function toOptions(values: ReadonlyMap<string, string>): CliOptions {
  const logLevel = values.get('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) {
    throw new UsageError(`--log-level must be one of ${logLevels.join(', ')}, not '${logLevel}'`);
  }
  const idText = values.get('id');
  const clusterFile = values.get('cluster');
  const join = values.get('join');
  if (join !== undefined && clusterFile !== undefined) {
    throw new UsageError(
      '--join and -cluster exclude each other: a joining node learns the members',
    );
  }
  const hasMembership = clusterFile !== undefined || join !== undefined;
  if (idText !== undefined && !hasMembership) throw new UsageError('-id needs -cluster or --join');
  if (idText === undefined && hasMembership) {
    throw new UsageError(`${clusterFile !== undefined ? '-cluster' : '--join'} needs -id`);
  }
  if (join !== undefined) parseAddress(join, '--join');
  const peerListen = values.get('peer-listen');
  if (peerListen !== undefined) parseAddress(peerListen, '--peer-listen');
  if (values.has('in-memory') && values.has('data-dir')) {
    throw new UsageError('--in-memory and --data-dir exclude each other');
  }
  if (values.has('cluster-secret') && values.has('cluster-secret-file')) {
    throw new UsageError('--cluster-secret and --cluster-secret-file exclude each other');
  }
  const listen = values.get('listen');
  if (listen !== undefined) parseAddress(listen, '--listen');
  const storage = storageFlag(values);
  return {
    help: values.has('help'),
    version: values.has('version'),
    listen,
    dataDirectory: values.get('data-dir') ?? './data',
    inMemory: values.has('in-memory'),
    ...(storage === undefined ? {} : { storage }),
    logLevel,
    clusterFile,
    id: idText === undefined ? undefined : parseInteger(idText, '-id', 1, 2 ** 31 - 1),
    requestTimeoutMs: integerFlag(values, 'request-timeout-ms', 5000, 1, 600_000),
    clusterSecret: values.get('cluster-secret'),
    join,
    peerListen,
    clusterSecretFile: values.get('cluster-secret-file'),
    snapshotEvery: integerFlag(values, 'snapshot-every', 10_000, 10, 100_000_000),
    limits: {
      maxLocks: integerFlag(values, 'max-locks', defaultLimits.maxLocks, 1, 100_000_000),
      maxWaitersPerLock: integerFlag(
        values,
        'max-waiters-per-lock',
        defaultLimits.maxWaitersPerLock,
        1,
        1_000_000,
      ),
      maxHoldersPerLock: integerFlag(
        values,
        'max-holders-per-lock',
        defaultLimits.maxHoldersPerLock,
        1,
        1_000_000,
      ),
      maxOwnerBytes: integerFlag(values, 'max-owner-bytes', defaultLimits.maxOwnerBytes, 1, 1024),
      maxTtlMs: durationFlag(values, 'max-ttl', defaultLimits.maxTtlMs, 365 * day),
      maxWaitMs: durationFlag(values, 'max-wait', defaultLimits.maxWaitMs, day),
    },
    maxBodyBytes: integerFlag(values, 'max-body-bytes', 65_536, 1024, 16 * 1024 * 1024),
    enableFaultInjection: values.has('enable-fault-injection'),
  };
}

function storageFlag(values: ReadonlyMap<string, string>): StorageKind | undefined {
  const text = values.get('storage');
  if (text === undefined) return undefined;
  if (values.has('in-memory')) throw new UsageError('--in-memory and --storage exclude each other');
  const kind = storageKinds.find((candidate) => candidate === text);
  if (kind === undefined) {
    throw new UsageError(`--storage must be one of ${storageKinds.join(', ')}, not '${text}'`);
  }
  return kind;
}

function integerFlag(
  values: ReadonlyMap<string, string>,
  name: string,
  fallback: number,
  minimum: number,
  maximum: number,
): number {
  const text = values.get(name);
  return text === undefined ? fallback : parseInteger(text, `--${name}`, minimum, maximum);
}

function durationFlag(
  values: ReadonlyMap<string, string>,
  name: string,
  fallback: number,
  maximumMs: number,
): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  const durationMs = parseDurationMs(text);
  if (durationMs === undefined || durationMs < 1) {
    throw new UsageError(
      `--${name} must be a duration such as 1500, 500ms, 30s, 5m or 1h, not '${text}'`,
    );
  }
  if (durationMs > maximumMs)
    throw new UsageError(`--${name} must be at most ${maximumMs} ms, not ${text}`);
  return durationMs;
}

function isLogLevel(value: string): value is LogLevel {
  return (logLevels as readonly string[]).includes(value);
}

function parseInteger(text: string, flag: string, minimum: number, maximum: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number, not '${text}'`);
  const value = Number(text);
  if (value < minimum || value > maximum) {
    throw new UsageError(`${flag} must be between ${minimum} and ${maximum}, not ${text}`);
  }
  return value;
}

/** Parses a `host:port` flag value, or throws a UsageError naming the flag. */
export function parseAddress(text: string, what: string): Address {
  const parsed = parseHostPort(text);
  if (typeof parsed === 'string') {
    throw new UsageError(`${what} ${parsed}`);
  }
  return parsed;
}

export function helpText(version: string): string {
  const lines = flagSpecs.map((flag) => {
    const left = `  --${flag.name}${flag.value === undefined ? '' : ` <${flag.value}>`}`;
    return `${left.padEnd(34)}${flag.description}`;
  });
  return [
    `lockd ${version}: a distributed lock service (HTTP API on /lock/:name)`,
    '',
    'Usage: lockd [flags]',
    '       lockd -cluster cluster.json -id 1',
    '       lockd cluster --nodes 3 [--base-port 2081] [--dir ./cluster-data]   (a local cluster)',
    '',
    'Flags (a single dash works too, as in -cluster):',
    ...lines,
    '',
  ].join('\n');
}
