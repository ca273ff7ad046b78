import type { Redis } from 'ioredis';
import { ADAPTERS, type AdapterName } from '../support/app.js';
import { cookiesNamed } from '../support/auth-helpers.js';
import { Browser, type Reply } from '../support/browser.js';
import { waitUntil } from '../support/lifecycle-helpers.js';
import { ProcessFaults } from '../support/process-faults.js';
import { adminClient, endWithin, freshPrefix, sameBrowserOn, startRedisApp, timed, type RedisApp } from '../support/redis-apps.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { openSocket, Refused, type SocketKind, type TestSocket } from '../support/sockets.js';
import { reportMeasurement } from '../support/measurement.js';

/**
 * A real redis-server that hangs (SIGSTOP) or dies (SIGKILL) under a running application: the routes that need the
 * session answer 503 within a bound, the others go on, nothing crashes, and the same cookie works again once Redis
 * is back, without restarting the application.
 */

/** `policy.storeTimeout` and the RedisStore's `commandTimeoutMs`. */
const STORE_TIMEOUT_MS = 400;
const COMMAND_TIMEOUT_MS = 400;
/** "Settles": far above the timeouts, far below a hang (no speed claim). */
const SETTLES_WITHIN_MS = STORE_TIMEOUT_MS + 4_000;
/** How long Redis may take to be usable again after SIGCONT or a restart. */
const RECOVERY_DEADLINE_MS = 15_000;
const BURST = 50;

let server: RedisServer;
let admin: Redis;
/** What the test did to the server, so that afterEach can bring it back whatever failed. */
let state: 'up' | 'paused' | 'killed' = 'up';
const faults = new ProcessFaults();

beforeAll(async () => {
  faults.install();
  server = await startRedisServer();
  admin = adminClient(server.url);
});

afterEach(async () => {
  if (state === 'paused') server.resume();
  if (state === 'killed') await server.restart();
  state = 'up';
  // Nothing crashed: no uncaught exception, no unhandled rejection, in the app or the store.
  expectNoFaults();
});

afterAll(async () => {
  if (state === 'paused') server.resume();
  admin?.disconnect();
  await server?.stop();
  faults.uninstall();
});

function pause(): void {
  server.pause();
  state = 'paused';
}

function resume(): void {
  server.resume();
  state = 'up';
}

/** SAVE, then SIGKILL: the restart loads the saved data. */
async function saveAndKill(): Promise<void> {
  expect(await admin.save()).toBe('OK');
  state = 'killed';
  await server.kill();
}

async function restart(): Promise<void> {
  await server.restart();
  state = 'up';
}

function expectUnavailable(reply: Reply): void {
  expect({ status: reply.status, body: reply.body }).toEqual({
    status: 503,
    body: expect.objectContaining({ statusCode: 503, code: 'store_unavailable' }),
  });
  expect(cookiesNamed(reply, 'sid')).toEqual([]);
}

function expectNoFaults(): void {
  expect(faults.describe()).toEqual([]);
}

describe.each(ADAPTERS)('Redis outages under an app on %s', (adapter: AdapterName) => {
  /** One kind per adapter: socket.io on Express, ws on Fastify. */
  const kind: SocketKind = adapter === 'express' ? 'socket.io' : 'ws';
  let app: RedisApp;
  let users = 0;

  beforeAll(async () => {
    app = await startRedisApp({
      adapter,
      redisUrl: server.url,
      prefix: freshPrefix(),
      sockets: kind,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      policy: { storeTimeout: STORE_TIMEOUT_MS },
    });
  });

  afterAll(async () => {
    await app?.t.close();
    expectNoFaults();
  });

  async function loginWithNote(note: string): Promise<{ browser: Browser; user: string; cookie: string }> {
    const user = `faults-${adapter}-${++users}`;
    const browser = new Browser(app.t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    expect((await browser.post('/note', { note })).status).toBe(201);
    expect((await browser.get('/me')).body).toEqual({ user, note });
    return { browser, user, cookie: browser.jar.get('sid')! };
  }

  /** What every outage must look like from the outside; returns the latency of the first /me. */
  async function expectOutageBehaviour(browser: Browser, cookie: string, what: string): Promise<number> {
    const first = await timed(browser.get('/me'));
    expect(first.error).toBeUndefined();
    expectUnavailable(first.value!);
    expect(first.ms).toBeLessThan(SETTLES_WITHIN_MS);

    // A public route answers, with or without the cookie, and leaves the cookie alone.
    const open = await browser.get('/public');
    expect(open.status).toBe(200);
    expect(open.body).toEqual({ user: null });
    expect(open.setCookies).toEqual([]);
    expect((await new Browser(app.t.url).get('/public')).body).toEqual({ user: null });

    // A burst: every request settles, the guarded ones 503, the public ones 200.
    const burst = await Promise.all(
      Array.from({ length: BURST }, (_, i) => timed(i % 2 === 0 ? browser.get('/me') : browser.get('/public'))),
    );
    expect(burst.filter((call) => call.error !== undefined)).toEqual([]);
    const statuses = burst.map((call) => call.value!.status);
    expect(statuses.filter((status, i) => status !== (i % 2 === 0 ? 503 : 200))).toEqual([]);
    for (const call of burst) expect(cookiesNamed(call.value!, 'sid')).toEqual([]);
    const slowest = Math.max(...burst.map((call) => call.ms));
    expect(slowest).toBeLessThan(SETTLES_WITHIN_MS);

    // The app still serves, and the browser kept its cookie through all of it.
    expect((await new Browser(app.t.url).get('/public')).status).toBe(200);
    expect(browser.jar.get('sid')).toBe(cookie);
    reportMeasurement(
      `redis-faults [${adapter}] ${what}: first /me 503 after ${first.ms} ms; burst of ${BURST} settled, slowest ${slowest} ms`,
    );
    return first.ms;
  }

  /**
   * SIGSTOP, then /me until it answers 503: the near cache serves a session it holds (unchanged: a paused Redis
   * applies no write) until its heartbeat lease lapses, never longer. Every answer meanwhile is the session as it was.
   */
  async function pauseUntilRefused(browser: Browser, user: string, note: string): Promise<void> {
    pause();
    const paused = Date.now();
    let served = 0;
    await waitUntil(
      async () => {
        const me = await browser.get('/me');
        if (me.status === 200) {
          expect(me.body).toEqual({ user, note });
          served++;
        } else expectUnavailable(me);
        return me.status === 503;
      },
      RECOVERY_DEADLINE_MS,
      '/me to answer 503 once the near cache stopped trusting its copy',
    );
    reportMeasurement(
      `redis-faults [${adapter}] paused: near cache served ${served} reads, first 503 ${Date.now() - paused} ms after SIGSTOP`,
    );
  }

  /** Polls /me with the same cookie until it answers 200; returns how long that took. */
  async function recovery(browser: Browser, since: number, what: string): Promise<number> {
    let lastStatus = 0;
    await waitUntil(
      async () => {
        lastStatus = (await browser.get('/me')).status;
        // A 401 would mean the outage lost the session: fail at once rather than poll to the deadline.
        if (lastStatus !== 200 && lastStatus !== 503) throw new Error(`/me answered ${lastStatus} while Redis came back`);
        return lastStatus === 200;
      },
      RECOVERY_DEADLINE_MS,
      `/me to answer 200 again after ${what}`,
    );
    return Date.now() - since;
  }

  it('Redis paused (SIGSTOP): 503 on connected routes, 200 on public ones, and the same cookie works after SIGCONT', async () => {
    const { browser, user, cookie } = await loginWithNote('kept through the pause');

    await pauseUntilRefused(browser, user, 'kept through the pause');
    const latency = await expectOutageBehaviour(browser, cookie, 'paused');
    // A write is refused too, and changes nothing.
    expectUnavailable(await browser.post('/note', { note: 'lost' }));

    resume();
    const recovered = await recovery(browser, Date.now(), 'SIGCONT');
    const me = await browser.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user, note: 'kept through the pause' });
    expect(browser.jar.get('sid')).toBe(cookie);
    // Writes and logins work again.
    expect((await browser.post('/note', { note: 'after' })).status).toBe(201);
    expect((await browser.get('/me')).body).toEqual({ user, note: 'after' });
    const stranger = new Browser(app.t.url);
    expect((await stranger.post('/login', { user: `${user}-new` })).status).toBe(201);
    reportMeasurement(`redis-faults [${adapter}] paused: 503 in ${latency} ms; /me 200 again ${recovered} ms after SIGCONT`);
  }, 40_000);

  it('Redis killed (SIGKILL after SAVE): 503 and no cookie for a login, and the same cookie works after a restart', async () => {
    const { browser, user, cookie } = await loginWithNote('saved before the crash');

    await saveAndKill();
    const latency = await expectOutageBehaviour(browser, cookie, 'killed');
    // A login while Redis is down answers 503 and sets no session cookie.
    const stranger = new Browser(app.t.url);
    const login = await timed(stranger.post('/login', { user: `${user}-new` }));
    expect(login.error).toBeUndefined();
    expectUnavailable(login.value!);
    expect(login.value!.headers.get('set-cookie')).toBeNull();
    expect(stranger.jar.size).toBe(0);
    // A login over the existing session changes nothing either.
    expectUnavailable(await browser.post('/login', { user: `${user}-other` }));
    expect(browser.jar.get('sid')).toBe(cookie);

    await restart();
    const recovered = await recovery(browser, Date.now(), 'the restart');
    const me = await browser.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user, note: 'saved before the crash' });
    expect(browser.jar.get('sid')).toBe(cookie);
    expect((await stranger.post('/login', { user: `${user}-new` })).status).toBe(201);
    expect((await stranger.get('/me')).body).toEqual({ user: `${user}-new`, note: null });
    reportMeasurement(
      `redis-faults [${adapter}] killed: 503 in ${latency} ms; login 503 in ${login.ms} ms; /me 200 again ${recovered} ms after redis-server answered PING`,
    );
  }, 40_000);

  it(`a ${kind} handshake while Redis is down is refused with store_unavailable, and accepted once it is back`, async () => {
    const { browser, user, cookie } = await loginWithNote('n');
    const handshake = () => openSocket(kind, app.t.url, { cookie: browser.cookieHeader() });

    await pauseUntilRefused(browser, user, 'n');
    const paused = await timed(handshake());
    expect(paused.error).toBeInstanceOf(Refused);
    expect((paused.error as Refused).code).toBe('store_unavailable');
    if (kind === 'ws') expect((paused.error as Refused).status).toBe(503);
    expect(paused.ms).toBeLessThan(SETTLES_WITHIN_MS);
    resume();
    await recovery(browser, Date.now(), 'SIGCONT');

    await saveAndKill();
    const killed = await timed(handshake());
    expect(killed.error).toBeInstanceOf(Refused);
    expect((killed.error as Refused).code).toBe('store_unavailable');
    if (kind === 'ws') expect((killed.error as Refused).status).toBe(503);
    await restart();
    await recovery(browser, Date.now(), 'the restart');

    const socket = await handshake();
    try {
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
    } finally {
      await socket.close();
    }
    expect(browser.jar.get('sid')).toBe(cookie);
    reportMeasurement(`redis-faults [${adapter}] ${kind} handshake refused in ${paused.ms} ms (paused), ${killed.ms} ms (killed)`);
  }, 40_000);
});

/** How soon the other server closes the sockets of a session closed on one server, once it is subscribed. */
const CLOSE_WITHIN_MS = 1500;

/** How many servers listen on the prefix's removal channel (test-only probe). */
async function subscribers(prefix: string): Promise<number> {
  const reply = (await admin.call('PUBSUB', 'NUMSUB', `${prefix}removals`)) as [string, number | string];
  return Number(reply[1]);
}

describe('two servers (Express with socket.io, Fastify with ws) through Redis outages', () => {
  let prefix: string;
  let one: RedisApp;
  let two: RedisApp;
  const opened: TestSocket[] = [];
  let users = 0;

  beforeAll(async () => {
    prefix = freshPrefix();
    const options = { redisUrl: server.url, prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS, policy: { storeTimeout: STORE_TIMEOUT_MS } };
    one = await startRedisApp({ ...options, adapter: 'express', sockets: 'socket.io' });
    two = await startRedisApp({ ...options, adapter: 'fastify', sockets: 'ws' });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((socket) => socket.close()));
  });

  afterAll(async () => {
    await one?.t.close();
    await two?.t.close();
  });

  async function login(app: RedisApp, name: string): Promise<{ browser: Browser; user: string }> {
    const user = `${name}-${++users}`;
    const browser = new Browser(app.t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    return { browser, user };
  }

  async function socketOn(app: RedisApp, browser: Browser, user: string): Promise<TestSocket> {
    const socket = await openSocket(app.sockets!, app.t.url, { cookie: browser.cookieHeader() });
    opened.push(socket);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
    return socket;
  }

  async function expectClosedSoon(socket: TestSocket, ms = CLOSE_WITHIN_MS): Promise<number> {
    const start = Date.now();
    const ended = await endWithin(socket, ms);
    expect(ended.reason).toBe('session_closed');
    if (socket.kind === 'ws') expect(ended.code).toBe(4401);
    return Date.now() - start;
  }

  /** Both servers answer /me again and are both subscribed to the removal channel. */
  async function bothBack(browsers: Browser[], since: number): Promise<number> {
    await waitUntil(
      async () => {
        const statuses = await Promise.all(browsers.map(async (browser) => (await browser.get('/me')).status));
        if (statuses.some((status) => status !== 200 && status !== 503)) throw new Error(`/me answered ${statuses.join(', ')}`);
        return statuses.every((status) => status === 200) && (await subscribers(prefix)) === 2;
      },
      RECOVERY_DEADLINE_MS,
      'both servers to read and hear Redis again',
    );
    return Date.now() - since;
  }

  for (const outage of ['paused', 'killed'] as const) {
    it(`sockets that lived through Redis ${outage === 'paused' ? 'hanging' : 'crashing'} are still closed from the other server`, async () => {
      const ann = await login(one, 'ann');
      const bob = await login(two, 'bob');
      const annSocket = await socketOn(two, ann.browser, ann.user);
      const bobSocket = await socketOn(one, bob.browser, bob.user);

      if (outage === 'paused') {
        pause();
        expectUnavailable(await ann.browser.get('/me'));
        expectUnavailable(await sameBrowserOn(bob.browser, one.t.url).get('/me'));
        resume();
      } else {
        await saveAndKill();
        expectUnavailable(await ann.browser.get('/me'));
        expectUnavailable(await sameBrowserOn(bob.browser, one.t.url).get('/me'));
        await restart();
      }
      const back = await bothBack([ann.browser, bob.browser], Date.now());
      // The sockets stayed open through the outage.
      expect(annSocket.isOpen).toBe(true);
      expect(bobSocket.isOpen).toBe(true);

      expect((await ann.browser.post('/logout')).status).toBe(201);
      const annClosed = await expectClosedSoon(annSocket);
      expect((await bob.browser.post('/logout')).status).toBe(201);
      const bobClosed = await expectClosedSoon(bobSocket);
      reportMeasurement(
        `redis-faults [two servers] ${outage}: both servers reading and subscribed ${back} ms after Redis was back; ` +
          `cross-server socket closes ${annClosed} ms (ws on Fastify) and ${bobClosed} ms (socket.io on Express)`,
      );
    }, 40_000);
  }

  /**
   * Drops every pub/sub connection and keeps them from reconnecting while `during` runs (the server refuses new
   * connections past `maxclients`; the servers' command connections stay up), then lets them back in.
   */
  async function withoutSubscriptions(during: () => Promise<void>): Promise<void> {
    const connected = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
    const pubsub = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    const subscribed = pubsub.split('\n').filter((line) => line.trim() !== '').length;
    expect(subscribed).toBeGreaterThanOrEqual(2);
    await admin.config('SET', 'maxclients', String(connected - subscribed));
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await waitUntil(async () => (await subscribers(prefix)) === 0, 5_000, 'the subscriptions to drop');
      await during();
    } finally {
      await admin.config('SET', 'maxclients', '10000');
    }
    await waitUntil(async () => (await subscribers(prefix)) === 2, RECOVERY_DEADLINE_MS, 'both servers to subscribe again');
  }

  /** A logout on Express while Fastify's subscription is down: Fastify's socket of that session never hears of it. */
  async function logoutDuringGap(): Promise<{ socket: TestSocket; browser: Browser; openedAt: number }> {
    const ann = await login(one, 'gap');
    const openedAt = Date.now();
    const socket = await socketOn(two, ann.browser, ann.user);
    const onTwo = sameBrowserOn(ann.browser, two.t.url);
    await withoutSubscriptions(async () => {
      expect((await ann.browser.post('/logout')).status).toBe(201);
      // The session is gone for every request, on both servers, at once: requests read Redis, not the channel.
      expect((await onTwo.get('/me')).status).toBe(401);
    });
    return { socket, browser: onTwo, openedAt };
  }

  it('a removal published while the other server was unsubscribed: that socket’s next message closes it', async () => {
    const { socket, openedAt } = await logoutDuringGap();
    // Its next message more than a second after its handshake (the re-read interval) re-reads the session and ends
    // the socket. (Within that second a message is served from the session as checked: by design, the channel is
    // what closes sockets sooner.)
    await waitUntil(() => Date.now() - openedAt > 1_200, 5_000, 'the re-read interval to pass');
    expect(socket.isOpen).toBe(true);
    socket.send('whoami');
    await expectClosedSoon(socket, 3_000);
  }, 40_000);

  /**
   * A removal message published while a server's subscription is down is lost; the socket registry re-reads the
   * session of every quiet socket every two seconds, which closes the socket without waiting for its next message.
   */
  it('a removal published while the other server was unsubscribed: that socket’s next message closes it', async () => {
    const { socket, openedAt } = await logoutDuringGap();
    // Its next message more than a second after its handshake (the re-read interval) re-reads the session and ends
    // the socket. (Within that second a message is served from the session as checked: by design, the channel is
    // what closes sockets sooner.)
    await waitUntil(() => Date.now() - openedAt > 1_200, 5_000, 'the re-read interval to pass');
    expect(socket.isOpen).toBe(true);
    socket.send('whoami');
    await expectClosedSoon(socket, 3_000);
  }, 40_000);

  /**
   * The removal message is lost, and the socket sends nothing: only the registry's periodic re-read of quiet
   * sockets' sessions (SocketFreshness's sweep) can find that its session is gone.
   */
  it('a removal published while the other server was unsubscribed: a silent socket is closed once it subscribes again', async () => {
    const { socket } = await logoutDuringGap();
    await expectClosedSoon(socket, 3_000);
  }, 40_000);
});

describe.each(ADAPTERS)('shutting an app on %s down while Redis hangs', (adapter: AdapterName) => {
  it('closes within a bound and leaves no connection behind once Redis is back', async () => {
    const baseline = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
    const app = await startRedisApp({
      adapter,
      redisUrl: server.url,
      prefix: freshPrefix(),
      sockets: adapter === 'express' ? 'socket.io' : 'ws',
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      policy: { storeTimeout: STORE_TIMEOUT_MS },
    });
    const browser = new Browser(app.t.url);
    expect((await browser.post('/login', { user: `shutdown-${adapter}` })).status).toBe(201);
    const socket = await openSocket(app.sockets!, app.t.url, { cookie: browser.cookieHeader() });

    pause();
    // A request in flight when the shutdown begins.
    const inFlight = browser.get('/me').catch((error: unknown) => error);
    const closing = await timed(app.t.close());
    expect(closing.error).toBeUndefined();
    expect(closing.ms).toBeLessThan(10_000);
    await inFlight;
    await endWithin(socket, 5_000);
    resume();
    // The store's connections (commands and pub/sub) are gone: only the test's admin connection and earlier ones.
    await waitUntil(
      async () => Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]) <= baseline,
      RECOVERY_DEADLINE_MS,
      'the closed app’s Redis connections to go',
    );
    reportMeasurement(`redis-faults [${adapter}] app.close() while Redis is paused took ${closing.ms} ms`);
  }, 40_000);
});
