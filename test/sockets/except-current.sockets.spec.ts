import { MemoryStore, SessionService, type SessionInfo } from '../../lib/index.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';
import { EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { ReauthController, ReauthGateway, StreamController } from '../support/reauth-app.js';
import { endWithin, freshPrefix, sameBrowserOn } from '../support/redis-apps.js';
import { SessionsController } from '../support/sessions.controller.js';
import { openSse, type SseEvent } from '../support/sse-client.js';
import { openSocket, sessionSockets, SOCKET_KINDS, type Ended, type SocketKind, type TestSocket } from '../support/sockets.js';
import { redisForFile } from '../support/store-kinds.js';

/**
 * `disconnectAll({ exceptCurrent: true })` (issue 13, "log out my other devices" after a password change): every
 * other session of the user closes, with its sockets and streams, on every server; the current one stays, with its
 * sockets and streams. On the memory store, and on two servers sharing one Redis.
 */
const redis = redisForFile();

const CONTROLLERS = [LoginController, ReauthController, SessionsController, CartController, StreamController];
/** A generous "nothing hangs" bound for a socket that must close (from another server: through pub/sub). */
const CLOSE_WITHIN_MS = 3000;

/** How a socket of a closed session ends, on each kind. */
function closedBySession(kind: SocketKind): Ended {
  return kind === 'socket.io' ? { reason: 'session_closed' } : { code: 4401, reason: 'session_closed' };
}

async function login(url: string, user: string): Promise<Browser> {
  const browser = new Browser(url);
  expect((await browser.post('/login', { user })).status).toBe(201);
  return browser;
}

async function sessionsOf(browser: Browser): Promise<SessionInfo[]> {
  const reply = await browser.get('/sessions');
  expect(reply.status).toBe(200);
  return reply.body as SessionInfo[];
}

const CASES: Array<[AdapterName, SocketKind]> = ADAPTERS.flatMap((adapter) =>
  SOCKET_KINDS.map((kind): [AdapterName, SocketKind] => [adapter, kind]),
);

describe.each(CASES)('disconnectAll({ exceptCurrent }) on %s with %s sockets, memory store', (adapter, kind) => {
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

  async function socketOf(browser: Browser, user: string): Promise<TestSocket> {
    const socket = await openSocket(kind, t.url, { cookie: browser.cookieHeader() });
    opened.push(socket);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
    return socket;
  }

  it('closes the other sessions and their sockets, keeps this one and its socket, and leaves other users alone', async () => {
    const user = `others-${adapter}-${kind}`;
    const bobUser = `bob-${adapter}-${kind}`;
    const here = await login(t.url, user);
    const phone = await login(t.url, user);
    const laptop = await login(t.url, user);
    const bob = await login(t.url, bobUser);
    const [hereSocket, phoneSocket, bobSocket] = [await socketOf(here, user), await socketOf(phone, user), await socketOf(bob, bobUser)];
    const before = await sessionsOf(here);
    const kept = before.find((session) => session.current)!;
    const others = before.filter((session) => !session.current).map((session) => session.handle);
    expect(others).toHaveLength(2);
    const mark = events.events.length;

    const reply = await here.post('/disconnect-others');
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ closed: 2 });
    expect(reply.setCookies).toEqual([]);

    expect(await endWithin(phoneSocket, CLOSE_WITHIN_MS)).toEqual(closedBySession(kind));
    expect((await phone.get('/values')).status).toBe(401);
    expect((await laptop.get('/values')).status).toBe(401);

    expect(hereSocket.isOpen).toBe(true);
    expect(await hereSocket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
    expect((await here.get('/values')).status).toBe(200);
    expect(await sessionsOf(here)).toEqual([{ ...kept, lastSeenAt: expect.any(String) }]);

    expect(bobSocket.isOpen).toBe(true);
    expect(await bobSocket.request('whoami')).toEqual({ event: 'whoami', data: { user: bobUser } });
    expect(await sessionsOf(bob)).toHaveLength(1);

    const closes = events.events
      .slice(mark)
      .filter((event) => event.type === 'pre-close-session' || event.type === 'post-close-session')
      .map((event) => [event.type, event.session, event.reason]);
    expect(closes).toEqual(
      expect.arrayContaining(
        others.flatMap((handle) => [
          ['pre-close-session', handle, 'disconnect-all'],
          ['post-close-session', handle, 'disconnect-all'],
        ]),
      ),
    );
    expect(closes).toHaveLength(4);
  });
});

describe.each(ADAPTERS)('disconnectAll({ exceptCurrent }) on %s, memory store: streams and errors', (adapter) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ adapter, controllers: CONTROLLERS, policy: { store: new MemoryStore() } });
  });
  afterAll(() => t?.close());

  it('keeps the stream of this session open, and ends the other session’s with session_end', async () => {
    const user = `streams-${adapter}`;
    const here = await login(t.url, user);
    const phone = await login(t.url, user);
    const [hereStream, phoneStream] = [
      await openSse(t.url, '/stream', { cookie: here.cookieHeader() }),
      await openSse(t.url, '/stream', { cookie: phone.cookieHeader() }),
    ];
    try {
      const mine = (event: SseEvent) => event.event === 'message' && (JSON.parse(event.data) as { user: unknown }).user === user;
      await hereStream.waitFor(mine);
      await phoneStream.waitFor(mine);
      expect((await here.post('/disconnect-others')).body).toEqual({ closed: 1 });
      expect(await phoneStream.endWithin()).toMatchObject({ how: 'end' });
      expect(phoneStream.named('session_end').map((event) => JSON.parse(event.data) as unknown)).toEqual([{ reason: 'session_closed' }]);
      // Events sent from now on: the stream of this session goes on, as this session's.
      const seen = hereStream.events.length;
      await waitUntil(() => hereStream.events.length >= seen + 2, 3000, 'two more events on the kept stream');
      expect(hereStream.events.slice(seen).every(mine)).toBe(true);
      expect(hereStream.end).toBeUndefined();
    } finally {
      await hereStream.close();
      await phoneStream.close();
    }
  });

  it('is an error outside a request, saying why, and closes nothing', async () => {
    const user = `outside-${adapter}`;
    const browser = await login(t.url, user);
    const sessions = t.app.get(SessionService);
    const why = 'nestjs-connected: disconnectAll({ exceptCurrent: true }) needs a request: outside one there is no current session to keep';
    await expect(sessions.disconnectAll({ exceptCurrent: true })).rejects.toThrow(why);
    await expect(sessions.disconnectAll({ userId: user, exceptCurrent: true })).rejects.toThrow(why);
    expect(await sessions.listSessions(user)).toHaveLength(1);
    expect((await browser.get('/values')).status).toBe(200);
  });

  it('is an error with another user’s userId, and closes nothing of either user', async () => {
    const user = `mine-${adapter}`;
    const other = `theirs-${adapter}`;
    const here = await login(t.url, user);
    const mySecond = await login(t.url, user);
    const theirs = await login(t.url, other);
    expect((await here.post('/try-disconnect-all', { userId: other, exceptCurrent: true })).body).toEqual({
      error:
        "nestjs-connected: disconnectAll({ userId, exceptCurrent: true }) names another user than the current session's: exceptCurrent keeps the current session, so it only closes the current user's other sessions",
      name: 'Error',
      status: 500,
    });
    for (const browser of [here, mySecond, theirs]) expect((await browser.get('/values')).status).toBe(200);
    // The current user's own id is the same as leaving it out.
    expect((await here.post('/try-disconnect-all', { userId: user, exceptCurrent: true })).body).toEqual({ closed: 1 });
    expect((await mySecond.get('/values')).status).toBe(401);
    expect((await here.get('/values')).status).toBe(200);
  });

  it('is NotConnectedException (401) without a connected session', async () => {
    const anonymous = new Browser(t.url);
    expect((await anonymous.post('/try-disconnect-all', { exceptCurrent: true })).body).toEqual({
      error: 'Not connected',
      name: 'NotConnectedException',
      status: 401,
    });
    expect(anonymous.jar.size).toBe(0);
  });

  it('with userIndep: false, leaves each other browser its browser data, and this one everything', async () => {
    const user = `indep-${adapter}`;
    const here = await login(t.url, user);
    const phone = new Browser(t.url);
    expect((await phone.post('/cart', { item: 'tea' })).status).toBe(201);
    expect((await phone.post('/login', { user })).status).toBe(201);
    expect((await here.post('/cart', { item: 'coffee' })).status).toBe(201);
    expect((await here.post('/try-disconnect-all', { exceptCurrent: true, userIndep: false })).body).toEqual({ closed: 1 });
    expect((await phone.get('/values')).status).toBe(401);
    expect((await phone.get('/cart')).body).toEqual({ cart: 'tea' });
    expect((await here.get('/values')).status).toBe(200);
    expect((await here.get('/cart')).body).toEqual({ cart: 'coffee' });
  });
});

const PAIRINGS: Array<[SocketKind, SocketKind]> = [
  ['socket.io', 'ws'],
  ['ws', 'socket.io'],
];

describe.each(PAIRINGS)(
  'disconnectAll({ exceptCurrent }) on two servers sharing one Redis (%s on Express, %s on Fastify)',
  (kindOne, kindTwo) => {
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

    async function socketOn(app: TestApp, kind: SocketKind, browser: Browser, user: string): Promise<TestSocket> {
      const socket = await openSocket(kind, app.url, { cookie: browser.cookieHeader() });
      opened.push(socket);
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
      return socket;
    }

    it('closes the other sessions and their sockets on both servers, and keeps this one and its socket on the other', async () => {
      const user = `redis-others-${kindOne}`;
      const bobUser = `redis-bob-${kindOne}`;
      const here = await login(one.url, user);
      const phone = await login(two.url, user);
      const bob = await login(two.url, bobUser);
      const hereOnTwo = sameBrowserOn(here, two.url);
      const hereSocket = await socketOn(two, kindTwo, hereOnTwo, user);
      const phoneSockets = [await socketOn(one, kindOne, phone, user), await socketOn(two, kindTwo, phone, user)];
      const bobSocket = await socketOn(one, kindOne, bob, bobUser);

      expect((await here.post('/disconnect-others')).body).toEqual({ closed: 1 });
      expect(await endWithin(phoneSockets[0]!, CLOSE_WITHIN_MS)).toEqual(closedBySession(kindOne));
      expect(await endWithin(phoneSockets[1]!, CLOSE_WITHIN_MS)).toEqual(closedBySession(kindTwo));
      expect((await phone.get('/values')).status).toBe(401);
      expect((await sameBrowserOn(phone, one.url).get('/values')).status).toBe(401);

      expect(hereSocket.isOpen).toBe(true);
      expect(await hereSocket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
      expect((await hereOnTwo.get('/values')).status).toBe(200);
      expect((await here.get('/values')).status).toBe(200);
      const listed = await sessionsOf(hereOnTwo);
      expect(listed.map((session) => session.current)).toEqual([true]);

      expect(bobSocket.isOpen).toBe(true);
      expect(await bobSocket.request('whoami')).toEqual({ event: 'whoami', data: { user: bobUser } });
      expect((await bob.get('/values')).status).toBe(200);
    });
  },
);
