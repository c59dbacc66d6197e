#!/usr/bin/env node
import { createRequire } from 'node:module';
import { helpText, parseArguments, UsageError } from './arguments.js';
import { parseLocalClusterArguments, runLocalCluster } from './local-cluster.js';
import { runNode } from './run-node.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

/** Exit codes: 0 clean stop, 1 failure while running, 2 bad flags or configuration. */
async function main(argv: readonly string[]): Promise<void> {
  try {
    if (argv[0] === 'cluster') {
      await runLocalCluster(parseLocalClusterArguments(argv.slice(1)));
      return;
    }
    const options = parseArguments(argv);
    if (options.help) {
      process.stdout.write(helpText(version));
      return;
    }
    if (options.version) {
      process.stdout.write(`lockd ${version}\n`);
      return;
    }
    await runNode(options, version);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`lockd: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`lockd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

await main(process.argv.slice(2));
