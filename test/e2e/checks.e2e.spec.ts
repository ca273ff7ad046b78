import type { MemoryStore, SessionCheckRequest, SessionInfo, SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startApp, startWithStore, type AdapterName, type StoreApp, type TestApp } from '../support/app.js';
import {
  cookiesNamed,
  expectExpiryOnly,
  expectNoSetCookie,
  isExpiry,
  randomId,
  sessionCookieOf,
  UNAUTHENTICATED,
} from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { SessionsController } from '../support/sessions.controller.js';

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
// SessionsController: GET /sessions (@Connected), POST /revoke.
const CONTROLLERS = [AuthController, SessionsController];

function start(adapter: AdapterName, policy: Partial<SessionPolicy>, trustProxy = false): Promise<StoreApp> {
  return startWithStore({ adapter, controllers: CONTROLLERS, policy, trustProxy });
}

const from = (ip: string) => ({ 'x-forwarded-for': ip });

describe.each(ADAPTERS)('session checks on %s', (adapter) => {
  describe('bindIp behind a trusted proxy', () => {
    let t: TestApp;
    let store: MemoryStore;
    beforeAll(async () => {
      ({ t, store } = await start(adapter, { bindIp: true }, true));
    });
    afterAll(() => t.close());

    it('remembers req.ip; a new address ends the session for good', async () => {
      const b = new Browser(t.url);
      expect((await b.post('/login', { user: 'ip-user' }, { headers: from('203.0.113.7') })).status).toBe(201);
      const cookie = b.cookieHeader();
      const listed = await b.get('/sessions', { headers: from('203.0.113.7') });
      expect(listed.status).toBe(200);
      expect((listed.body as SessionInfo[]).map((s) => s.ip)).toEqual(['203.0.113.7']);
      expect((await b.get('/me', { headers: from('203.0.113.7') })).body).toEqual({ user: 'ip-user' });
      expect(store.size).toBe(1);

      const moved = await new Browser(t.url).get('/me', { cookie, headers: from('198.51.100.9') });
      expect(moved.status).toBe(401);
      expect(moved.body).toEqual(UNAUTHENTICATED);
      expectExpiryOnly(moved);
      expect(store.size).toBe(0);

      const back = await new Browser(t.url).get('/me', { cookie, headers: from('203.0.113.7') });
      expect(back.status).toBe(401);
      expect(back.body).toEqual(UNAUTHENTICATED);
    });

    it('other sessions are not affected by one that moved', async () => {
      const stay = new Browser(t.url, from('192.0.2.1'));
      const move = new Browser(t.url, from('192.0.2.2'));
      await stay.post('/login', { user: 'ip-stay' });
      await move.post('/login', { user: 'ip-move' });
      expect((await move.get('/me', { headers: from('192.0.2.3') })).status).toBe(401);
      expect((await stay.get('/me')).body).toEqual({ user: 'ip-stay' });
    });
  });

  describe('without bindIp', () => {
    let t: TestApp;
    beforeAll(async () => {
      ({ t } = await start(adapter, {}, true));
    });
    afterAll(() => t.close());

    it('an address change keeps the session', async () => {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'roaming-user' }, { headers: from('203.0.113.7') });
      const moved = await b.get('/me', { headers: from('198.51.100.9') });
      expect(moved.body).toEqual({ user: 'roaming-user' });
      expectNoSetCookie(moved);
    });
  });

  describe('policy.check', () => {
    let t: TestApp;
    let store: MemoryStore;
    let verdict: 'yes' | 'no' | 'throw' | 'reject' | 'hang' = 'yes';
    let refuseAgent: string | undefined;
    const seen: Array<{ info: SessionInfo; request: SessionCheckRequest }> = [];
    beforeAll(async () => {
      ({ t, store } = await start(adapter, {
        storeTimeout: 300,
        check: (info, request) => {
          seen.push({ info, request });
          if (verdict === 'throw') throw new Error('check exploded');
          if (verdict === 'reject') return Promise.reject(new Error('check rejected'));
          if (verdict === 'hang') return new Promise<boolean>(() => undefined);
          if (refuseAgent !== undefined && info.userAgent === refuseAgent) return false;
          return verdict === 'yes';
        },
      }));
    });
    afterAll(() => t.close());
    beforeEach(() => {
      verdict = 'yes';
      refuseAgent = undefined;
      seen.length = 0;
    });

    it('gets the session facts but never its id', async () => {
      const b = new Browser(t.url, { 'user-agent': 'check-agent/3.1' });
      await b.post('/login', { user: 'check-user' });
      const { id, tag } = sessionCookieOf(b)!;
      expect(seen).toEqual([]);
      expect((await b.get('/me', { headers: { 'x-extra': 'yes' } })).body).toEqual({ user: 'check-user' });
      expect(seen).toHaveLength(1);
      const { info, request } = seen[0]!;
      expect(Object.keys(info).sort()).toEqual([
        'actorId',
        'authenticatedAt',
        'createdAt',
        'current',
        'handle',
        'ip',
        'lastSeenAt',
        'userAgent',
        'userId',
      ]);
      expect(info.userId).toBe('check-user');
      expect(info.userAgent).toBe('check-agent/3.1');
      expect(info.ip).toMatch(/127\.0\.0\.1$/);
      expect(info.createdAt).toBeInstanceOf(Date);
      expect(info.lastSeenAt).toBeInstanceOf(Date);
      expect(info.authenticatedAt).toEqual(info.createdAt);
      // Not impersonated.
      expect(info.actorId).toBeUndefined();
      expect(typeof info.handle).toBe('string');
      const text = JSON.stringify(info);
      expect(text).not.toContain(id);
      expect(text).not.toContain(tag);
      expect(info.handle).not.toBe(id);
      expect(request.transport).toBe('http');
      expect(request.ip).toBe(info.ip);
      expect(request.headers['x-extra']).toBe('yes');
      // The Cookie header carries the id: check() never sees it.
      expect(request.headers['cookie']).toBeUndefined();
      expect(JSON.stringify(request)).not.toContain(id);
      expect(Object.keys(request).sort()).toEqual(['headers', 'ip', 'transport']);
    });

    it.each(['throw', 'reject', 'hang'] as const)(
      'a check that could not answer (%s) refuses the request with 503 and keeps the session',
      async (outcome) => {
        const b = new Browser(t.url);
        await b.post('/login', { user: `check-cannot-${outcome}` });
        const sizeBefore = store.size;
        verdict = outcome;
        const refused = await b.get('/me');
        expect(refused.status).toBe(503);
        expect(refused.body).toEqual(
          expect.objectContaining({ statusCode: 503, code: 'store_unavailable', message: 'Session check unavailable' }),
        );
        expectNoSetCookie(refused);
        expect(store.size).toBe(sizeBefore);
        verdict = 'yes';
        expect((await b.get('/me')).body).toEqual({ user: `check-cannot-${outcome}` });
      },
    );

    it.each(['no'] as const)('a check that says %s ends the session for good', async (outcome) => {
      const b = new Browser(t.url);
      await b.post('/login', { user: `check-${outcome}` });
      const cookie = b.cookieHeader();
      const sizeBefore = store.size;
      expect((await b.get('/me')).status).toBe(200);

      verdict = outcome;
      const refused = await new Browser(t.url).get('/me', { cookie });
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual(UNAUTHENTICATED);
      expectExpiryOnly(refused);
      expect(store.size).toBe(sizeBefore - 1);

      verdict = 'yes';
      seen.length = 0;
      const later = await new Browser(t.url).get('/me', { cookie });
      expect(later.status).toBe(401);
      expect(later.body).toEqual(UNAUTHENTICATED);
      // The record is gone: the check is not even asked again.
      expect(seen).toEqual([]);
    });

    it('a refused session on a public route: anonymous, cookie expired, session deleted', async () => {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'check-public' });
      const cookie = b.cookieHeader();
      const sizeBefore = store.size;
      verdict = 'no';
      const reply = await new Browser(t.url).get('/public', { cookie });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ user: null });
      expectExpiryOnly(reply);
      expect(store.size).toBe(sizeBefore - 1);
      verdict = 'yes';
      expect((await new Browser(t.url).get('/me', { cookie })).status).toBe(401);
    });

    it('a refusal of one session leaves the others alone', async () => {
      const keep = new Browser(t.url, { 'user-agent': 'keeper' });
      const drop = new Browser(t.url, { 'user-agent': 'dropper' });
      await keep.post('/login', { user: 'check-two' });
      await drop.post('/login', { user: 'check-two' });
      const dropCookie = drop.cookieHeader();
      refuseAgent = 'dropper';
      const refused = await drop.get('/me');
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual(UNAUTHENTICATED);
      const kept = await keep.get('/me');
      expect(kept.body).toEqual({ user: 'check-two' });
      expectNoSetCookie(kept);
      refuseAgent = undefined;
      expect((await new Browser(t.url).get('/me', { cookie: dropCookie })).status).toBe(401);
      expect((await keep.get('/sessions')).body).toEqual([expect.objectContaining({ userAgent: 'keeper', current: true })]);
    });
  });

  describe('cookie.filter after a failed check', () => {
    let t: TestApp;
    beforeAll(async () => {
      ({ t } = await start(adapter, {
        cookie: {
          filter: (name) => {
            if (name === 'boom') throw new Error('filter exploded');
            return name.startsWith('keep');
          },
        },
      }));
    });
    afterAll(() => t.close());

    const others = 'keep_theme=dark; drop_tracking=1; keepalive=yes; stale_csrf=abc; boom=1';

    it('expires the cookies the filter rejects (or throws on), not the ones it accepts', async () => {
      const reply = await new Browser(t.url).get('/me', { cookie: `sid=${randomId()}.${randomId()}; ${others}` });
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual(UNAUTHENTICATED);
      const expired = reply.setCookies
        .filter(isExpiry)
        .map((c) => c.name)
        .sort();
      expect(expired).toEqual(['boom', 'drop_tracking', 'sid', 'stale_csrf']);
      expect(reply.setCookies.filter((c) => !isExpiry(c))).toEqual([]);
      expect(cookiesNamed(reply, 'keep_theme')).toEqual([]);
      expect(cookiesNamed(reply, 'keepalive')).toEqual([]);
      expect(reply.headers.get('cache-control')).toBe('no-store');
    });

    it('expires rejected __Host- and __Secure- cookies in a form browsers accept (Secure; Path=/ for __Host-)', async () => {
      const reply = await new Browser(t.url).get('/me', {
        cookie: `sid=${randomId()}.${randomId()}; __Host-pref=1; __Secure-ab=2; keep_me=3`,
      });
      expect(reply.status).toBe(401);
      const [host] = cookiesNamed(reply, '__Host-pref');
      const [secure] = cookiesNamed(reply, '__Secure-ab');
      expect(host && isExpiry(host)).toBe(true);
      expect(host!.attributes['secure']).toBe(true);
      expect(host!.attributes['path']).toBe('/');
      expect(host!.attributes).not.toHaveProperty('domain');
      expect(secure && isExpiry(secure)).toBe(true);
      expect(secure!.attributes['secure']).toBe(true);
      expect(cookiesNamed(reply, 'keep_me')).toEqual([]);
    });

    it('a session that ended server-side triggers the filter too', async () => {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'filter-user' });
      const value = b.jar.get('sid')!;
      await b.post('/login', { user: 'filter-user' });
      // `value` named a session that login closed: the next request with it fails its check.
      const reply = await new Browser(t.url).get('/public', { cookie: `sid=${value}; ${others}` });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ user: null });
      expect(
        reply.setCookies
          .filter(isExpiry)
          .map((c) => c.name)
          .sort(),
      ).toEqual(['boom', 'drop_tracking', 'sid', 'stale_csrf']);
      expect(reply.setCookies.filter((c) => !isExpiry(c))).toEqual([]);
      // The live session of the same browser is not touched by the stale cookie's failure.
      expect((await b.get('/me')).body).toEqual({ user: 'filter-user' });
    });

    it('leaves every cookie alone when the session is fine or absent', async () => {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'filter-fine' });
      const fine = await b.get('/me', { cookie: `${b.cookieHeader()}; ${others}` });
      expect(fine.body).toEqual({ user: 'filter-fine' });
      expectNoSetCookie(fine);
      const absent = await new Browser(t.url).get('/me', { cookie: others });
      expect(absent.status).toBe(401);
      expectNoSetCookie(absent);
    });
  });
});

describe.each(ADAPTERS)('policy errors at start-up on %s', (adapter) => {
  it.each([
    [{ secret: 'too-short' }, /'secret'/],
    [{ secret: [] as string[] }, /'secret'/],
    [{ secret: ['a-test-secret-that-is-long-enough-0123456789', 'short'] }, /'secret\[1\]'/],
    [{ cookie: { sameSite: 'none' as const } }, /'cookie\.sameSite'/],
    [{ cookie: { name: 'bad name' } }, /'cookie\.name'/],
    [{ denied: { status: 200 } }, /'denied\.status'/],
  ])('%j is refused with an error naming the option', async (policy, message) => {
    await expect(startApp({ adapter, controllers: CONTROLLERS, policy })).rejects.toThrow(message);
  });
});
