// Runs every test file under test/ with Node's own test runner, TypeScript loaded through tsx.
// Node 20's runner does not expand globs, so the file list is gathered here.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

function collectTestFiles(directory) {
  const found = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...collectTestFiles(path));
    else if (entry.name.endsWith('.test.ts')) found.push(relative(process.cwd(), path));
  }
  return found.sort();
}

const filters = process.argv.slice(2);
const files = collectTestFiles('test').filter(
  (file) => filters.length === 0 || filters.some((filter) => file.includes(filter)),
);
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
