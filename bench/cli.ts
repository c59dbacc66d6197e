/**
 * `npm run bench`: lockd's load benchmark, and with --vs the same load against etcd and Redis.
 *
 *   npm run bench -- [--seconds 5] [--warmup-seconds 10] [--concurrency 1,16,64] [--nodes 1,3]
 *                    [--load uncontended,contended] [--vs etcd,redis] [--markdown] [--rounds 1]
 *                    [--no-ceiling] [--shared-names 4] [--redis-backoff-ms 1,5]
 *   npm run bench -- --million [--locks 1000000] [--concurrency 64] [--markdown]
 *
 * Without --vs it measures lockd (and the bare node:http ceiling) as before. Missing etcd or Redis
 * servers are installed with apt-get; everything started is stopped at the end, on an error, or
 * on Ctrl-C. See runComparison (compare.ts) and runMillion (million.ts).
 */
import { parseArgs } from 'node:util';
import { type CompareOptions, type PeerName, peerNames, runComparison } from './compare.js';
import { type LoadKind, loadKinds } from './load.js';
import { runMillion } from './million.js';
import { installCleanupHandlers, stopEverything } from './processes.js';

const nodeCountsAllowed = [1, 3, 5];

const flags = {
  seconds: { type: 'string', default: '5' },
  'warmup-seconds': { type: 'string', default: '10' },
  rounds: { type: 'string', default: '1' },
  concurrency: { type: 'string' },
  nodes: { type: 'string', default: '1' },
  load: { type: 'string', default: loadKinds.join(',') },
  vs: { type: 'string', default: '' },
  markdown: { type: 'boolean', default: false },
  'no-ceiling': { type: 'boolean', default: false },
  'shared-names': { type: 'string', default: '4' },
  'redis-backoff-ms': { type: 'string', default: '1,5' },
  million: { type: 'boolean', default: false },
  locks: { type: 'string', default: '1000000' },
  help: { type: 'boolean', default: false },
} as const;

function listOf(flag: string, text: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new Error(`--${flag}: an empty item in "${text}"`);
  return items;
}

function positiveNumber(flag: string, text: string, whole: boolean): number {
  const value = Number(text);
  const valid = Number.isFinite(value) && value > 0 && (!whole || Number.isInteger(value));
  if (!valid) throw new Error(`--${flag}: "${text}" is not a ${whole ? 'whole ' : ''}number > 0`);
  return value;
}

const roundsMax = 100;

function roundsOf(text: string): number {
  const rounds = positiveNumber('rounds', text, true);
  if (rounds > roundsMax) throw new Error(`--rounds: at most ${roundsMax}`);
  return rounds;
}

function nonNegativeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!(Number.isFinite(value) && value >= 0))
    throw new Error(`--${flag}: "${text}" is not a number >= 0`);
  return value;
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  const found = allowed.find((item) => item === text);
  if (found === undefined)
    throw new Error(`--${flag}: "${text}" is not one of ${allowed.join(', ')}`);
  return found;
}

function backoffOf(text: string): CompareOptions['redisBackoff'] {
  const [minimumMs, maximumMs] = listOf('redis-backoff-ms', text).map(Number);
  const valid =
    minimumMs !== undefined && maximumMs !== undefined && minimumMs >= 0 && maximumMs >= minimumMs;
  if (!valid)
    throw new Error(`--redis-backoff-ms: "${text}" is not "min,max" with 0 <= min <= max`);
  return { minimumMs, maximumMs };
}

type Values = ReturnType<typeof parseArgs<{ options: typeof flags }>>['values'];

function compareOptionsOf(values: Values, commandLine: string): CompareOptions {
  const nodeCounts = listOf('nodes', values.nodes).map((text) =>
    positiveNumber('nodes', text, true),
  );
  const badCount = nodeCounts.find((count) => !nodeCountsAllowed.includes(count));
  if (badCount !== undefined) throw new Error(`--nodes: ${badCount} is not one of 1, 3, 5`);
  return {
    seconds: positiveNumber('seconds', values.seconds, false),
    warmupSeconds: nonNegativeNumber('warmup-seconds', values['warmup-seconds']),
    concurrencies: listOf('concurrency', values.concurrency ?? '1,16,64').map((text) =>
      positiveNumber('concurrency', text, true),
    ),
    nodeCounts,
    loads: listOf('load', values.load).map((text): LoadKind => oneOf('load', text, loadKinds)),
    peers:
      values.vs === ''
        ? []
        : listOf('vs', values.vs).map((text): PeerName => oneOf('vs', text, peerNames)),
    ceiling: !values['no-ceiling'],
    sharedNames: positiveNumber('shared-names', values['shared-names'], true),
    redisBackoff: backoffOf(values['redis-backoff-ms']),
    markdown: values.markdown,
    rounds: roundsOf(values.rounds),
    commandLine,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const { values } = parseArgs({ args, options: flags });
  if (values.help) {
    console.log(usage);
    return;
  }
  installCleanupHandlers();
  try {
    if (values.million) {
      await runMillion({
        locks: positiveNumber('locks', values.locks, true),
        concurrency: positiveNumber('concurrency', values.concurrency ?? '64', true),
        markdown: values.markdown,
      });
    } else {
      await runComparison(compareOptionsOf(values, args.join(' ')));
    }
  } finally {
    await stopEverything();
  }
}

const usage = `npm run bench -- [--seconds 5] [--warmup-seconds 10] [--concurrency 1,16,64] [--nodes 1,3]
                 [--load uncontended,contended] [--vs etcd,redis] [--markdown] [--rounds 1]
                 [--no-ceiling] [--shared-names 4] [--redis-backoff-ms 1,5]
npm run bench -- --million [--locks 1000000] [--concurrency 64] [--markdown]`;

try {
  await main();
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
}
