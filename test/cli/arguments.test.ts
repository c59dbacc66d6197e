import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  flagSpecs,
  helpText,
  parseAddress,
  parseArguments,
  UsageError,
} from '../../src/cli/arguments.js';
import { parseClusterFile } from '../../src/cli/cluster-file.js';

describe('parseArguments', () => {
  test('defaults: 127.0.0.1:2081, ./data, info, durable', () => {
    assert.deepEqual(parseArguments([]), {
      help: false,
      version: false,
      listen: undefined,
      dataDirectory: './data',
      inMemory: false,
      logLevel: 'info',
      clusterFile: undefined,
      id: undefined,
      requestTimeoutMs: 5000,
      clusterSecret: undefined,
      join: undefined,
      peerListen: undefined,
      clusterSecretFile: undefined,
      snapshotEvery: 10_000,
      limits: {
        maxLocks: 1_000_000,
        maxWaitersPerLock: 1_000,
        maxHoldersPerLock: 1_000,
        maxOwnerBytes: 128,
        maxTtlMs: 86_400_000,
        maxWaitMs: 600_000,
      },
      maxBodyBytes: 65_536,
      enableFaultInjection: false,
    });
  });

  test('limits come from flags, durations with units', () => {
    const options = parseArguments([
      '--max-locks',
      '10',
      '--max-ttl',
      '30s',
      '--max-wait=5m',
      '--max-owner-bytes',
      '64',
    ]);
    assert.deepEqual(options.limits, {
      maxLocks: 10,
      maxWaitersPerLock: 1_000,
      maxHoldersPerLock: 1_000,
      maxOwnerBytes: 64,
      maxTtlMs: 30_000,
      maxWaitMs: 300_000,
    });
  });

  test("the seed's Go-style single-dash flags work", () => {
    const options = parseArguments(['-cluster', 'integtests/config/1node.json', '-id', '1']);
    assert.equal(options.clusterFile, 'integtests/config/1node.json');
    assert.equal(options.id, 1);
  });

  test('--flag=value and --flag value are the same', () => {
    assert.equal(parseArguments(['--listen=0.0.0.0:9000']).listen, '0.0.0.0:9000');
    assert.equal(parseArguments(['--listen', '0.0.0.0:9000']).listen, '0.0.0.0:9000');
    assert.equal(parseArguments(['--data-dir', '/var/lib/lockd']).dataDirectory, '/var/lib/lockd');
    assert.equal(parseArguments(['--in-memory']).inMemory, true);
    assert.equal(parseArguments(['--log-level', 'warn']).logLevel, 'warn');
  });

  const rejected: ReadonlyArray<readonly [readonly string[], string]> = [
    [['--bogus'], "unknown flag '--bogus' (see --help)"],
    [['stray'], "unexpected argument 'stray' (see --help)"],
    [['--listen'], 'flag --listen needs a value: host:port'],
    [['--listen', 'nocolon'], "--listen must be host:port, not 'nocolon'"],
    [['--listen', 'h:70000'], '--listen has port 70000, above 65535'],
    [
      ['--log-level', 'loud'],
      "--log-level must be one of fatal, error, warn, info, debug, trace, silent, not 'loud'",
    ],
    [['-id', '1'], '-id needs -cluster or --join'],
    [['-cluster', 'c.json'], '-cluster needs -id'],
    [['--join', 'h:1'], '--join needs -id'],
    [
      ['--join', 'h:1', '-cluster', 'c.json', '-id', '1'],
      '--join and -cluster exclude each other: a joining node learns the members',
    ],
    [['-cluster', 'c.json', '-id', 'x'], "-id must be a whole number, not 'x'"],
    [['-cluster', 'c.json', '-id', '0'], '-id must be between 1 and 2147483647, not 0'],
    [['--in-memory', '--data-dir', 'd'], '--in-memory and --data-dir exclude each other'],
    [['--in-memory=yes'], 'flag --in-memory takes no value'],
    [['--listen', 'a:1', '--listen', 'b:2'], 'flag --listen given twice'],
    [['--request-timeout-ms', '0'], '--request-timeout-ms must be between 1 and 600000, not 0'],
    [
      ['--max-ttl', '1.5s'],
      "--max-ttl must be a duration such as 1500, 500ms, 30s, 5m or 1h, not '1.5s'",
    ],
    [
      ['--max-wait', '2d'],
      "--max-wait must be a duration such as 1500, 500ms, 30s, 5m or 1h, not '2d'",
    ],
    [['--max-wait', '25h'], '--max-wait must be at most 86400000 ms, not 25h'],
    [
      ['--cluster-secret', 'a', '--cluster-secret-file', 'f'],
      '--cluster-secret and --cluster-secret-file exclude each other',
    ],
  ];
  for (const [argv, message] of rejected) {
    test(`rejects ${argv.join(' ')}`, () => {
      assert.throws(
        () => parseArguments(argv),
        (error: unknown) => {
          assert.ok(error instanceof UsageError);
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }

  test('--help lists every flag', () => {
    const text = helpText('9.9.9');
    for (const flag of flagSpecs) assert.match(text, new RegExp(`--${flag.name}\\b`));
  });
});

describe('parseAddress', () => {
  test('host:port, names, IPv6 in brackets, port 0', () => {
    assert.deepEqual(parseAddress('localhost:2081', 'x'), { host: 'localhost', port: 2081 });
    assert.deepEqual(parseAddress('[::1]:80', 'x'), { host: '::1', port: 80 });
    assert.deepEqual(parseAddress('127.0.0.1:0', 'x'), { host: '127.0.0.1', port: 0 });
  });
});

describe('parseClusterFile', () => {
  test("the seed's short form maps ids to client addresses; peer port = client port + 1000", () => {
    const members = parseClusterFile(
      '{"101": "localhost:2081", "102": "localhost:2082"}',
      'c.json',
    );
    assert.deepEqual(
      [...members],
      [
        [
          101,
          { client: { host: 'localhost', port: 2081 }, peer: { host: 'localhost', port: 3081 } },
        ],
        [
          102,
          { client: { host: 'localhost', port: 2082 }, peer: { host: 'localhost', port: 3082 } },
        ],
      ],
    );
  });

  test('the extended form names both addresses, and may mix with the short form', () => {
    const members = parseClusterFile(
      '{"1": {"client": "127.0.0.1:2081", "peer": "10.0.0.1:9000"}, "2": "127.0.0.1:2082"}',
      'c.json',
    );
    assert.deepEqual(
      [...members],
      [
        [1, { client: { host: '127.0.0.1', port: 2081 }, peer: { host: '10.0.0.1', port: 9000 } }],
        [2, { client: { host: '127.0.0.1', port: 2082 }, peer: { host: '127.0.0.1', port: 3082 } }],
      ],
    );
  });

  const rejected: ReadonlyArray<readonly [string, string]> = [
    ['{', 'cluster file c.json is not valid JSON: '],
    ['[]', 'cluster file c.json must be a JSON object mapping ids to "host:port"'],
    ['{}', 'cluster file c.json names no members'],
    ['{"a": "h:1"}', "cluster file c.json: id 'a' must be a positive whole number"],
    ['{"0": "h:1"}', "cluster file c.json: id '0' must be a positive whole number"],
    [
      '{"1": 5}',
      'cluster file c.json: the address of id 1 must be a "host:port" string or {"client": …, "peer": …}',
    ],
    [
      '{"1": {"client": "h:1"}}',
      'cluster file c.json: the address of id 1 must have "client" and "peer" as "host:port" strings',
    ],
    [
      '{"1": {"client": "h:1", "peer": "h:2", "x": 1}}',
      "cluster file c.json: the address of id 1 has unknown field 'x'",
    ],
    [
      '{"1": "h:65000"}',
      'cluster file c.json: the address of id 1: port 65000 leaves no peer port (client port + 1000)',
    ],
    [
      '{"1": "h:2081", "2": "h:1081"}',
      'cluster file c.json: h:2081 is both the client address of id 1 and the peer address of id 2',
    ],
    ['{"1": "nope"}', "cluster file c.json: the address of id 1 must be host:port, not 'nope'"],
  ];
  for (const [text, message] of rejected) {
    test(`rejects ${text}`, () => {
      assert.throws(
        () => parseClusterFile(text, 'c.json'),
        (error: unknown) => {
          assert.ok(error instanceof UsageError);
          assert.ok(error.message.startsWith(message), error.message);
          return true;
        },
      );
    });
  }
});
