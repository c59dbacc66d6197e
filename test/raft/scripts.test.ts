/**
 * Runs the scenario scripts of testdata/ (see script.ts for the commands): each command's output
 * must be exactly the one written under it. RAFT_REWRITE=1 writes the actual outputs instead, to
 * be reviewed as a diff, as etcd's data-driven tests do.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatScript, parseScript, ScriptRunner } from './script.js';

const directory = join(import.meta.dirname, 'testdata');
const rewrite = process.env.RAFT_REWRITE !== undefined;

describe('scenario scripts', () => {
  for (const file of readdirSync(directory)
    .filter((name) => name.endsWith('.txt'))
    .sort()) {
    test(file, () => {
      const path = join(directory, file);
      const blocks = parseScript(readFileSync(path, 'utf8'));
      const runner = new ScriptRunner();
      const outputs: string[] = [];
      for (const [position, block] of blocks.entries()) {
        const output = runner.run(block.command);
        outputs.push(output);
        if (!rewrite) {
          assert.equal(
            output,
            block.expected,
            `${file}, command ${position + 1}: ${block.command}`,
          );
        }
      }
      if (rewrite) writeFileSync(path, formatScript(blocks, outputs));
      runner.network.checkSafety();
    });
  }
});
