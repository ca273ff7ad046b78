import { Connected, MemoryStore, type SessionEvent, type SessionInfo, type SessionStore } from '../../lib/index.js';
import { ADAPTERS, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser, type Reply } from '../support/browser.js';
import { EventRecorder, sleep } from '../support/lifecycle-helpers.js';
import { PASSWORD, REAUTH_GROUPS, ReauthController, STALE_AFTER_MS } from '../support/reauth-app.js';
import { SessionsController } from '../support/sessions.controller.js';
import { ADAPTER_STORE_CASES, redisForFile, startOnStore } from '../support/store-kinds.js';

/**
 * Re-authentication (issue 13): `@Connected({ fresh })` refuses a login older than `fresh` seconds, and
 * `reauthenticate()` renews it under a new id and cookie with the same user and data. On Express and Fastify, on the
 * memory store and on Redis, against real servers. (Sockets, streams and GraphQL: test/sockets/, test/graphql/.)
 */
const redis = redisForFile();

const REFUSED_STALE = { statusCode: 401, error: 'Unauthorized', message: 'Reauthentication required', code: 'reauthenticate' };
const ABSOLUTE_TIMEOUT_S = 30 * 24 * 3600;

function sidOf(reply: Reply) {
  return reply.setCookies.filter((cookie) => cookie.name === 'sid');
}

describe('@Connected({ fresh }) at decoration time', () => {
  it.each([[0], [-5], [Number.NaN], [Number.POSITIVE_INFINITY], ['300']])('refuses fresh: %p', (fresh) => {
    expect(() => Connected({ fresh: fresh as number })).toThrow('@Connected({ fresh }): fresh must be a positive number of seconds');
  });

  it('refuses fresh with optional, on a method or a class, and takes a positive number of seconds', () => {
    const message = '@Connected({ fresh, optional }): a handler that runs without a user cannot ask for a fresh login';
    expect(() => Connected({ fresh: 60, optional: true })).toThrow(message);
    expect(() => {
      @Connected({ fresh: 60, optional: true })
      class Anyone {}
      return Anyone;
    }).toThrow(message);
    expect(() => Connected({ fresh: 0.5, allow: ['admin'] })).not.toThrow();
  });
});

describe.each(ADAPTER_STORE_CASES)('fresh and reauthenticate() on %s with the %s store', (adapter, kind) => {
  let t: TestApp;
  let store: SessionStore;
  let events: EventRecorder;

  beforeAll(async () => {
    ({ t, store } = await startOnStore(kind, redis, {
      adapter,
      controllers: [LoginController, ReauthController, SessionsController],
      policy: { groups: REAUTH_GROUPS },
    }));
    events = new EventRecorder(t.app);
  });
  afterAll(async () => {
    events?.stop();
    await t?.close();
  });

  let users = 0;
  const newUser = (name: string) => `${name}-${adapter}-${kind}-${++users}`;

  async function login(user: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Browser> {
    const browser = new Browser(t.url, headers);
    expect((await browser.post('/login', { user, ...body })).status).toBe(201);
    return browser;
  }

  async function sessionsOf(browser: Browser): Promise<SessionInfo[]> {
    const reply = await browser.get('/sessions');
    expect(reply.status).toBe(200);
    return reply.body as SessionInfo[];
  }

  const eventsOf = (user: string, type: SessionEvent['type']) => events.events.filter((e) => e.type === type && e.userId === user);

  it('lets a login fresher than fresh through', async () => {
    const user = newUser('fresh');
    const browser = await login(user);
    const reply = await browser.get('/sensitive');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ user });
  });

  it('refuses a stale login with 401 reauthenticate and denied-request stale-authentication, and changes nothing', async () => {
    const user = newUser('stale');
    const tab = { 'x-process-id': `stale-${adapter}-${kind}` };
    const browser = await login(user, {}, tab);
    expect((await browser.post('/values', { value: 'before' })).status).toBe(201);
    const values = (await browser.get('/values')).body as Record<string, string>;
    expect(values.tab).toBe('tab:before');
    const [listed] = await sessionsOf(browser);
    await sleep(STALE_AFTER_MS);

    const refused = await browser.get('/sensitive');
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual(REFUSED_STALE);
    expect(sidOf(refused)).toEqual([]);
    const denied = await events.waitFor((e) => e.type === 'denied-request' && e.userId === user);
    expect(denied).toMatchObject({ type: 'denied-request', reason: 'stale-authentication', transport: 'http', session: listed!.handle });
    expect(eventsOf(user, 'connected-request').filter((e) => e.at >= denied.at)).toEqual([]);

    // The session, its data and its login time are as they were; only fresh handlers refuse it.
    expect((await browser.get('/values')).body).toEqual(values);
    expect(await sessionsOf(browser)).toEqual([{ ...listed, lastSeenAt: expect.any(String) }]);
    // Groups come first: a user who could never pass is told so, not asked for a password.
    const forbidden = await browser.get('/sensitive-admin');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ code: 'forbidden' });
  });

  it('renews the login: a new cookie, the old one dead, the same data, authenticatedAt now, and fresh passes again', async () => {
    const user = newUser('renewed');
    const tab = { 'x-process-id': `renewed-${adapter}-${kind}` };
    const browser = await login(user, {}, tab);
    expect((await browser.post('/values', { value: 'kept' })).status).toBe(201);
    const values = (await browser.get('/values')).body as Record<string, string>;
    expect(Object.values(values)).toHaveLength(7);
    const [before] = await sessionsOf(browser);
    expect(before!.authenticatedAt).toBe(before!.createdAt);
    const oldCookie = browser.jar.get('sid')!;
    await sleep(STALE_AFTER_MS);
    expect((await browser.get('/sensitive')).status).toBe(401);

    // A wrong password is the application's 401: nothing changes.
    const wrong = await browser.post('/reauthenticate', { password: 'guess' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ message: 'Wrong password' });
    expect(sidOf(wrong)).toEqual([]);
    expect(eventsOf(user, 'reauthenticated')).toEqual([]);

    const asked = Date.now();
    const renewed = await browser.post('/reauthenticate', { password: PASSWORD });
    expect(renewed.status).toBe(201);
    expect(renewed.body).toEqual({ ok: true });
    const [cookie] = sidOf(renewed);
    expect(cookie?.value).toEqual(expect.any(String));
    expect(cookie!.value).not.toBe(oldCookie);
    const maxAge = Number(cookie!.attributes['max-age']);
    expect(maxAge).toBeGreaterThan(ABSOLUTE_TIMEOUT_S - 60);
    expect(maxAge).toBeLessThanOrEqual(ABSOLUTE_TIMEOUT_S);

    expect(await browser.get('/sensitive')).toMatchObject({ status: 200, body: { user } });
    expect((await browser.get('/values')).body).toEqual(values);

    const [after, ...others] = await sessionsOf(browser);
    expect(others).toEqual([]);
    expect(after!.handle).not.toBe(before!.handle);
    expect(after).toMatchObject({ userId: user, current: true, createdAt: before!.createdAt });
    expect(Date.parse(after!.authenticatedAt as unknown as string)).toBeGreaterThanOrEqual(asked - 5);
    expect(Date.parse(after!.authenticatedAt as unknown as string)).toBeGreaterThan(Date.parse(before!.createdAt as unknown as string));

    const [event, ...more] = eventsOf(user, 'reauthenticated');
    expect(more).toEqual([]);
    expect(event).toEqual({
      type: 'reauthenticated',
      at: expect.any(Date),
      transport: 'http',
      userId: user,
      session: after!.handle,
      previousSession: before!.handle,
      process: tab['x-process-id'],
    });

    // The old cookie opens nothing, not even the session it named.
    const thief = new Browser(t.url);
    thief.jar.set('sid', oldCookie);
    const stolen = await thief.get('/values');
    expect(stolen.status).toBe(401);
    expect(stolen.body).toMatchObject({ code: 'unauthenticated' });
    expect(await browser.get('/sensitive')).toMatchObject({ status: 200, body: { user } });
  });

  it('keeps a browser-session cookie one, and a persistent one persistent', async () => {
    const user = newUser('cookie-kind');
    const forgetful = await login(user, { expire: true });
    const renewed = await forgetful.post('/reauthenticate', { password: PASSWORD });
    expect(renewed.status).toBe(201);
    const [cookie] = sidOf(renewed);
    expect(cookie?.attributes['max-age']).toBeUndefined();
    expect(cookie?.attributes['expires']).toBeUndefined();
    const again = await forgetful.post('/reauthenticate', { password: PASSWORD });
    expect(sidOf(again)[0]?.attributes['max-age']).toBeUndefined();
    expect((await forgetful.get('/sensitive')).status).toBe(200);
  });

  it('throws NotConnectedException without a connected session, and hands out nothing', async () => {
    const sizeBefore = store instanceof MemoryStore ? store.size : 0;
    const anonymous = new Browser(t.url);
    const refused = await anonymous.post('/reauthenticate-unguarded', {});
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'unauthenticated', message: 'Not connected' });
    expect(sidOf(refused)).toEqual([]);

    const user = newUser('gone');
    const browser = await login(user);
    expect((await browser.post('/logout')).status).toBe(201);
    const sizeAfterLogout = store instanceof MemoryStore ? store.size : 0;
    const afterLogout = await browser.post('/reauthenticate-unguarded', {});
    expect(afterLogout.status).toBe(401);
    expect(sidOf(afterLogout).filter((cookie) => cookie.value !== '')).toEqual([]);
    expect(eventsOf(user, 'reauthenticated')).toEqual([]);
    if (store instanceof MemoryStore) {
      expect(sizeAfterLogout).toBe(sizeBefore);
      expect(store.size).toBe(sizeBefore);
    }
  });
});

describe.each(ADAPTERS)('a stale login under policy.denied on %s', (adapter) => {
  let t: TestApp;

  beforeAll(async () => {
    ({ t } = await startOnStore('memory', redis, {
      adapter,
      controllers: [LoginController, ReauthController],
      policy: { denied: { status: 302, headers: { Location: '/login' } } },
    }));
  });
  afterAll(() => t?.close());

  it('is still the 401 reauthenticate, never the redirect to the login page', async () => {
    const anonymous = await new Browser(t.url).get('/sensitive');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toBe('/login');

    const browser = new Browser(t.url);
    await browser.post('/login', { user: `denied-${adapter}` });
    await sleep(STALE_AFTER_MS);
    const stale = await browser.get('/sensitive');
    expect(stale.status).toBe(401);
    expect(stale.body).toEqual(REFUSED_STALE);
    expect(stale.headers.get('location')).toBeNull();
  });
});
