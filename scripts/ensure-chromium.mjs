#!/usr/bin/env node
// The browser tests drive a real Chromium (Debian's `chromium`, through playwright-core: nothing is downloaded at
// install time). On a fresh machine it is installed from Debian's packages, so that `npm test` needs nothing
// installed by hand. The tests find it at CHROMIUM_PATH, or as `chromium` on the PATH.
import { execFileSync, spawnSync } from 'node:child_process';

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (process.env.CHROMIUM_PATH || has('chromium')) process.exit(0);
if (!has('apt-get')) {
  console.error('ensure-chromium: chromium is missing and apt-get is not available; install Chromium and set CHROMIUM_PATH.');
  process.exit(1);
}
const root = process.getuid?.() === 0;
if (!root && !has('sudo')) {
  console.error('ensure-chromium: chromium is missing; run `apt-get install -y chromium` as root.');
  process.exit(1);
}
const run = (args) =>
  execFileSync(root ? args[0] : 'sudo', root ? args.slice(1) : args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
console.log('ensure-chromium: installing chromium with apt-get');
// Another install may hold dpkg's lock on a shared machine: wait for it rather than fail.
run(['apt-get', '-o', 'DPkg::Lock::Timeout=300', 'update', '-qq']);
run(['apt-get', '-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', 'chromium']);
