#!/usr/bin/env node
// The Redis tests talk to a real redis-server (started per test run on a loopback port). On a fresh machine it is
// installed from Debian's packages, so that `npm test` needs nothing installed by hand.
import { execFileSync, spawnSync } from 'node:child_process';

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (has('redis-server')) process.exit(0);
if (!has('apt-get')) {
  console.error('ensure-redis: redis-server is missing and apt-get is not available; install Redis 7 by hand.');
  process.exit(1);
}
const root = process.getuid?.() === 0;
if (!root && !has('sudo')) {
  console.error('ensure-redis: redis-server is missing; run `apt-get install -y redis-server` as root.');
  process.exit(1);
}
const run = (args) =>
  execFileSync(root ? args[0] : 'sudo', root ? args.slice(1) : args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
console.log('ensure-redis: installing redis-server with apt-get');
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server']);
