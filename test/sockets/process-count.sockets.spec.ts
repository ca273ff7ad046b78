import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import type { Browser } from '../support/browser.js';
import { handleOf, login, registryOf } from '../support/clients-helpers.js';
import { waitUntil } from '../support/lifecycle-helpers.js';
import { reportMeasurement } from '../support/measurement.js';
import { LiveGateway } from '../support/live.gateway.js';
import { openSocket, sessionSockets, SOCKET_KINDS, type TestSocket } from '../support/sockets.js';

/** How many sockets (one session each) the measurement holds open at once. */
const SOCKETS = 500;
/** Logins and handshakes in flight at once. */
const BATCH = 50;
/** Every n-th socket is asked `whoami`. */
const SAMPLE_EVERY = 25;

/** Runs `fn` over `items`, `BATCH` at a time, keeping the order of the results. */
async function inBatches<T, R>(items: T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += BATCH) {
    results.push(...(await Promise.all(items.slice(start, start + BATCH).map((item, i) => fn(item, start + i)))));
  }
  return results;
}

/** The V8 heap in use, after a full collection when the process was started with --expose-gc. */
function heapUsed(): { bytes: number; collected: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') {
    gc();
    gc();
  }
  return { bytes: process.memoryUsage().heapUsed, collected: typeof gc === 'function' };
}

/**
 * A measurement, not a threshold: how much heap one open session socket costs. The server and the clients run in
 * this one process, so the figure is server and client together. One adapter is enough (sockets do not go through
 * the HTTP framework once open).
 */
describe.each(ADAPTERS.filter((adapter) => adapter === 'express'))('process count on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    let t: TestApp;
    let sockets: TestSocket[] = [];

    beforeAll(async () => {
      t = await startApp({ adapter, controllers: [AuthController], providers: [LiveGateway], configure: sessionSockets(kind) });
    });
    afterEach(async () => {
      await Promise.all(
        sockets.map(async (socket) => {
          await socket.close();
          await socket.ended;
        }),
      );
      sockets = [];
      await waitUntil(() => registryOf(t.app).count() === 0, 10_000, 'every socket unregistered');
    });
    afterAll(() => t.close());

    it(`holds ${SOCKETS} sockets of ${SOCKETS} sessions and measures their heap`, async () => {
      const users = Array.from({ length: SOCKETS }, (_, i) => `count-${adapter}-${kind}-${i}`);
      const browsers: Browser[] = await inBatches(users, (user) => login(t.url, user));
      const registry = registryOf(t.app);
      expect(registry.count()).toBe(0);

      const before = heapUsed();
      sockets = await inBatches(browsers, (browser) => openSocket(kind, t.url, { cookie: browser.cookieHeader() }));
      expect(sockets).toHaveLength(SOCKETS);
      expect(sockets.every((socket) => socket.isOpen)).toBe(true);
      await waitUntil(() => registry.count() === SOCKETS, 10_000, `${SOCKETS} registered sockets`);
      expect(registry.count()).toBe(SOCKETS);

      // A sample answers with its own session's user.
      const sample = sockets.map((socket, i) => ({ socket, user: users[i]! })).filter((_, i) => i % SAMPLE_EVERY === 0);
      const answers = await Promise.all(sample.map(({ socket }) => socket.request('whoami', undefined, 10_000)));
      expect(answers).toEqual(sample.map(({ user }) => ({ event: 'whoami', data: { user } })));
      // Each sampled socket is the one client of its session.
      for (const { user } of sample) expect(registry.count(await handleOf(t.app, user))).toBe(1);

      const after = heapUsed();
      expect(sockets.every((socket) => socket.isOpen)).toBe(true);
      expect(registry.count()).toBe(SOCKETS);
      const perSocket = Math.round((after.bytes - before.bytes) / SOCKETS);
      reportMeasurement(
        `process-count [${adapter}/${kind}]: ${SOCKETS} open sockets (one session each), heap used ` +
          `${before.bytes} -> ${after.bytes} bytes = ${perSocket} bytes per socket, server and client together ` +
          `(both run in this Jest process)` +
          (after.collected ? ', after a forced GC' : '; no forced GC (run node with --expose-gc for a steadier figure)'),
      );
    }, 60_000);
  });
});
