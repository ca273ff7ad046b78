import { GatedStore } from '../support/gated-store.js';
import { SessionService, type SessionEvent } from '../../lib/index.js';
import { ADAPTERS, SECRET, type AdapterName } from '../support/app.js';
import { FORBIDDEN, NOT_CONNECTED, signWith } from '../support/auth-helpers.js';
import { Browser } from '../support/browser.js';
import { FaultyStore, waitUntil, type FaultMode } from '../support/lifecycle-helpers.js';
import { ProcessFaults } from '../support/process-faults.js';
import {
  clientEventsSince,
  clientEventsOf,
  currentHandle,
  login,
  SESSION_END_DATA,
  startSseApp,
  type SseApp,
} from '../support/sse-apps.js';
import { SsePool, type SseConnection } from '../support/sse-client.js';

/**
 * `@Connected` guards an `@Sse()` handler as it guards any route, before anything is streamed: no session → 401,
 * outside `allow` / inside `deny` → 403, a sick store → 503 within `storeTimeout`; `optional: true` streams
 * without a session, as nobody's client. A refused stream runs no handler, registers no client and touches no
 * session.
 */

/** Users named admin-* are admins, banned-* are admins and banned, everyone else has no group. */
function groupsOf(userId: string): string[] {
  if (userId.startsWith('admin-')) return ['admin'];
  if (userId.startsWith('banned-')) return ['admin', 'banned'];
  return [];
}

/** The "nothing hangs" bound of a refused or sick request (storeTimeout is 200 ms where it matters). */
const ANSWER_WITHIN_MS = 5000;

/** A refusal: the status, the JSON body, no event stream, no Set-Cookie but at most the session cookie's expiry. */
function expectRefused(reply: SseConnection, status: number, body: unknown): void {
  expect({ status: reply.status, isStream: reply.isStream, body: reply.body }).toEqual({ status, isStream: false, body });
  expect(reply.headers.get('content-type') ?? '').toContain('application/json');
  for (const cookie of reply.headers.getSetCookie()) expect(cookie).toMatch(/^sid=;.*Max-Age=0/i);
}

describe.each(ADAPTERS)('guarded SSE routes on %s', (adapter: AdapterName) => {
  const faults = new ProcessFaults();
  let counter = 0;
  const unique = (what: string) => `${what}-sse-guard-${adapter}-${++counter}`;

  describe('on a healthy store', () => {
    let s: SseApp;
    const pool = new SsePool(() => s.t.url);
    beforeAll(async () => {
      s = await startSseApp({ adapter, policy: { groups: groupsOf } });
    });
    beforeEach(() => faults.install());
    afterEach(async () => {
      await pool.closeAll();
      faults.uninstall();
    });
    afterAll(() => s.close());

    it('@Connected() with no session: 401 unauthenticated in JSON, no stream, no handler, nobody’s client', async () => {
      const before = s.events.events.length;
      const cases: Array<[string, string]> = [
        ['no cookie', ''],
        ['a forged cookie', `sid=${signWith('another-secret-that-is-long-enough-0123456789')}`],
        ['a well-signed cookie of no session', `sid=${signWith(SECRET)}`],
      ];
      for (const [what, cookie] of cases) {
        const tag = unique(what.replace(/\W+/g, '-'));
        const reply = await pool.connect(`/sse/live?tag=${tag}`, { cookie, headersWithinMs: ANSWER_WITHIN_MS });
        expectRefused(reply, 401, NOT_CONNECTED);
        expect({ what, runs: s.journal.runsOf(tag) }).toEqual({ what, runs: [] });
      }
      const denied = s.events.events.slice(before).filter((event) => event.type === 'denied-request');
      expect(denied.map((event) => event.type === 'denied-request' && event.reason)).toEqual([
        'not-connected',
        'not-connected',
        'not-connected',
      ]);
      expect(clientEventsSince(s.events.events, before)).toEqual([]);
      expect(faults.describe()).toEqual([]);
    });

    it('a logged-out session’s cookie: 401, and the stream of the new session works', async () => {
      const user = unique('plain');
      const b = await login(s.t.url, user);
      const cookie = b.cookieHeader();
      expect((await b.post('/logout')).status).toBe(201);
      const tag = unique('old');
      expectRefused(await pool.connect(`/sse/live?tag=${tag}`, { cookie }), 401, NOT_CONNECTED);
      expect(s.journal.runsOf(tag)).toEqual([]);
      expect((await b.post('/login', { user })).status).toBe(201);
      const stream = await pool.connect(`/sse/live?tag=${unique('new')}`, { cookie: b.cookieHeader() });
      expect(stream.status).toBe(200);
      expect(JSON.parse((await stream.next('hello')).data)).toEqual({ user });
    });

    it('allow / deny: 403 forbidden for a user outside allow and for a banned one; an admin streams', async () => {
      const plain = await login(s.t.url, unique('plain'));
      const bannedUser = unique('banned');
      const banned = await login(s.t.url, bannedUser);
      const adminUser = unique('admin');
      const admin = await login(s.t.url, adminUser);
      const before = s.events.events.length;
      const [plainTag, bannedTag, adminTag] = [unique('p'), unique('b'), unique('a')];

      expectRefused(await pool.connect(`/sse/admin?tag=${plainTag}`, { cookie: plain.cookieHeader() }), 403, FORBIDDEN);
      const bannedReply = await pool.connect(`/sse/admin?tag=${bannedTag}`, { cookie: banned.cookieHeader() });
      expectRefused(bannedReply, 403, expect.objectContaining({ statusCode: 403, code: 'forbidden', message: 'Permission denied' }));
      expect([...s.journal.runsOf(plainTag), ...s.journal.runsOf(bannedTag)]).toEqual([]);
      expect(clientEventsSince(s.events.events, before)).toEqual([]);
      // Refused, not logged out: both sessions still work.
      expect((await plain.get('/me')).status).toBe(200);
      expect((await banned.get('/me')).body).toEqual({ user: bannedUser });

      const handle = await currentHandle(admin);
      const stream = await pool.connect(`/sse/admin?tag=${adminTag}`, { cookie: admin.cookieHeader() });
      expect({ status: stream.status, isStream: stream.isStream }).toEqual({ status: 200, isStream: true });
      expect(JSON.parse((await stream.next('hello')).data)).toEqual({ user: adminUser });
      await s.events.waitFor((event) => event.type === 'client-connected' && event.session === handle);
      expect(clientEventsOf(s.events.events, handle)).toEqual([
        expect.objectContaining({ type: 'client-connected', transport: 'sse', userId: adminUser }),
      ]);
      expect(faults.describe()).toEqual([]);
    });

    it('optional: true streams without a session, as nobody’s client; with a session, as its client', async () => {
      const before = s.events.events.length;
      const anonTag = unique('anon');
      const anonymous = await pool.connect(`/sse/maybe?tag=${anonTag}`);
      expect({ status: anonymous.status, isStream: anonymous.isStream }).toEqual({ status: 200, isStream: true });
      expect(JSON.parse((await anonymous.next('hello')).data)).toEqual({ user: null });
      expect(anonymous.headers.getSetCookie()).toEqual([]);
      // A request in between lets any client event of the stream come out before looking.
      expect((await new Browser(s.t.url).get('/public')).status).toBe(200);
      expect(clientEventsSince(s.events.events, before)).toEqual([]);
      await anonymous.close();
      await waitUntil(() => s.journal.tornDown(anonTag) > 0, 10_000, 'the producer to be torn down');
      expect(clientEventsSince(s.events.events, before)).toEqual([]);

      const user = unique('maybe');
      const b = await login(s.t.url, user);
      const handle = await currentHandle(b);
      const connected = await pool.connect(`/sse/maybe?tag=${unique('connected')}`, { cookie: b.cookieHeader() });
      expect(JSON.parse((await connected.next('hello')).data)).toEqual({ user });
      await s.events.waitFor((event) => event.type === 'client-connected' && event.session === handle);
      await connected.close();
      await s.events.waitFor((event) => event.type === 'client-disconnected' && event.session === handle);
    });

    it('optional: true with a session that closes: session_end, then the end', async () => {
      const user = unique('maybe-closed');
      const b = await login(s.t.url, user);
      const stream = await pool.connect(`/sse/maybe?tag=${unique('t')}`, { cookie: b.cookieHeader() });
      await stream.next('hello');
      expect((await b.post('/logout')).status).toBe(201);
      expect((await stream.next('session_end')).data).toBe(SESSION_END_DATA.session_closed);
      expect((await stream.endWithin()).how).toBe('end');
    });
  });

  describe.each(['reject', 'hang'] as FaultMode[])('on a store that %ss every call (storeTimeout 200 ms)', (mode) => {
    let s: SseApp;
    let store: FaultyStore;
    const pool = new SsePool(() => s.t.url);
    beforeAll(async () => {
      store = new FaultyStore();
      s = await startSseApp({ adapter, policy: { store, storeTimeout: 200, groups: groupsOf } });
    });
    beforeEach(() => faults.install());
    afterEach(async () => {
      store.mode = 'ok';
      await pool.closeAll();
      faults.uninstall();
    });
    afterAll(() => s.close());

    const UNAVAILABLE = expect.objectContaining({ statusCode: 503, code: 'store_unavailable', message: 'Session store unavailable' });

    it('a guarded stream answers 503 at once; nothing is streamed, registered, written or lost', async () => {
      const user = unique('admin');
      const b = await login(s.t.url, user);
      const cookie = b.cookieHeader();
      const [record] = await store.inner.listUser(user);
      expect(record).toBeDefined();
      const size = store.size;
      const before = s.events.events.length;

      store.mode = mode;
      const calls = Object.values(store.calls).reduce((sum, n) => sum + n, 0);
      const tags = [unique('live'), unique('admin'), unique('maybe')];
      for (const [route, tag] of [
        ['live', tags[0]!],
        ['admin', tags[1]!],
        ['maybe', tags[2]!],
      ] as const) {
        const started = performance.now();
        const reply = await pool.connect(`/sse/${route}?tag=${tag}`, { cookie, headersWithinMs: ANSWER_WITHIN_MS });
        expectRefused(reply, 503, UNAVAILABLE);
        expect(reply.headers.getSetCookie()).toEqual([]);
        expect({ route, tookLessThanBound: performance.now() - started < ANSWER_WITHIN_MS }).toEqual({ route, tookLessThanBound: true });
      }
      // The store was asked (a fault of the store, not a short-cut), no handler ran, nobody became a client.
      expect(Object.values(store.calls).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(calls);
      for (const tag of tags) expect(s.journal.runsOf(tag)).toEqual([]);
      expect(clientEventsSince(s.events.events, before)).toEqual([]);

      // A stream without a guard goes on without the session: served, as nobody's client.
      const openTag = unique('open');
      const open = await pool.connect(`/sse/open?tag=${openTag}`, { cookie, headersWithinMs: ANSWER_WITHIN_MS });
      expect({ status: open.status, isStream: open.isStream }).toEqual({ status: 200, isStream: true });
      expect(JSON.parse((await open.next('hello')).data)).toEqual({ user: null });
      expect(open.headers.getSetCookie()).toEqual([]);
      await open.close();
      expect(clientEventsSince(s.events.events, before)).toEqual([]);

      store.mode = 'ok';
      // Nothing was written or removed meanwhile; the same cookie streams again, as the same user.
      expect(store.size).toBe(size);
      expect(await store.inner.listUser(user)).toEqual([record]);
      const again = await pool.connect(`/sse/admin?tag=${unique('again')}`, { cookie });
      expect(again.status).toBe(200);
      expect(JSON.parse((await again.next('hello')).data)).toEqual({ user });
      expect((await b.get('/me')).body).toEqual({ user });
      expect(faults.describe()).toEqual([]);
    });
  });

  describe('when groups cannot answer', () => {
    let s: SseApp;
    const pool = new SsePool(() => s.t.url);
    beforeAll(async () => {
      s = await startSseApp({
        adapter,
        policy: {
          storeTimeout: 200,
          groups: (userId) => {
            if (userId.startsWith('throw-')) throw new Error('the directory is down');
            if (userId.startsWith('late-')) return new Promise<string[]>(() => undefined);
            return groupsOf(userId);
          },
        },
      });
    });
    afterEach(() => pool.closeAll());
    afterAll(() => s.close());

    it('a stream under allow/deny answers 503 (Session groups unavailable) and the session stays', async () => {
      for (const prefix of ['throw', 'late']) {
        const user = unique(prefix);
        const b = await login(s.t.url, user);
        const tag = unique(`${prefix}-tag`);
        const reply = await pool.connect(`/sse/admin?tag=${tag}`, { cookie: b.cookieHeader(), headersWithinMs: ANSWER_WITHIN_MS });
        expectRefused(
          reply,
          503,
          expect.objectContaining({ statusCode: 503, code: 'store_unavailable', message: 'Session groups unavailable' }),
        );
        expect(s.journal.runsOf(tag)).toEqual([]);
        expect((await b.get('/me')).body).toEqual({ user });
      }
    });
  });

  describe('a session closed while the stream’s session check was in flight', () => {
    let s: SseApp;
    let store: GatedStore;
    const pool = new SsePool(() => s.t.url);
    beforeAll(async () => {
      store = new GatedStore({ readFirst: true });
      s = await startSseApp({ adapter, policy: { store } });
    });
    beforeEach(() => faults.install());
    afterEach(async () => {
      store.release();
      await pool.closeAll();
      faults.uninstall();
    });
    afterAll(() => s.close());

    it('takes no client for the closed session: the stream gets session_end and ends, nothing is left', async () => {
      const user = unique('race');
      const b = await login(s.t.url, user);
      const [[handle]] = await store.inner.listUser(user);
      const tag = unique('tag');

      store.hold();
      const opening = pool.connect(`/sse/live?tag=${tag}`, { cookie: b.cookieHeader() });
      await waitUntil(() => store.waiting === 1, 10_000, 'the session check to have read the session');
      // The check has read the live session; the session closes before it answers.
      expect(await s.t.app.get(SessionService).disconnectAll({ userId: user })).toBe(1);
      store.release();
      const stream = await opening;

      if (stream.status === 200) {
        // Admitted on what it read: the stream must end at once, with the close as its last word.
        expect((await stream.next('session_end')).data).toBe(SESSION_END_DATA.session_closed);
        expect((await stream.endWithin()).how).toBe('end');
        expect(stream.events.at(-1)?.event).toBe('session_end');
      } else {
        expectRefused(stream, 401, NOT_CONNECTED);
      }
      // A closed session takes no new client (as a socket whose handshake read the session just before it closed).
      const closedAt = s.events.events.findIndex((event) => event.type === 'post-close-session' && event.session === handle);
      expect(closedAt).toBeGreaterThanOrEqual(0);
      expect(clientEventsOf(s.events.events.slice(closedAt), handle).filter((event) => event.type === 'client-connected')).toEqual([]);
      // Whatever happened, the session has no client left and the producer (if it ran) was torn down.
      await waitUntil(
        () => {
          const types = clientEventsOf(s.events.events, handle!).map((event: SessionEvent) => event.type);
          return types.filter((t) => t === 'client-connected').length === types.filter((t) => t === 'client-disconnected').length;
        },
        10_000,
        'every client-connected of the session to be followed by its client-disconnected',
      );
      await waitUntil(() => s.journal.tornDown(tag) === s.journal.runsOf(tag).length, 10_000, 'the producer to be torn down');
      expect((await b.get('/me')).status).toBe(401);
      expect(faults.describe()).toEqual([]);
    });
  });
});
