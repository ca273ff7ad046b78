import { SessionService, type SessionInfo } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { sleep, waitUntil } from '../support/lifecycle-helpers.js';
import { ProcessFaults } from '../support/process-faults.js';
import { clientEventsOf, currentHandle, expectSessionEnd, login, SSE_CONTROLLERS, startSseApp, type SseApp } from '../support/sse-apps.js';
import { SsePool, type SseConnection } from '../support/sse-client.js';
import { SseJournal } from '../support/sse-controller.js';
import { ADAPTER_STORE_CASES, redisForFile, type StoreKind } from '../support/store-kinds.js';
import { reportMeasurement } from '../support/measurement.js';

/**
 * When the session of a stream closes (logout, disconnectAll, revoke, a new login, idle expiry), the stream gets a
 * last event `session_end` with `{"reason":"session_closed"}` or `{"reason":"session_expired"}`, then its response
 * ends; the stream is no client of the session any more. Logout in one request ends the stream of the same session
 * within 100 ms (the requirement).
 */
const redis = redisForFile();

/** The bound: from the logout's response to the same session's `session_end`. */
const LOGOUT_TO_SESSION_END_MS = 100;

describe.each(ADAPTER_STORE_CASES)('SSE streams end with their session on %s, %s store', (adapter: AdapterName, kind: StoreKind) => {
  const pool = new SsePool(() => s.t.url);
  const faults = new ProcessFaults();
  let s: SseApp;
  let counter = 0;
  const unique = (what: string) => `sse-end-${what}-${adapter}-${kind}-${++counter}`;

  beforeAll(async () => {
    s = await startSseApp({ adapter, kind, redisUrl: redis.url });
  });
  beforeEach(() => faults.install());
  afterEach(async () => {
    await pool.closeAll();
    faults.uninstall();
  });
  afterAll(() => s.close());

  /** A live stream (`/sse/live`) of the browser's session, registered as its client. */
  async function liveStream(b: Browser, handle: string, tag = unique('tag')): Promise<SseConnection> {
    const stream = await pool.connect(`/sse/live?tag=${tag}`, { cookie: b.cookieHeader() });
    expect({ status: stream.status, isStream: stream.isStream }).toEqual({ status: 200, isStream: true });
    await stream.next('hello');
    await s.events.waitFor((event) => event.type === 'client-connected' && event.session === handle);
    return stream;
  }

  /** After its session_end, the stream's client left (client-disconnected) and its producer was torn down once. */
  async function expectGone(handle: string, tag: string): Promise<void> {
    await s.events.waitFor((event) => event.type === 'client-disconnected' && event.session === handle);
    await waitUntil(() => s.journal.tornDown(tag) > 0, 10_000, 'the producer to be torn down');
    expect(clientEventsOf(s.events.events, handle).map((event) => event.type)).toEqual(['client-connected', 'client-disconnected']);
    expect(s.journal.tornDown(tag)).toBe(1);
  }

  it(`logout (disconnect() in one request) ends the same session's stream within ${LOGOUT_TO_SESSION_END_MS} ms, and only that one`, async () => {
    const user = unique('logout');
    const b = await login(s.t.url, user);
    const other = await login(s.t.url, user);
    const handle = await currentHandle(b);
    const otherHandle = await currentHandle(other);
    const tag = unique('tag');
    const stream = await liveStream(b, handle, tag);
    const otherStream = await liveStream(other, otherHandle);

    const reply = await b.post('/logout');
    const loggedOutAt = performance.now();
    expect(reply.status).toBe(201);
    const { event } = await expectSessionEnd(stream, 'session_closed');
    const delay = Math.round(event.at - loggedOutAt);
    reportMeasurement(`sse [${adapter}/${kind}]: session_end ${delay} ms after the logout response`);
    expect({ delayMs: delay, withinBound: delay < LOGOUT_TO_SESSION_END_MS }).toEqual({ delayMs: delay, withinBound: true });
    await expectGone(handle, tag);
    expect((await b.get('/me')).status).toBe(401);

    // The same user's other session and its stream go on.
    expect(otherStream.end).toBeUndefined();
    expect(otherStream.named('session_end')).toEqual([]);
    expect(clientEventsOf(s.events.events, otherHandle).map((e) => e.type)).toEqual(['client-connected']);
    expect((await other.get('/me')).status).toBe(200);
    expect(faults.describe()).toEqual([]);
  });

  it('disconnectAll() of the user ends the streams of every session of that user, and no one else’s', async () => {
    const user = unique('all');
    const bystander = unique('bystander');
    const a = await login(s.t.url, user);
    const b = await login(s.t.url, user);
    const c = await login(s.t.url, bystander);
    const [ha, hb, hc] = [await currentHandle(a), await currentHandle(b), await currentHandle(c)];
    const [ta, tb] = [unique('a'), unique('b')];
    const sa = await liveStream(a, ha, ta);
    const sb = await liveStream(b, hb, tb);
    const sc = await liveStream(c, hc);

    const reply = await a.post('/disconnect-all');
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ closed: 2 });
    await expectSessionEnd(sa, 'session_closed');
    await expectSessionEnd(sb, 'session_closed');
    await expectGone(ha, ta);
    await expectGone(hb, tb);
    expect((await a.get('/me')).status).toBe(401);
    expect((await b.get('/me')).status).toBe(401);
    expect(sc.end).toBeUndefined();
    expect((await c.get('/me')).body).toEqual({ user: bystander });
  });

  it('disconnectAll({ userId }) called outside the sessions ends their streams', async () => {
    const user = unique('admin-tool');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);
    const tag = unique('tag');
    const stream = await liveStream(b, handle, tag);
    const reply = await new Browser(s.t.url).post('/disconnect-user', { user });
    expect(reply.body).toEqual({ closed: 1 });
    await expectSessionEnd(stream, 'session_closed');
    await expectGone(handle, tag);
    expect((await b.get('/me')).status).toBe(401);
  });

  it('revoke(handle) from another session ends the revoked session’s stream only', async () => {
    const user = unique('revoke');
    const a = await login(s.t.url, user);
    const b = await login(s.t.url, user);
    const [ha, hb] = [await currentHandle(a), await currentHandle(b)];
    const tag = unique('tag');
    const sa = await liveStream(a, ha);
    const sb = await liveStream(b, hb, tag);

    const listed = (await a.get('/sessions')).body as SessionInfo[];
    expect(listed.map((session) => session.handle).sort()).toEqual([ha, hb].sort());
    expect((await a.post('/revoke', { handle: hb })).status).toBe(201);
    await expectSessionEnd(sb, 'session_closed');
    await expectGone(hb, tag);
    expect((await b.get('/me')).status).toBe(401);
    expect(sa.end).toBeUndefined();
    expect((await a.get('/me')).body).toEqual({ user });
  });

  it('a new login on the same browser closes the old session: its stream ends with session_closed', async () => {
    const user = unique('relogin');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);
    const tag = unique('tag');
    const stream = await liveStream(b, handle, tag);
    expect((await b.post('/login', { user: `${user}-again` })).status).toBe(201);
    await expectSessionEnd(stream, 'session_closed');
    await expectGone(handle, tag);
    expect((await b.get('/me')).body).toEqual({ user: `${user}-again` });
  });

  it('an interceptor of the application on the stream runs around it and sees the session_end, then the completion', async () => {
    const user = unique('wrapped');
    const b = await login(s.t.url, user);
    const tag = unique('tag');
    const stream = await pool.connect(`/sse/wrapped?tag=${tag}`, { cookie: b.cookieHeader() });
    expect(stream.status).toBe(200);
    await stream.next('hello');
    expect((await b.post('/logout')).status).toBe(201);
    await expectSessionEnd(stream, 'session_closed');
    expect(s.journal.wrapped.get(tag)).toEqual(['hello', 'session_end', 'complete']);
  });

  it('currentUserId() inside the stream’s operators follows the session: never the user after the close, then the end', async () => {
    const user = unique('ticks');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);
    const tag = unique('tag');
    const stream = await pool.connect(`/sse/ticks?tag=${tag}`, { cookie: b.cookieHeader() });
    expect(stream.status).toBe(200);
    await stream.waitFor(() => stream.named('tick').length >= 3, 10_000, 'three ticks');
    for (const tick of stream.named('tick')) expect(JSON.parse(tick.data)).toMatchObject({ user });

    const reply = await new Browser(s.t.url).post('/disconnect-user', { user });
    const closedAt = performance.now();
    expect(reply.body).toEqual({ closed: 1 });
    const { event } = await expectSessionEnd(stream, 'session_closed');
    await expectGone(handle, tag);

    // Every tick the server computed after the close had returned saw no user (whether or not it was sent).
    const late = s.journal.ticks.filter((tick) => tick.tag === tag && tick.at > closedAt);
    expect(late.filter((tick) => tick.user !== null)).toEqual([]);
    // Nothing was sent after the session_end, and no tick ever named anyone else.
    expect(stream.events.filter((e) => e.at > event.at)).toEqual([]);
    for (const tick of stream.named('tick')) expect([user, null]).toContain(JSON.parse(tick.data).user);
    // The interval is stopped: no tick is computed any more.
    const computed = s.journal.ticks.filter((tick) => tick.tag === tag).length;
    await sleep(200);
    expect(s.journal.ticks.filter((tick) => tick.tag === tag).length).toBe(computed);
    expect(faults.describe()).toEqual([]);
  });

  it('currentUserId() in the stream of a session that logs out in another request is never the user after the logout', async () => {
    const user = unique('ticks-logout');
    const b = await login(s.t.url, user);
    const tag = unique('tag');
    const stream = await pool.connect(`/sse/ticks?tag=${tag}`, { cookie: b.cookieHeader() });
    await stream.waitFor(() => stream.named('tick').length >= 2, 10_000, 'two ticks');
    expect((await b.post('/logout')).status).toBe(201);
    const loggedOutAt = performance.now();
    await expectSessionEnd(stream, 'session_closed');
    expect(s.journal.ticks.filter((tick) => tick.tag === tag && tick.at > loggedOutAt && tick.user !== null)).toEqual([]);
    expect(s.journal.ticks.filter((tick) => tick.tag === tag && tick.user === user).length).toBeGreaterThanOrEqual(2);
  });
});

describe.each(ADAPTER_STORE_CASES)('SSE streams of an idle session on %s, %s store', (adapter: AdapterName, kind: StoreKind) => {
  const pool = new SsePool(() => s.t.url);
  let s: SseApp;

  beforeAll(async () => {
    s = await startSseApp({ adapter, kind, redisUrl: redis.url, policy: { idleTimeout: 1 } });
  });
  afterEach(() => pool.closeAll());
  afterAll(() => s.close());

  it('idleTimeout: 1 — an idle session’s stream gets session_end session_expired, then ends', async () => {
    const user = `sse-idle-${adapter}-${kind}`;
    const b = await login(s.t.url, user);
    const handle = (await s.t.app.get(SessionService).listSessions(user))[0]!.handle;
    const tag = `sse-idle-tag-${adapter}-${kind}`;
    const stream = await pool.connect(`/sse/live?tag=${tag}`, { cookie: b.cookieHeader() });
    expect(stream.status).toBe(200);
    await stream.next('hello');
    await s.events.waitFor((event) => event.type === 'client-connected' && event.session === handle);
    // No request of the session from now on: only the open stream. A generous bound: expiry is due after 1 s.
    await expectSessionEnd(stream, 'session_expired', 8000);
    await s.events.waitFor((event) => event.type === 'client-disconnected' && event.session === handle);
    await waitUntil(() => s.journal.tornDown(tag) > 0, 10_000, 'the producer to be torn down');
    await s.events.waitFor((event) => event.type === 'session-expired' && event.session === handle);
    expect(s.events.events.filter((event) => event.type === 'session-expired' && event.session === handle)).toHaveLength(1);
    expect((await b.get('/me')).status).toBe(401);
  });
});

describe.each(ADAPTER_STORE_CASES)(
  'SSE streams of sessions closed by the policy on %s, %s store',
  (adapter: AdapterName, kind: StoreKind) => {
    const pool = new SsePool(() => s.t.url);
    let s: SseApp;
    /** Users whose sessions `policy.check` refuses from now on. */
    const refused = new Set<string>();

    beforeAll(async () => {
      s = await startSseApp({
        adapter,
        kind,
        redisUrl: redis.url,
        policy: { maxSessionsPerUser: 1, check: (session) => !refused.has(session.userId ?? '') },
      });
    });
    afterEach(async () => {
      refused.clear();
      await pool.closeAll();
    });
    afterAll(() => s.close());

    async function liveStream(b: Browser): Promise<SseConnection> {
      const stream = await pool.connect(`/sse/live?tag=${adapter}-${kind}-${Math.random()}`, { cookie: b.cookieHeader() });
      expect(stream.status).toBe(200);
      await stream.next('hello');
      return stream;
    }

    it('maxSessionsPerUser: a login on another browser closes the oldest session, and its stream', async () => {
      const user = `sse-max-${adapter}-${kind}`;
      const first = await login(s.t.url, user);
      const stream = await liveStream(first);
      const second = await login(s.t.url, user);
      await expectSessionEnd(stream, 'session_closed');
      expect((await first.get('/me')).status).toBe(401);
      expect((await second.get('/me')).body).toEqual({ user });
    });

    it('a failed check on a request of the session closes it, and its stream', async () => {
      const user = `sse-check-${adapter}-${kind}`;
      const bystander = `sse-check-other-${adapter}-${kind}`;
      const b = await login(s.t.url, user);
      const other = await login(s.t.url, bystander);
      const stream = await liveStream(b);
      const otherStream = await liveStream(other);
      refused.add(user);
      expect((await b.get('/me')).status).toBe(401);
      await expectSessionEnd(stream, 'session_closed');
      expect(otherStream.end).toBeUndefined();
      expect((await other.get('/me')).body).toEqual({ user: bystander });
    });
  },
);

describe.each(ADAPTERS)('SSE streams with nobody listening to session events on %s (the guard’s synchronous path)', (adapter) => {
  const pool = new SsePool(() => t.url);
  let t: TestApp;

  beforeAll(async () => {
    // No EventRecorder and no @OnSessionEvent hook: nothing subscribes, the MemoryStore answers at once.
    t = await startApp({ adapter, controllers: SSE_CONTROLLERS, providers: [SseJournal] });
  });
  afterEach(() => pool.closeAll());
  afterAll(() => t.close());

  it(`logout ends the same session's stream within ${LOGOUT_TO_SESSION_END_MS} ms; its producer stops`, async () => {
    const user = `sse-quiet-${adapter}`;
    const tag = `sse-quiet-tag-${adapter}`;
    const b = await login(t.url, user);
    const stream = await pool.connect(`/sse/live?tag=${tag}`, { cookie: b.cookieHeader() });
    expect(JSON.parse((await stream.next('hello')).data)).toEqual({ user });
    expect((await b.post('/logout')).status).toBe(201);
    const loggedOutAt = performance.now();
    const { event } = await expectSessionEnd(stream, 'session_closed');
    const delay = Math.round(event.at - loggedOutAt);
    reportMeasurement(`sse [${adapter}/memory, no listener]: session_end ${delay} ms after the logout response`);
    expect({ delayMs: delay, withinBound: delay < LOGOUT_TO_SESSION_END_MS }).toEqual({ delayMs: delay, withinBound: true });
    const journal = t.app.get(SseJournal);
    await waitUntil(() => journal.tornDown(tag) === 1, 10_000, 'the producer to be torn down');
    expect((await b.get('/me')).status).toBe(401);
  });
});
