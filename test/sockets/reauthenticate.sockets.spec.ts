import { MemoryStore, type SessionInfo } from '../../lib/index.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { registryOf } from '../support/clients-helpers.js';
import { EventRecorder, sleep, waitUntil } from '../support/lifecycle-helpers.js';
import { PASSWORD, ReauthController, ReauthGateway, STALE_AFTER_MS, StreamController } from '../support/reauth-app.js';
import { freshPrefix, sameBrowserOn } from '../support/redis-apps.js';
import { SessionsController } from '../support/sessions.controller.js';
import { openSse, type SseEvent } from '../support/sse-client.js';
import { openSocket, Refused, sessionSockets, SOCKET_KINDS, type SocketKind, type TestSocket } from '../support/sockets.js';
import { redisForFile } from '../support/store-kinds.js';

/**
 * Live clients and re-authentication (issue 13): a `@Connected({ fresh })` message is refused with `reauthenticate`
 * on a socket that stays open; `reauthenticate()` keeps every live client of the session (sockets of both kinds, SSE
 * streams) open and moves it to the session's new id, on this server and, through the store, on the others.
 */
const redis = redisForFile();

const CONTROLLERS = [LoginController, ReauthController, SessionsController, StreamController];
/** A generous "nothing hangs" bound for what crosses servers through pub/sub. */
const NOTHING_HANGS_MS = 5000;
const REFUSED_STALE = { event: 'exception', data: { status: 'error', code: 'reauthenticate', message: 'Reauthentication required' } };

async function login(url: string, user: string, headers: Record<string, string> = {}): Promise<Browser> {
  const browser = new Browser(url, headers);
  expect((await browser.post('/login', { user })).status).toBe(201);
  return browser;
}

/** The handle of the browser's own session (its store key: the registry's key for its clients). */
async function handleOf(browser: Browser): Promise<string> {
  const listed = (await browser.get('/sessions')).body as SessionInfo[];
  const current = listed.filter((session) => session.current);
  expect(current).toHaveLength(1);
  return current[0]!.handle;
}

async function reauthenticate(browser: Browser): Promise<void> {
  const reply = await browser.post('/reauthenticate', { password: PASSWORD });
  expect(reply.status).toBe(201);
}

const CASES: Array<[AdapterName, SocketKind]> = ADAPTERS.flatMap((adapter) =>
  SOCKET_KINDS.map((kind): [AdapterName, SocketKind] => [adapter, kind]),
);

describe.each(CASES)('fresh and reauthenticate() with sockets on %s with %s, memory store', (adapter, kind) => {
  let t: TestApp;
  let events: EventRecorder;
  const opened: TestSocket[] = [];

  beforeAll(async () => {
    t = await startApp({
      adapter,
      controllers: CONTROLLERS,
      providers: [ReauthGateway],
      policy: { store: new MemoryStore() },
      configure: sessionSockets(kind),
    });
    events = new EventRecorder(t.app);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    events?.stop();
    await t?.close();
  });

  async function socketOf(browser: Browser, process?: string): Promise<TestSocket> {
    const socket = await openSocket(kind, t.url, { cookie: browser.cookieHeader(), ...(process === undefined ? {} : { process }) });
    opened.push(socket);
    return socket;
  }

  it('refuses a stale login on a message with reauthenticate, and the socket stays open', async () => {
    const user = `stale-socket-${adapter}-${kind}`;
    const browser = await login(t.url, user);
    const socket = await socketOf(browser);
    expect(await socket.request('sensitive')).toEqual({ event: 'sensitive', data: { user } });
    await sleep(STALE_AFTER_MS);
    expect(await socket.request('sensitive')).toEqual(REFUSED_STALE);
    const denied = await events.waitFor((e) => e.type === 'denied-request' && e.userId === user);
    expect(denied).toMatchObject({ reason: 'stale-authentication', transport: 'ws' });
    expect(socket.isOpen).toBe(true);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
  });

  it('keeps the socket through reauthenticate(): it moves to the new id, with its process values and the new login time', async () => {
    const user = `moved-socket-${adapter}-${kind}`;
    const tab = `tab-${adapter}-${kind}`.replace(/[^A-Za-z0-9_-]/g, '');
    const browser = await login(t.url, user);
    expect((await browser.post('/values', { value: 'v' })).status).toBe(201);
    const socket = await socketOf(browser, tab);
    expect(await socket.request('tab')).toEqual({ event: 'tab', data: { count: 1 } });
    const oldHandle = await handleOf(browser);
    expect(registryOf(t.app).count(oldHandle)).toBe(1);
    await sleep(STALE_AFTER_MS);
    expect(await socket.request('sensitive')).toEqual(REFUSED_STALE);

    await reauthenticate(browser);
    const newHandle = await handleOf(browser);
    expect(newHandle).not.toBe(oldHandle);
    expect(registryOf(t.app).count(newHandle)).toBe(1);
    expect(registryOf(t.app).count(oldHandle)).toBe(0);
    expect(await socket.request('sensitive')).toEqual({ event: 'sensitive', data: { user } });
    expect(await socket.request('tab')).toEqual({ event: 'tab', data: { count: 2 } });
    expect(await socket.request('note')).toEqual({ event: 'note', data: { note: 'note:v' } });
    expect(socket.isOpen).toBe(true);
    expect(socket.received.filter((message) => message.event === 'session_end')).toEqual([]);
    expect(events.events.filter((e) => e.type === 'client-disconnected' && e.userId === user)).toEqual([]);

    // The socket is the new session's client: ending that session ends it.
    expect((await browser.post('/logout')).status).toBe(201);
    await socket.ended;
    await expect(openSocket(kind, t.url, { cookie: browser.cookieHeader() })).rejects.toBeInstanceOf(Refused);
  });

  it('refuses a new socket with the old cookie', async () => {
    const user = `old-cookie-socket-${adapter}-${kind}`;
    const browser = await login(t.url, user);
    const oldCookie = browser.cookieHeader();
    await reauthenticate(browser);
    await expect(openSocket(kind, t.url, { cookie: oldCookie })).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(await (await socketOf(browser)).request('sensitive')).toEqual({ event: 'sensitive', data: { user } });
  });
});

describe.each(ADAPTERS)('reauthenticate() with a Server-Sent Events stream on %s, memory store', (adapter) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ adapter, controllers: CONTROLLERS, policy: { store: new MemoryStore() } });
  });
  afterAll(() => t?.close());

  it('keeps the stream open as a client of the session under its new id', async () => {
    const user = `stream-${adapter}`;
    const browser = await login(t.url, user);
    const stream = await openSse(t.url, '/stream', { cookie: browser.cookieHeader() });
    try {
      const mine = (event: SseEvent) => event.event === 'message' && (JSON.parse(event.data) as { user: unknown }).user === user;
      await stream.waitFor(mine);
      const oldHandle = await handleOf(browser);
      await reauthenticate(browser);
      const newHandle = await handleOf(browser);
      expect(registryOf(t.app).count(newHandle)).toBe(1);
      expect(registryOf(t.app).count(oldHandle)).toBe(0);
      const seen = stream.events.length;
      await waitUntil(() => stream.events.length >= seen + 2, NOTHING_HANGS_MS, 'two more events');
      expect(stream.events.slice(seen).every(mine)).toBe(true);

      expect((await browser.post('/logout')).status).toBe(201);
      expect(await stream.endWithin(NOTHING_HANGS_MS)).toMatchObject({ how: 'end' });
      expect(stream.named('session_end').map((event) => JSON.parse(event.data) as unknown)).toEqual([{ reason: 'session_closed' }]);
    } finally {
      await stream.close();
    }
  });
});

const PAIRINGS: Array<[SocketKind, SocketKind]> = [
  ['socket.io', 'ws'],
  ['ws', 'socket.io'],
];

describe.each(PAIRINGS)('reauthenticate() on two servers sharing one Redis (%s on Express, %s on Fastify)', (kindOne, kindTwo) => {
  let one: TestApp;
  let two: TestApp;
  const opened: TestSocket[] = [];

  beforeAll(async () => {
    const prefix = freshPrefix();
    const start = (adapter: AdapterName, kind: SocketKind) =>
      startApp({
        adapter,
        controllers: CONTROLLERS,
        providers: [ReauthGateway],
        policy: { store: new RedisStore({ url: redis.url, prefix }) },
        configure: sessionSockets(kind),
      });
    one = await start('express', kindOne);
    two = await start('fastify', kindTwo);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('kills the old cookie on both servers, and the socket on the other server follows the session, values and all', async () => {
    const user = `redis-moved-${kindOne}`;
    const tab = `redis-tab-${kindOne}`.replace(/[^A-Za-z0-9_-]/g, '');
    const browser = await login(one.url, user);
    const onTwo = sameBrowserOn(browser, two.url);
    const socket = await openSocket(kindTwo, two.url, { cookie: onTwo.cookieHeader(), process: tab });
    opened.push(socket);
    expect(await socket.request('tab')).toEqual({ event: 'tab', data: { count: 1 } });
    const oldHandle = await handleOf(browser);
    await sleep(STALE_AFTER_MS);
    expect(await socket.request('sensitive')).toEqual(REFUSED_STALE);

    await reauthenticate(browser);
    const newHandle = await handleOf(browser);
    expect((await onTwo.get('/values')).status).toBe(401);
    const renewedOnTwo = sameBrowserOn(browser, two.url);
    expect(await renewedOnTwo.get('/sensitive')).toMatchObject({ status: 200, body: { user } });

    await waitUntil(() => registryOf(two.app).count(newHandle) === 1, NOTHING_HANGS_MS, 'the socket to follow the session');
    expect(registryOf(two.app).count(oldHandle)).toBe(0);
    expect(await socket.request('sensitive')).toEqual({ event: 'sensitive', data: { user } });
    expect(await socket.request('tab')).toEqual({ event: 'tab', data: { count: 2 } });
    expect(socket.isOpen).toBe(true);
  });
});
