import { MemoryStore, type SessionEvent, type SessionInfo } from '../../lib/index.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { ImpersonationController, ImpersonationGateway, impersonationPolicy } from '../support/impersonation-app.js';
import { StreamController } from '../support/reauth-app.js';
import { endWithin, freshPrefix, sameBrowserOn } from '../support/redis-apps.js';
import { openStream } from '../support/sse-stream.js';
import { openSocket, sessionSockets, SOCKET_KINDS, type Ended, type SocketKind, type TestSocket } from '../support/sockets.js';
import { redisForFile } from '../support/store-kinds.js';

/**
 * The end of an impersonation (issue 13) as live clients see it. At `maxDuration` the store expires the impersonated
 * session like any session at its absolute end: `session-expired` with reason `impersonation-ended`, and its sockets
 * and streams end as for an expiry (4401 `session_expired`). `stopImpersonating()` closes it (4401 `session_closed`).
 * On the memory store, and on two servers sharing one Redis.
 */
const redis = redisForFile();

const CONTROLLERS = [LoginController, ImpersonationController, StreamController];
/** A generous "nothing hangs" bound for a socket that must close: expiry runs on timers, and pub/sub across servers. */
const CLOSE_WITHIN_MS = 8000;
/** Short, to be waited out; long enough for a loaded machine to open the clients first. */
const MAX_DURATION_S = 2;

function ending(kind: SocketKind, reason: 'session_closed' | 'session_expired'): Ended {
  return kind === 'socket.io' ? { reason } : { code: 4401, reason };
}

async function login(url: string, user: string): Promise<Browser> {
  const browser = new Browser(url);
  expect((await browser.post('/login', { user })).status).toBe(201);
  return browser;
}

async function impersonate(browser: Browser, target: string): Promise<void> {
  expect((await browser.post('/impersonate', { user: target })).status).toBe(201);
}

async function handleOf(url: string, target: string): Promise<string> {
  const [listed, ...more] = (await new Browser(url).get(`/sessions-of/${target}`)).body as SessionInfo[];
  expect(more).toEqual([]);
  expect(listed?.actorId).toEqual(expect.stringMatching(/^support/));
  return listed!.handle;
}

const CASES: Array<[AdapterName, SocketKind]> = ADAPTERS.flatMap((adapter) =>
  SOCKET_KINDS.map((kind): [AdapterName, SocketKind] => [adapter, kind]),
);

describe.each(CASES)('the end of an impersonation on %s with %s sockets, memory store', (adapter, kind) => {
  /** An app whose impersonations end within the test, and one whose impersonations outlast the tests. */
  let short: TestApp;
  let long: TestApp;
  let shortEvents: EventRecorder;
  let longEvents: EventRecorder;
  const opened: TestSocket[] = [];

  beforeAll(async () => {
    const start = (maxDuration?: number) =>
      startApp({
        adapter,
        controllers: CONTROLLERS,
        providers: [ImpersonationGateway],
        policy: { store: new MemoryStore(), ...impersonationPolicy(maxDuration) },
        configure: sessionSockets(kind),
      });
    [short, long] = [await start(MAX_DURATION_S), await start()];
    shortEvents = new EventRecorder(short.app);
    longEvents = new EventRecorder(long.app);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    shortEvents?.stop();
    longEvents?.stop();
    await short?.close();
    await long?.close();
  });

  async function socketOf(t: TestApp, browser: Browser): Promise<TestSocket> {
    const socket = await openSocket(kind, t.url, { cookie: browser.cookieHeader() });
    opened.push(socket);
    return socket;
  }

  it('ends at maxDuration: session-expired with reason impersonation-ended and the actor, its socket and stream closed as expired', async () => {
    const support = `support-max-${adapter}-${kind}`;
    const target = `user-max-${adapter}-${kind}`;
    const browser = await login(short.url, support);
    await impersonate(browser, target);
    const handle = await handleOf(short.url, target);
    const socket = await socketOf(short, browser);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: target, actor: support } });
    const stream = await openStream(`${short.url}/stream`, browser.cookieHeader());
    try {
      expect(await stream.next()).toMatchObject({ event: 'message', data: { user: target } });
      // Both clients are the impersonated session's, and say who acts: the socket and the stream.
      for (const transport of ['ws', 'sse']) {
        const connected = await shortEvents.waitFor(
          (e) => e.type === 'client-connected' && e.session === handle && e.transport === transport,
        );
        expect(connected).toMatchObject({ userId: target, actorId: support });
      }

      expect(await endWithin(socket, CLOSE_WITHIN_MS)).toEqual(ending(kind, 'session_expired'));
      await stream.ended;
      expect(stream.events.at(-1)).toEqual({ event: 'session_end', data: { reason: 'session_expired' } });
    } finally {
      stream.close();
    }
    const expired = await shortEvents.waitFor((e) => e.type === 'session-expired' && e.session === handle);
    expect(expired).toMatchObject({ reason: 'impersonation-ended', userId: target, actorId: support });
    const reply = await browser.get('/whoami');
    expect(reply.status).toBe(401);
    expect((await new Browser(short.url).get(`/sessions-of/${target}`)).body).toEqual([]);
  });

  it('stopImpersonating() closes the impersonated session’s socket (session_closed); the actor’s new session opens its own', async () => {
    const support = `support-stop-${adapter}-${kind}`;
    const target = `user-stop-${adapter}-${kind}`;
    const browser = await login(long.url, support);
    await impersonate(browser, target);
    const handle = await handleOf(long.url, target);
    const socket = await socketOf(long, browser);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: target, actor: support } });

    expect((await browser.post('/stop-impersonating')).status).toBe(201);
    expect(await endWithin(socket, CLOSE_WITHIN_MS)).toEqual(ending(kind, 'session_closed'));
    const back = await socketOf(long, browser);
    expect(await back.request('whoami')).toEqual({ event: 'whoami', data: { user: support, actor: null } });
    await waitUntil(() => longEvents.events.some((e) => e.type === 'client-disconnected' && e.session === handle));
    const ofIt = longEvents.events.filter((e) => e.session === handle && e.type.startsWith('client-'));
    expect(ofIt.map((e) => e.type)).toEqual(['client-connected', 'client-disconnected']);
    for (const event of ofIt) expect(event).toMatchObject({ userId: target, actorId: support });
  });
});

describe.each(ADAPTERS)('impersonation on two %s servers sharing one Redis', (adapter) => {
  const kind: SocketKind = 'ws';
  const apps: TestApp[] = [];
  const recorders: EventRecorder[] = [];
  const opened: TestSocket[] = [];

  /** Two servers on one Redis prefix, with `maxDuration`. */
  async function pair(maxDuration?: number): Promise<[TestApp, TestApp]> {
    const prefix = freshPrefix();
    const start = () =>
      startApp({
        adapter,
        controllers: CONTROLLERS,
        providers: [ImpersonationGateway],
        policy: { store: new RedisStore({ url: redis.url, prefix }), ...impersonationPolicy(maxDuration) },
        configure: sessionSockets(kind),
      });
    const both: [TestApp, TestApp] = [await start(), await start()];
    apps.push(...both);
    return both;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((socket) => socket.close()));
    for (const recorder of recorders.splice(0)) recorder.stop();
    await Promise.all(apps.splice(0).map((t) => t.close()));
  });

  async function socketOn(t: TestApp, browser: Browser): Promise<TestSocket> {
    const socket = await openSocket(kind, t.url, { cookie: browser.cookieHeader() });
    opened.push(socket);
    return socket;
  }

  it('the impersonated cookie works on both; its stop on one closes its socket on the other', async () => {
    const [a, b] = await pair();
    const support = `support-two-${adapter}`;
    const target = `user-two-${adapter}`;
    const onA = await login(a.url, support);
    await impersonate(onA, target);
    const onB = sameBrowserOn(onA, b.url);
    expect(await onB.get('/whoami')).toMatchObject({ status: 200, body: { user: target, actor: support } });
    const socket = await socketOn(b, onB);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: target, actor: support } });

    expect((await onA.post('/stop-impersonating')).status).toBe(201);
    expect(await endWithin(socket, CLOSE_WITHIN_MS)).toEqual(ending(kind, 'session_closed'));
    expect((await onB.get('/whoami')).status).toBe(401);
    expect(await sameBrowserOn(onA, b.url).get('/whoami')).toMatchObject({ status: 200, body: { user: support, actor: null } });
  });

  it('ends at maxDuration on both: the sockets on each close as expired, and one session-expired says impersonation-ended', async () => {
    const [a, b] = await pair(MAX_DURATION_S);
    recorders.push(new EventRecorder(a.app), new EventRecorder(b.app));
    const support = `support-two-max-${adapter}`;
    const target = `user-two-max-${adapter}`;
    const onA = await login(a.url, support);
    await impersonate(onA, target);
    const handle = await handleOf(a.url, target);
    const onB = sameBrowserOn(onA, b.url);
    const [socketA, socketB] = [await socketOn(a, onA), await socketOn(b, onB)];
    expect(await socketB.request('whoami')).toEqual({ event: 'whoami', data: { user: target, actor: support } });

    expect(await endWithin(socketA, CLOSE_WITHIN_MS)).toEqual(ending(kind, 'session_expired'));
    expect(await endWithin(socketB, CLOSE_WITHIN_MS)).toEqual(ending(kind, 'session_expired'));
    expect((await onA.get('/whoami')).status).toBe(401);
    expect((await onB.get('/whoami')).status).toBe(401);
    // The server that took the expired session reports it, once, with its record.
    const expiredOf = (e: SessionEvent) => e.type === 'session-expired' && e.session === handle;
    await waitUntil(() => recorders.some((recorder) => recorder.events.some(expiredOf)), CLOSE_WITHIN_MS, 'the session-expired event');
    const expired = recorders.flatMap((recorder) => recorder.events.filter(expiredOf));
    expect(expired).toEqual([expect.objectContaining({ reason: 'impersonation-ended', userId: target, actorId: support })]);
  });
});
