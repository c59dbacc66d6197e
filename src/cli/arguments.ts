/**
 * Command-line flags. Both `--flag value` and the seed's Go-style `-flag value` are accepted, as is
 * `--flag=value`, so that the seed's `-cluster file.json -id 1` keeps working.
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  readonly help: boolean;
  readonly version: boolean;
  readonly listen: string;
  readonly dataDirectory: string;
  readonly inMemory: boolean;
  readonly logLevel: LogLevel;
  readonly clusterFile: string | undefined;
  readonly id: number | undefined;
  readonly requestTimeoutMs: number;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

interface FlagSpec {
  readonly name: string;
  readonly value: string | undefined;
  readonly description: string;
}

/** Every flag, in the order `--help` lists them. */
export const flagSpecs: readonly FlagSpec[] = [
  {
    name: 'listen',
    value: 'host:port',
    description: 'client HTTP address (default 127.0.0.1:2081)',
  },
  { name: 'data-dir', value: 'path', description: 'where the Raft log is kept (default ./data)' },
  {
    name: 'in-memory',
    value: undefined,
    description: 'keep nothing on disk: every lock is lost on exit',
  },
  { name: 'log-level', value: 'level', description: `${logLevels.join('|')} (default info)` },
  {
    name: 'cluster',
    value: 'file.json',
    description: 'cluster file mapping node ids to host:port',
  },
  { name: 'id', value: 'n', description: "this node's id in the cluster file" },
  {
    name: 'request-timeout-ms',
    value: 'ms',
    description: 'longest a request may wait (default 5000)',
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
    if (value === undefined || value === '')
      throw new UsageError(`flag --${name} needs a value: ${spec.value}`);
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
  if ((idText === undefined) !== (clusterFile === undefined)) {
    throw new UsageError('-cluster and -id go together: give both or neither');
  }
  if (values.has('in-memory') && values.has('data-dir')) {
    throw new UsageError('--in-memory and --data-dir exclude each other');
  }
  const listen = values.get('listen');
  if (listen !== undefined) parseAddress(listen, '--listen');
  return {
    help: values.has('help'),
    version: values.has('version'),
    listen: listen ?? '127.0.0.1:2081',
    dataDirectory: values.get('data-dir') ?? './data',
    inMemory: values.has('in-memory'),
    logLevel,
    clusterFile,
    id: idText === undefined ? undefined : parseInteger(idText, '-id', 1, 2 ** 31 - 1),
    requestTimeoutMs: parseInteger(
      values.get('request-timeout-ms') ?? '5000',
      '--request-timeout-ms',
      1,
      600_000,
    ),
  };
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

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` (IPv6 in brackets: `[::1]:2081`). Port 0 asks the system for a free port. */
export function parseAddress(text: string, what: string): Address {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (match === null) throw new UsageError(`${what} must be host:port, not '${text}'`);
  const port = Number(match[3]);
  if (port > 65_535) throw new UsageError(`${what} has port ${port}, above 65535`);
  return { host: match[1] ?? match[2] ?? '', port };
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
    '',
    'Flags (a single dash works too, as in -cluster):',
    ...lines,
    '',
  ].join('\n');
}
