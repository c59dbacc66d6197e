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
      listen: '127.0.0.1:2081',
      dataDirectory: './data',
      inMemory: false,
      logLevel: 'info',
      clusterFile: undefined,
      id: undefined,
      requestTimeoutMs: 5000,
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
    [['-id', '1'], '-cluster and -id go together: give both or neither'],
    [['-cluster', 'c.json', '-id', 'x'], "-id must be a whole number, not 'x'"],
    [['-cluster', 'c.json', '-id', '0'], '-id must be between 1 and 2147483647, not 0'],
    [['--in-memory', '--data-dir', 'd'], '--in-memory and --data-dir exclude each other'],
    [['--in-memory=yes'], 'flag --in-memory takes no value'],
    [['--listen', 'a:1', '--listen', 'b:2'], 'flag --listen given twice'],
    [['--request-timeout-ms', '0'], '--request-timeout-ms must be between 1 and 600000, not 0'],
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
  test("the seed's format maps ids to addresses", () => {
    const members = parseClusterFile(
      '{"101": "localhost:2081", "102": "localhost:2082"}',
      'c.json',
    );
    assert.deepEqual(
      [...members],
      [
        [101, { host: 'localhost', port: 2081 }],
        [102, { host: 'localhost', port: 2082 }],
      ],
    );
  });

  const rejected: ReadonlyArray<readonly [string, string]> = [
    ['{', 'cluster file c.json is not valid JSON: '],
    ['[]', 'cluster file c.json must be a JSON object mapping ids to "host:port"'],
    ['{}', 'cluster file c.json names no members'],
    ['{"a": "h:1"}', "cluster file c.json: id 'a' must be a positive whole number"],
    ['{"0": "h:1"}', "cluster file c.json: id '0' must be a positive whole number"],
    ['{"1": 5}', 'cluster file c.json: the address of id 1 must be a "host:port" string'],
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
