import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Where Debian's Chromium is: CHROMIUM_PATH, else `chromium` on the PATH (what scripts/ensure-chromium.mjs, run by
 * `npm test`, installs). A missing browser fails the test with the way to get one; it never skips it.
 */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, which('chromium'), '/usr/bin/chromium'];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Try the next one.
    }
  }
  throw new Error('Chromium not found: run `node scripts/ensure-chromium.mjs` (npm test does) or set CHROMIUM_PATH');
}

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/**
 * Headless Chromium in which every `*.example.test` and `*.attacker.test` name is loopback: pages of several sites
 * (and sibling subdomains of one site) served by local test servers, as a browser sees them on the Internet.
 * `backForwardCache`: keep Chromium's back-forward cache on, as in a user's browser (playwright turns it off).
 */
export function launchChromium(options: { backForwardCache?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    ...(options.backForwardCache ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP *.example.test 127.0.0.1, MAP *.attacker.test 127.0.0.1',
    ],
  });
}
