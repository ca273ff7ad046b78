import { MemoryStore, type SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startForBlock, startWithStore, type AdapterName, type StoreApp, type TestApp } from '../support/app.js';
import {
  expectExpiryOnly,
  expectNoSetCookie,
  idOf,
  isExpiry,
  lastCookie,
  randomId,
  signWith,
  UNAUTHENTICATED,
} from '../support/auth-helpers.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';
import { NoteController } from '../support/note.controller.js';
import { SessionsController } from '../support/sessions.controller.js';

// LoginController: POST /login {user}, POST /logout, GET /public → {user | null}.
// NoteController: GET /me (@Connected) → {user, note}, POST /note {note} (@Connected).
// CartController: POST /cart {item}, GET /cart → {cart}. SessionsController: GET /sessions, POST /revoke {handle}.
function start(adapter: AdapterName, policy: Partial<SessionPolicy> = {}): Promise<StoreApp> {
  return startWithStore({ adapter, controllers: [LoginController, NoteController, CartController, SessionsController], policy });
}

/** GET /me with exactly this Cookie header, from a fresh browser. */
function meWith(t: TestApp, cookie: string) {
  return new Browser(t.url).get('/me', { cookie });
}

describe.each(ADAPTERS)('connect and disconnect on %s', (adapter) => {
  describe('with the default policy', () => {
    const s = startForBlock(() => start(adapter));

    it('login rotates the id: the pre-login cookie is dead, the browser data moves to the new session', async () => {
      const b = new Browser(s.t.url);
      const fill = await b.post('/cart', { item: 'pear' });
      expect(fill.status).toBe(201);
      const preLogin = b.jar.get('sid')!;
      expect(preLogin).toMatch(/\./);
      expect(s.store.size).toBe(1);

      const login = await b.post('/login', { user: 'rotate-user' });
      expect(login.status).toBe(201);
      const postLogin = lastCookie(login).value;
      expect(isExpiry(lastCookie(login))).toBe(false);
      expect(postLogin).not.toBe(preLogin);
      expect(idOf(postLogin)).not.toBe(idOf(preLogin));
      // The anonymous session was replaced, not kept beside the new one.
      expect(s.store.size).toBe(1);

      expect((await b.get('/cart')).body).toEqual({ cart: 'pear' });
      expect((await b.get('/me')).body).toEqual({ user: 'rotate-user', note: null });

      const old = await meWith(s.t, `sid=${preLogin}`);
      expect(old.status).toBe(401);
      expect(old.body).toEqual(UNAUTHENTICATED);
      expectExpiryOnly(old);
      const oldCart = await new Browser(s.t.url).get('/cart', { cookie: `sid=${preLogin}` });
      expect(oldCart.body).toEqual({ cart: null });
    });

    it('logging in again (as another user) rotates too and drops session data', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'first-user' });
      expect((await b.post('/note', { note: 'secret of first-user' })).status).toBe(201);
      const first = b.jar.get('sid')!;
      await b.post('/login', { user: 'second-user' });
      const second = b.jar.get('sid')!;
      expect(second).not.toBe(first);
      expect((await b.get('/me')).body).toEqual({ user: 'second-user', note: null });
      expect((await meWith(s.t, `sid=${first}`)).status).toBe(401);
    });

    it('login with a dead cookie still ends with a working new cookie', async () => {
      const b = new Browser(s.t.url);
      b.jar.set('sid', signWith('some-other-secret-that-is-long-enough-xyz'));
      const login = await b.post('/login', { user: 'dead-cookie-user' });
      expect(login.status).toBe(201);
      expect(isExpiry(lastCookie(login))).toBe(false);
      expect(login.headers.get('cache-control')).toBe('no-store');
      expect((await b.get('/me')).body).toEqual({ user: 'dead-cookie-user', note: null });
    });

    it('logout invalidates server-side, expires the cookie, keeps browser data, and is idempotent', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'logout-user' });
      const copy = b.cookieHeader();
      expect((await meWith(s.t, copy)).status).toBe(200);
      const before = s.store.size;

      const logout = await b.post('/logout');
      expect(logout.status).toBe(201);
      expect(logout.body).toEqual({ ok: true });
      expectExpiryOnly(logout);
      expect(b.jar.has('sid')).toBe(false);
      expect(s.store.size).toBe(before - 1);

      const replay = await meWith(s.t, copy);
      expect(replay.status).toBe(401);
      expect(replay.body).toEqual(UNAUTHENTICATED);

      // A second logout (no cookie left), and one with the stale copy: 2xx, nothing new set.
      const again = await b.post('/logout');
      expect(again.status).toBe(201);
      expectNoSetCookie(again);
      const stale = await new Browser(s.t.url).post('/logout', {}, { cookie: copy });
      expect(stale.status).toBe(201);
      expectExpiryOnly(stale);
      const none = await new Browser(s.t.url).post('/logout');
      expect(none.status).toBe(201);
      expectNoSetCookie(none);
      expect(s.store.size).toBe(before - 1);
    });

    it('logout keeps browser data under a new anonymous id', async () => {
      const b = new Browser(s.t.url);
      await b.post('/cart', { item: 'plum' });
      await b.post('/login', { user: 'logout-cart-user' });
      const connected = b.cookieHeader();
      const logout = await b.post('/logout');
      expect(logout.status).toBe(201);
      const anonymous = lastCookie(logout);
      expect(isExpiry(anonymous)).toBe(false);
      expect(`sid=${anonymous.value}`).not.toBe(connected);
      expect((await b.get('/cart')).body).toEqual({ cart: 'plum' });
      expect((await b.get('/me')).status).toBe(401);
      expect((await meWith(s.t, connected)).status).toBe(401);
    });

    it('an anonymous session is refused on connected routes without losing its data; logout leaves it alone', async () => {
      const b = new Browser(s.t.url);
      await b.post('/cart', { item: 'fig' });
      const anonymous = b.jar.get('sid')!;
      const refused = await b.get('/me');
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual(UNAUTHENTICATED);
      expectNoSetCookie(refused);
      const logout = await b.post('/logout');
      expect(logout.status).toBe(201);
      expectNoSetCookie(logout);
      expect(b.jar.get('sid')).toBe(anonymous);
      expect((await b.get('/cart')).body).toEqual({ cart: 'fig' });
    });

    it('listSessions shows handles and facts, never the id or cookie; revoke closes another session', async () => {
      const phone = new Browser(s.t.url, { 'user-agent': 'phone-agent/1.0' });
      const laptop = new Browser(s.t.url, { 'user-agent': 'laptop-agent/2.0' });
      await phone.post('/login', { user: 'list-user' });
      await laptop.post('/login', { user: 'list-user' });
      const phoneCookie = phone.jar.get('sid')!;
      const laptopCookie = laptop.jar.get('sid')!;

      const listed = await laptop.get('/sessions');
      expect(listed.status).toBe(200);
      const sessions = listed.body as Array<Record<string, unknown>>;
      expect(sessions).toHaveLength(2);
      for (const info of sessions) {
        expect(Object.keys(info).sort()).toEqual([
          'authenticatedAt',
          'createdAt',
          'current',
          'handle',
          'ip',
          'lastSeenAt',
          'userAgent',
          'userId',
        ]);
        expect(info['userId']).toBe('list-user');
        expect(typeof info['handle']).toBe('string');
        expect(Number.isNaN(Date.parse(info['createdAt'] as string))).toBe(false);
        // A login is an authentication: both at the same moment.
        expect(info['authenticatedAt']).toBe(info['createdAt']);
        expect(Number.isNaN(Date.parse(info['lastSeenAt'] as string))).toBe(false);
        expect(info['ip']).toMatch(/127\.0\.0\.1$/);
      }
      expect(sessions.map((i) => [i['userAgent'], i['current']])).toEqual([
        ['phone-agent/1.0', false],
        ['laptop-agent/2.0', true],
      ]);
      for (const cookie of [phoneCookie, laptopCookie]) {
        const [id, tag] = cookie.split('.') as [string, string];
        expect(listed.text).not.toContain(cookie);
        expect(listed.text).not.toContain(id);
        expect(listed.text).not.toContain(tag);
        for (const info of sessions) expect(info['handle']).not.toBe(id);
      }

      const phoneHandle = sessions[0]!['handle'] as string;
      const unknown = await laptop.post('/revoke', { handle: randomId() });
      expect(unknown.status).toBe(201);
      expectNoSetCookie(unknown);
      const garbage = await laptop.post('/revoke', { handle: '__proto__' });
      expect(garbage.status).toBe(201);
      expect((await phone.get('/me')).status).toBe(200);

      const revoke = await laptop.post('/revoke', { handle: phoneHandle });
      expect(revoke.status).toBe(201);
      expectNoSetCookie(revoke);
      const revoked = await meWith(s.t, `sid=${phoneCookie}`);
      expect(revoked.status).toBe(401);
      expect(revoked.body).toEqual(UNAUTHENTICATED);
      expect((await laptop.get('/me')).body).toEqual({ user: 'list-user', note: null });
      const after = (await laptop.get('/sessions')).body as Array<Record<string, unknown>>;
      expect(after.map((i) => i['current'])).toEqual([true]);
    });

    it('revoking the current session expires its own cookie', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'self-revoke-user' });
      const copy = b.cookieHeader();
      const [mine] = (await b.get('/sessions')).body as Array<{ handle: string }>;
      const revoke = await b.post('/revoke', { handle: mine!.handle });
      expect(revoke.status).toBe(201);
      expectExpiryOnly(revoke);
      expect((await meWith(s.t, copy)).status).toBe(401);
    });
  });

  describe('maxSessionsPerUser: 2', () => {
    const s = startForBlock(() => start(adapter, { maxSessionsPerUser: 2 }));

    it('a third login closes the oldest session; the two newest work', async () => {
      const browsers = [new Browser(s.t.url), new Browser(s.t.url), new Browser(s.t.url)];
      for (const b of browsers) expect((await b.post('/login', { user: 'max-user' })).status).toBe(201);
      const [oldest, middle, newest] = browsers as [Browser, Browser, Browser];
      const closed = await oldest.get('/me');
      expect(closed.status).toBe(401);
      expect(closed.body).toEqual(UNAUTHENTICATED);
      expect((await middle.get('/me')).body).toEqual({ user: 'max-user', note: null });
      expect((await newest.get('/me')).body).toEqual({ user: 'max-user', note: null });
      expect(((await newest.get('/sessions')).body as unknown[]).length).toBe(2);
      // Another user's sessions are not counted against this one.
      const other = new Browser(s.t.url);
      await other.post('/login', { user: 'max-other' });
      expect((await middle.get('/me')).status).toBe(200);
      expect((await other.get('/me')).status).toBe(200);
    });
  });

  describe('secret rotation with a shared store', () => {
    const A = 'secret-A-is-long-enough-for-the-policy-000000';
    const B = 'secret-B-is-long-enough-for-the-policy-111111';
    const apps: TestApp[] = [];
    afterAll(async () => {
      await Promise.all(apps.splice(0).map((t) => t.close()));
    });

    it('an A session survives a restart with [B, A]; new cookies are signed with B; [B] alone drops A', async () => {
      const store = new MemoryStore();
      const first = await start(adapter, { secret: A, store });
      apps.push(first.t);
      const old = new Browser(first.t.url);
      await old.post('/login', { user: 'rotation-user' });
      const oldCookie = old.jar.get('sid')!;
      expect(oldCookie).toBe(signWith(A, idOf(oldCookie)));
      await first.t.close();
      apps.splice(apps.indexOf(first.t), 1);

      const second = await start(adapter, { secret: [B, A], store });
      apps.push(second.t);
      const survived = await meWith(second.t, `sid=${oldCookie}`);
      expect(survived.status).toBe(200);
      expect(survived.body).toEqual({ user: 'rotation-user', note: null });
      expectNoSetCookie(survived);
      const fresh = new Browser(second.t.url);
      await fresh.post('/login', { user: 'rotation-user' });
      const newCookie = fresh.jar.get('sid')!;
      expect(newCookie).toBe(signWith(B, idOf(newCookie)));
      expect(newCookie).not.toBe(signWith(A, idOf(newCookie)));
      await second.t.close();
      apps.splice(apps.indexOf(second.t), 1);

      const third = await start(adapter, { secret: [B], store });
      apps.push(third.t);
      expect((await meWith(third.t, `sid=${newCookie}`)).body).toEqual({ user: 'rotation-user', note: null });
      const dropped = await meWith(third.t, `sid=${oldCookie}`);
      expect(dropped.status).toBe(401);
      expect(dropped.body).toEqual(UNAUTHENTICATED);
      expectExpiryOnly(dropped);
      // The B session was not disturbed by the refused A cookie.
      expect((await meWith(third.t, `sid=${newCookie}`)).status).toBe(200);
    });
  });
});
