import type { SessionEvent, SessionInfo } from '../../lib/index.js';
import { ADAPTERS, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser, type Reply } from '../support/browser.js';
import { EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { ImpersonationController, impersonationPolicy } from '../support/impersonation-app.js';
import { ADAPTER_STORE_CASES, redisForFile, startOnStore } from '../support/store-kinds.js';

/**
 * Impersonation (issue 13): `impersonate()`, `stopImpersonating()`, `actorId()`, on Express and Fastify, on the memory
 * store and on Redis, against real servers. Every refusal changes nothing; the impersonated session is the target's
 * to the application and shows its actor in events and in the target's session list. (Its end at `maxDuration`, with
 * its sockets and streams, and two servers on one Redis: test/sockets/impersonation.sockets.spec.ts.)
 */
const redis = redisForFile();

const forbidden = (message: string) => ({ statusCode: 403, error: 'Forbidden', message, code: 'forbidden' });
const NOT_CONNECTED = { statusCode: 401, error: 'Unauthorized', message: 'Not connected', code: 'unauthenticated' };

function sidOf(reply: Reply) {
  return reply.setCookies.filter((cookie) => cookie.name === 'sid');
}

describe.each(ADAPTER_STORE_CASES)('impersonation on %s with the %s store', (adapter, kind) => {
  let t: TestApp;
  let events: EventRecorder;

  beforeAll(async () => {
    ({ t } = await startOnStore(kind, redis, {
      adapter,
      controllers: [LoginController, ImpersonationController],
      policy: impersonationPolicy(),
    }));
    events = new EventRecorder(t.app);
  });
  afterAll(async () => {
    events?.stop();
    await t?.close();
  });

  let users = 0;
  const newUser = (role: string) => `${role}-${adapter}-${kind}-${++users}`;

  async function login(user: string): Promise<Browser> {
    const browser = new Browser(t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    return browser;
  }

  async function sessionsOf(user: string): Promise<SessionInfo[]> {
    const reply = await new Browser(t.url).get(`/sessions-of/${user}`);
    expect(reply.status).toBe(200);
    return reply.body as SessionInfo[];
  }

  /** Support staff impersonating a plain user; both ids, and the support's session as it was. */
  async function impersonating(): Promise<{ browser: Browser; support: string; target: string; before: SessionInfo }> {
    const support = newUser('support');
    const target = newUser('user');
    const browser = await login(support);
    const [before] = await sessionsOf(support);
    const reply = await browser.post('/impersonate', { user: target });
    expect(reply.status).toBe(201);
    return { browser, support, target, before: before! };
  }

  const eventsOf = (session: string) => events.events.filter((e) => e.session === session);

  it('acts as the target under a new cookie: @CurrentUser() and currentUserId() are the target, actorId() the support', async () => {
    const support = newUser('support');
    const target = newUser('user');
    const browser = await login(support);
    const [own] = await sessionsOf(support);
    const supportCookie = browser.jar.get('sid')!;
    const mark = events.events.length;

    const reply = await browser.post('/impersonate', { user: target });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ ok: true });
    const [cookie, ...more] = sidOf(reply);
    expect(more).toEqual([]);
    expect(cookie!.value).not.toBe(supportCookie);
    expect(cookie!.value).not.toBe('');

    expect(await browser.get('/whoami')).toMatchObject({ status: 200, body: { user: target, current: target, actor: support } });

    // The target's session list shows who acts as them; the support's own session was closed by the switch.
    const [listed, ...others] = await sessionsOf(target);
    expect(others).toEqual([]);
    expect(listed).toMatchObject({ userId: target, actorId: support, authenticatedAt: own!.authenticatedAt });
    expect(await sessionsOf(support)).toEqual([]);
    const old = new Browser(t.url);
    old.jar.set('sid', supportCookie);
    expect((await old.get('/whoami')).status).toBe(401);

    // Its events carry the actor: its opening, and each of its requests.
    const after = events.events.slice(mark);
    const ofImpersonated = after.filter((e) => e.session === listed!.handle);
    expect(ofImpersonated.map((e) => e.type)).toEqual(
      expect.arrayContaining(['open-session', 'start-connected-process', 'request', 'connected-request']),
    );
    for (const event of ofImpersonated) expect(event).toMatchObject({ userId: target, actorId: support });
    // The support's own session closed as at any login, and is no impersonated one.
    const closed = after.filter((e) => e.session === own!.handle && e.type.endsWith('close-session'));
    expect(closed.map((e) => [e.type, (e as { reason?: string }).reason, e.userId, e.actorId])).toEqual([
      ['pre-close-session', 'login', support, undefined],
      ['post-close-session', 'login', support, undefined],
    ]);
  });

  it('stops: back to the support under a new cookie, with their earlier authenticatedAt; the impersonated session is gone', async () => {
    const { browser, support, target, before } = await impersonating();
    const [impersonated] = await sessionsOf(target);
    const impersonatedCookie = browser.jar.get('sid')!;

    const reply = await browser.post('/stop-impersonating');
    expect(reply.status).toBe(201);
    const [cookie] = sidOf(reply);
    expect(cookie!.value).not.toBe(impersonatedCookie);
    expect(cookie!.value).not.toBe('');
    expect(await browser.get('/whoami')).toMatchObject({ status: 200, body: { user: support, current: support, actor: null } });

    expect(await sessionsOf(target)).toEqual([]);
    const [back, ...others] = await sessionsOf(support);
    expect(others).toEqual([]);
    expect(back).toMatchObject({ userId: support, current: false });
    // Undefined, so left out of the JSON.
    expect(back).not.toHaveProperty('actorId');
    expect(back!.handle).not.toBe(before.handle);
    // Stopping proves nothing: the support is exactly as fresh as before impersonating.
    expect(back!.authenticatedAt).toBe(before.authenticatedAt);
    const stale = new Browser(t.url);
    stale.jar.set('sid', impersonatedCookie);
    expect((await stale.get('/whoami')).status).toBe(401);

    const closes = eventsOf(impersonated!.handle).filter((e) => e.type.endsWith('close-session'));
    expect(closes).toEqual([
      expect.objectContaining({ type: 'pre-close-session', reason: 'impersonation-ended', userId: target, actorId: support }),
      expect.objectContaining({ type: 'post-close-session', reason: 'impersonation-ended', userId: target, actorId: support }),
    ]);
    const opened = eventsOf(back!.handle).find((e) => e.type === 'open-session');
    expect(opened).toMatchObject({ userId: support });
    expect(opened).not.toHaveProperty('actorId');
  });

  it('refuses fresh (401 reauthenticate, stale-authentication with the actor) and reauthenticate() (403), changing nothing', async () => {
    const support = newUser('support');
    const own = await login(support);
    // The same login is fresh for the support's own session: only impersonation makes the difference.
    expect(await own.get('/fresh')).toMatchObject({ status: 200, body: { user: support } });
    const { browser, support: actor, target } = await impersonating();
    const cookie = browser.jar.get('sid');
    const [listed] = await sessionsOf(target);

    const stale = await browser.get('/fresh');
    expect(stale.status).toBe(401);
    expect(stale.body).toMatchObject({ code: 'reauthenticate' });
    const denied = await events.waitFor((e) => e.type === 'denied-request' && e.session === listed!.handle);
    expect(denied).toMatchObject({ reason: 'stale-authentication', userId: target, actorId: actor });

    const refused = await browser.post('/reauthenticate');
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual(forbidden('An impersonated session cannot be reauthenticated'));
    expect(sidOf(refused)).toEqual([]);
    expect(browser.jar.get('sid')).toBe(cookie);
    expect(await sessionsOf(target)).toEqual([{ ...listed, lastSeenAt: expect.any(String) }]);
    expect(eventsOf(listed!.handle).some((e) => e.type === 'reauthenticated')).toBe(false);
    expect((await browser.get('/fresh')).status).toBe(401);
  });

  describe('refusals, each changing nothing', () => {
    /** A refused call's answer: the status and body asked, no cookie, and the browser's session as it was. */
    async function expectRefused(browser: Browser, reply: Reply, status: number, body: object, whoami: object): Promise<void> {
      expect(reply.status).toBe(status);
      expect(reply.body).toEqual(body);
      expect(sidOf(reply)).toEqual([]);
      expect(await browser.get('/whoami')).toMatchObject({ status: 200, body: whoami });
    }

    it('refuses a user outside allow with 403, and opens nothing for the target', async () => {
      const user = newUser('user');
      const target = newUser('user');
      const browser = await login(user);
      const [own] = await sessionsOf(user);
      const cookie = browser.jar.get('sid');
      const reply = await browser.post('/impersonate', { user: target });
      await expectRefused(browser, reply, 403, forbidden('Not allowed to impersonate'), { user, actor: null });
      expect(browser.jar.get('sid')).toBe(cookie);
      expect(await sessionsOf(target)).toEqual([]);
      expect(await sessionsOf(user)).toEqual([{ ...own, lastSeenAt: expect.any(String) }]);
      expect(events.events.some((e) => e.userId === target)).toBe(false);
    });

    it('refuses a target in deny with 403', async () => {
      const support = newUser('support');
      const admin = newUser('admin');
      const browser = await login(support);
      const reply = await browser.post('/impersonate', { user: admin });
      await expectRefused(browser, reply, 403, forbidden('This user cannot be impersonated'), { user: support, actor: null });
      expect(await sessionsOf(admin)).toEqual([]);
      expect(await sessionsOf(support)).toHaveLength(1);
    });

    it('refuses impersonating oneself with 403', async () => {
      const support = newUser('support');
      const browser = await login(support);
      const reply = await browser.post('/impersonate', { user: support });
      await expectRefused(browser, reply, 403, forbidden('Cannot impersonate oneself'), { user: support, actor: null });
      const [own, ...more] = await sessionsOf(support);
      expect(more).toEqual([]);
      expect(own).toMatchObject({ userId: support });
      expect(own).not.toHaveProperty('actorId');
    });

    it('refuses a second impersonation while impersonating with 403, the first one going on', async () => {
      const { browser, support, target } = await impersonating();
      const other = newUser('user');
      const [listed] = await sessionsOf(target);
      const reply = await browser.post('/impersonate', { user: other });
      await expectRefused(browser, reply, 403, forbidden('Already impersonating: stop first'), { user: target, actor: support });
      expect(await sessionsOf(other)).toEqual([]);
      expect(await sessionsOf(target)).toEqual([{ ...listed, lastSeenAt: expect.any(String) }]);
    });

    it('refuses stopImpersonating() outside an impersonation with 403', async () => {
      const support = newUser('support');
      const browser = await login(support);
      const [own] = await sessionsOf(support);
      const reply = await browser.post('/stop-impersonating');
      await expectRefused(browser, reply, 403, forbidden('Not impersonating anyone'), { user: support, actor: null });
      expect(await sessionsOf(support)).toEqual([{ ...own, lastSeenAt: expect.any(String) }]);
    });

    it('throws NotConnectedException (401) from both without a connected session, and hands out no cookie', async () => {
      const anonymous = new Browser(t.url);
      const target = newUser('user');
      const impersonate = await anonymous.post('/impersonate-unguarded', { user: target });
      expect(impersonate.status).toBe(401);
      expect(impersonate.body).toEqual(NOT_CONNECTED);
      expect(sidOf(impersonate)).toEqual([]);
      const stop = await anonymous.post('/stop-impersonating');
      expect(stop.status).toBe(401);
      expect(stop.body).toEqual(NOT_CONNECTED);
      expect(sidOf(stop)).toEqual([]);
      expect(await sessionsOf(target)).toEqual([]);
    });
  });

  it('ends with disconnectAll({ userId: target }), with the actor on its close events', async () => {
    const { browser, support, target } = await impersonating();
    const [listed] = await sessionsOf(target);
    const reply = await new Browser(t.url).post('/disconnect-all', { userId: target });
    expect(reply.body).toEqual({ closed: 1 });
    expect((await browser.get('/whoami')).status).toBe(401);
    expect(await sessionsOf(target)).toEqual([]);
    await waitUntil(() => eventsOf(listed!.handle).some((e) => e.type === 'post-close-session'));
    const closes = eventsOf(listed!.handle).filter((e) => e.type.endsWith('close-session'));
    expect(closes.map((e) => [e.type, (e as { reason?: string }).reason, e.userId, e.actorId])).toEqual([
      ['pre-close-session', 'disconnect-all', target, support],
      ['post-close-session', 'disconnect-all', target, support],
    ]);
  });

  it('stops into no session when the support’s own sessions were all closed meanwhile (disconnectAll of the actor)', async () => {
    const { browser, support, target } = await impersonating();
    const [listed] = await sessionsOf(target);
    // An operator ends every session of the support account (stolen, say): the impersonation must not lead back in.
    expect((await new Browser(t.url).post('/disconnect-all', { userId: support })).status).toBe(201);
    const reply = await browser.post('/stop-impersonating');
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ ...NOT_CONNECTED, message: "The actor's sessions were closed meanwhile" });
    expect(sidOf(reply).map((cookie) => cookie.value)).toEqual(['']);
    expect(await sessionsOf(target)).toEqual([]);
    expect(await sessionsOf(support)).toEqual([]);
    expect((await browser.get('/whoami')).status).toBe(401);
    const closed = eventsOf(listed!.handle).find(
      (e): e is Extract<SessionEvent, { type: 'post-close-session' }> => e.type === 'post-close-session',
    );
    expect(closed).toMatchObject({ reason: 'impersonation-ended', actorId: support });
  });
});

describe.each(ADAPTERS)('impersonation without policy.impersonation on %s', (adapter) => {
  let t: TestApp;

  beforeAll(async () => {
    ({ t } = await startOnStore('memory', redis, {
      adapter,
      controllers: [LoginController, ImpersonationController],
      policy: { groups: impersonationPolicy().groups },
    }));
  });
  afterAll(() => t?.close());

  it('refuses impersonate() with 403 even for the allow groups, and changes nothing', async () => {
    const browser = new Browser(t.url);
    await browser.post('/login', { user: `support-${adapter}` });
    const cookie = browser.jar.get('sid');
    const reply = await browser.post('/impersonate', { user: `user-${adapter}` });
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual(forbidden('Impersonation is not enabled'));
    expect(sidOf(reply)).toEqual([]);
    expect(browser.jar.get('sid')).toBe(cookie);
    expect(await browser.get('/whoami')).toMatchObject({ status: 200, body: { user: `support-${adapter}`, actor: null } });
    expect((await browser.get(`/sessions-of/user-${adapter}`)).body).toEqual([]);
  });
});
