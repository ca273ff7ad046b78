import { Controller, Get, Post } from '@nestjs/common';
import { Connected, CurrentUser, SessionService, type SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, SECRET, startForBlock, startWithStore, type AdapterName, type StoreApp, type TestApp } from '../support/app.js';
import {
  expectAtMostExpiry,
  expectExpiryOnly,
  expectNoSetCookie,
  isExpiry,
  lastCookie,
  randomId,
  signWith,
  UNAUTHENTICATED,
} from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';

/** POST /public (as GET /public) and GET /optional (@Connected({ optional: true })), both → {user | null}. */
@Controller()
class CookiesController {
  constructor(private readonly sessions: SessionService) {}

  @Post('public')
  openPost() {
    return { user: this.sessions.currentUserId() ?? null };
  }

  @Connected({ optional: true })
  @Get('optional')
  optional(@CurrentUser() user: string | undefined) {
    return { user: user ?? null };
  }
}

// AuthController: POST /login {user, expire?}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
// CartController: POST /cart {item} (a browser-scoped value), GET /cart → {cart}.
function start(adapter: AdapterName, policy: Partial<SessionPolicy> = {}, trustProxy = false): Promise<StoreApp> {
  return startWithStore({ adapter, controllers: [AuthController, CartController, CookiesController], policy, trustProxy });
}

const HTTPS = { 'x-forwarded-proto': 'https' };

describe.each(ADAPTERS)('cookies on %s', (adapter) => {
  describe('anonymous requests that store nothing', () => {
    const s = startForBlock(() => start(adapter));

    it('get no Set-Cookie at all on public, optional and connected routes, and create no session', async () => {
      const b = new Browser(s.t.url);
      const pub = await b.get('/public');
      expect(pub.status).toBe(200);
      expect(pub.body).toEqual({ user: null });
      expectNoSetCookie(pub);

      const post = await b.post('/public');
      expect(post.status).toBe(201);
      expectNoSetCookie(post);

      const read = await b.get('/cart');
      expect(read.body).toEqual({ cart: null });
      expectNoSetCookie(read);

      const optional = await b.get('/optional');
      expect(optional.status).toBe(200);
      expect(optional.body).toEqual({ user: null });
      expectNoSetCookie(optional);

      const connected = await b.get('/me');
      expect(connected.status).toBe(401);
      expect(connected.body).toEqual(UNAUTHENTICATED);
      expectNoSetCookie(connected);

      const logout = await b.post('/logout');
      expect(logout.status).toBe(201);
      expectNoSetCookie(logout);

      expect(s.store.size).toBe(0);
      expect(b.jar.size).toBe(0);
    });

    it.each([
      ['unknown but well signed', () => signWith(SECRET)],
      ['forged', () => `${randomId()}.${randomId()}`],
    ])('with a %s cookie get at most the Set-Cookie that expires it, and create nothing', async (_, make) => {
      for (const path of ['/public', '/optional', '/cart', '/me']) {
        const cookie = `sid=${make()}`;
        const reply = await new Browser(s.t.url).get(path, { cookie });
        if (path === '/me') {
          expect(reply.status).toBe(401);
          expect(reply.body).toEqual(UNAUTHENTICATED);
        } else {
          expect(reply.status).toBe(200);
          expect(reply.body).toEqual(path === '/cart' ? { cart: null } : { user: null });
        }
        expectAtMostExpiry(reply);
        // Never a new id in exchange for one the server did not issue.
        expect(reply.setCookies.filter((c) => !isExpiry(c))).toEqual([]);
      }
      expect(s.store.size).toBe(0);
    });
  });

  describe('attributes with the default policy', () => {
    const s = startForBlock(() => start(adapter));

    it('connect() sets HttpOnly, SameSite=Lax, Path=/, no Domain, Max-Age of 30 days, and no-store', async () => {
      const b = new Browser(s.t.url);
      const login = await b.post('/login', { user: 'cookie-default' });
      expect(login.status).toBe(201);
      expect(login.setCookies).toHaveLength(1);
      const cookie = lastCookie(login);
      expect(cookie.name).toBe('sid');
      expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
      expect(cookie.attributes['httponly']).toBe(true);
      expect(cookie.attributes['samesite']).toBe('Lax');
      expect(cookie.attributes['path']).toBe('/');
      expect(cookie.attributes).not.toHaveProperty('domain');
      expect(cookie.attributes).not.toHaveProperty('secure');
      expect(cookie.attributes['max-age']).toBe(String(30 * 24 * 3600));
      expect(login.headers.get('cache-control')).toBe('no-store');
      expect((await b.get('/me')).body).toEqual({ user: 'cookie-default' });
    });

    it('connect(user, { expire: true }) sets a browser-session cookie: no Max-Age, no Expires', async () => {
      const b = new Browser(s.t.url);
      const login = await b.post('/login', { user: 'cookie-expire', expire: true });
      expect(login.status).toBe(201);
      const cookie = lastCookie(login);
      expect(cookie.value).not.toBe('');
      expect(cookie.attributes).not.toHaveProperty('max-age');
      expect(cookie.attributes).not.toHaveProperty('expires');
      expect(cookie.attributes['httponly']).toBe(true);
      expect(login.headers.get('cache-control')).toBe('no-store');
      expect((await b.get('/me')).body).toEqual({ user: 'cookie-expire' });
    });

    it('an anonymous session opened by a browser-scoped write gets the same attributes and no-store', async () => {
      const b = new Browser(s.t.url);
      const fill = await b.post('/cart', { item: 'apple' });
      expect(fill.status).toBe(201);
      const cookie = lastCookie(fill);
      expect(cookie.attributes['httponly']).toBe(true);
      expect(cookie.attributes['samesite']).toBe('Lax');
      expect(cookie.attributes['path']).toBe('/');
      expect(fill.headers.get('cache-control')).toBe('no-store');
      expect((await b.get('/cart')).body).toEqual({ cart: 'apple' });
      expect((await b.get('/me')).status).toBe(401);
    });

    it('logout expires the cookie with no-store, and the failed check of a dead cookie does too', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'cookie-logout' });
      const kept = b.cookieHeader();
      const logout = await b.post('/logout');
      expect(logout.status).toBe(201);
      expectExpiryOnly(logout);
      expect(lastCookie(logout).attributes['path']).toBe('/');
      expect(b.jar.has('sid')).toBe(false);

      const stale = await new Browser(s.t.url).get('/public', { cookie: kept });
      expect(stale.status).toBe(200);
      expect(stale.body).toEqual({ user: null });
      expectExpiryOnly(stale);
    });

    it('a request that only uses a live session sets no cookie', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'cookie-quiet' });
      const me = await b.get('/me');
      expect(me.body).toEqual({ user: 'cookie-quiet' });
      expectNoSetCookie(me);
      expectNoSetCookie(await b.get('/public'));
    });

    it('X-Forwarded-Proto is ignored without trust proxy: no Secure, no __Host- prefix', async () => {
      const b = new Browser(s.t.url, HTTPS);
      const login = await b.post('/login', { user: 'cookie-untrusted' });
      const cookie = lastCookie(login, 'sid');
      expect(cookie.attributes).not.toHaveProperty('secure');
      expect(login.setCookies.map((c) => c.name)).toEqual(['sid']);
    });
  });

  describe('attributes with a configured policy', () => {
    const apps: TestApp[] = [];
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((t) => t.close()));
    });
    async function configured(policy: Partial<SessionPolicy>, trustProxy = false): Promise<TestApp> {
      const { t } = await start(adapter, policy, trustProxy);
      apps.push(t);
      return t;
    }

    it('SameSite and Max-Age follow cookie.sameSite and absoluteTimeout', async () => {
      const t = await configured({ cookie: { sameSite: 'strict' }, absoluteTimeout: 7200 });
      const b = new Browser(t.url);
      const cookie = lastCookie(await b.post('/login', { user: 'cookie-strict' }));
      expect(cookie.attributes['samesite']).toBe('Strict');
      expect(cookie.attributes['max-age']).toBe('7200');
      expect((await b.get('/me')).body).toEqual({ user: 'cookie-strict' });
    });

    it('secure "auto" behind a trusted proxy: Secure and __Host- over HTTPS, neither over HTTP', async () => {
      const t = await configured({}, true);
      const https = new Browser(t.url, HTTPS);
      const login = await https.post('/login', { user: 'cookie-https' });
      expect(login.setCookies.map((c) => c.name)).toEqual(['__Host-sid']);
      const cookie = lastCookie(login, '__Host-sid');
      expect(cookie.attributes['secure']).toBe(true);
      expect(cookie.attributes['path']).toBe('/');
      expect(cookie.attributes).not.toHaveProperty('domain');
      expect(cookie.attributes['httponly']).toBe(true);
      expect(login.headers.get('cache-control')).toBe('no-store');
      expect((await https.get('/me')).body).toEqual({ user: 'cookie-https' });
      const logout = await https.post('/logout');
      expectExpiryOnly(logout, '__Host-sid');
      expect(lastCookie(logout, '__Host-sid').attributes['secure']).toBe(true);

      const http = new Browser(t.url);
      const plain = lastCookie(await http.post('/login', { user: 'cookie-http' }), 'sid');
      expect(plain.attributes).not.toHaveProperty('secure');
      expect((await http.get('/me')).body).toEqual({ user: 'cookie-http' });
    });

    it('secure: true gives Secure and __Host- even on a plain request', async () => {
      const t = await configured({ cookie: { secure: true } });
      const b = new Browser(t.url);
      const login = await b.post('/login', { user: 'cookie-secure' });
      expect(login.setCookies.map((c) => c.name)).toEqual(['__Host-sid']);
      expect(lastCookie(login, '__Host-sid').attributes['secure']).toBe(true);
      expect((await b.get('/me')).body).toEqual({ user: 'cookie-secure' });
      // The unprefixed name is not the session cookie under this policy.
      const renamed = await new Browser(t.url).get('/me', { cookie: `sid=${b.jar.get('__Host-sid')}` });
      expect(renamed.status).toBe(401);
    });

    it('a configured domain is sent as Domain and turns off the __Host- prefix', async () => {
      const t = await configured({ cookie: { domain: 'example.test', secure: true, sameSite: 'none' } });
      const b = new Browser(t.url);
      const login = await b.post('/login', { user: 'cookie-domain' });
      expect(login.setCookies.map((c) => c.name)).toEqual(['sid']);
      const cookie = lastCookie(login, 'sid');
      expect(cookie.attributes['domain']).toBe('example.test');
      expect(cookie.attributes['secure']).toBe(true);
      expect(cookie.attributes['samesite']).toBe('None');
      expect((await b.get('/me')).body).toEqual({ user: 'cookie-domain' });
      const logout = await b.post('/logout');
      expectExpiryOnly(logout, 'sid');
      expect(lastCookie(logout, 'sid').attributes['domain']).toBe('example.test');
    });

    it('a configured path is sent as Path and turns off the __Host- prefix', async () => {
      const t = await configured({ cookie: { path: '/app', secure: true } });
      const b = new Browser(t.url);
      const login = await b.post('/login', { user: 'cookie-path' });
      expect(login.setCookies.map((c) => c.name)).toEqual(['sid']);
      const cookie = lastCookie(login, 'sid');
      expect(cookie.attributes['path']).toBe('/app');
      expect(cookie.attributes['secure']).toBe(true);
      const logout = await b.post('/logout', {}, { cookie: `sid=${cookie.value}` });
      expectExpiryOnly(logout, 'sid');
      expect(lastCookie(logout, 'sid').attributes['path']).toBe('/app');
    });

    it('a configured name is used for reading and writing', async () => {
      const t = await configured({ cookie: { name: 'app_session' } });
      const b = new Browser(t.url);
      const login = await b.post('/login', { user: 'cookie-named' });
      expect(login.setCookies.map((c) => c.name)).toEqual(['app_session']);
      expect((await b.get('/me')).body).toEqual({ user: 'cookie-named' });
      const wrongName = await new Browser(t.url).get('/me', { cookie: `sid=${b.jar.get('app_session')}` });
      expect(wrongName.status).toBe(401);
      expectNoSetCookie(wrongName);
    });
  });
});
