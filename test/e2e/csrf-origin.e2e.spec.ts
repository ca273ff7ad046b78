import { SessionService } from '../../lib/index.js';
import { ADAPTERS, startForBlock, startWithStore, type AdapterName, type StoreApp } from '../support/app.js';
import { expectNoSetCookie } from '../support/auth-helpers.js';
import { Browser, type Reply } from '../support/browser.js';
import {
  CROSS_ORIGIN_REFUSED,
  CROSS_SITE,
  CSRF_CONTROLLERS,
  CSRF_PROVIDERS,
  CsrfLedger,
  SAME_SITE,
  watchEvents,
} from '../support/csrf-routes.js';

/**
 * The CSRF origin check (on by default): an unsafe request that a browser says comes from another origin is refused
 * with 403 `code: 'csrf'` before its handler runs, with or without a session, login included. The headers are the
 * ones browsers send (`Sec-Fetch-Site`, `Origin`); test/browser/csrf.browser.spec.ts drives a real Chromium.
 */
const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

describe.each(ADAPTERS)('CSRF origin check on %s', (adapter: AdapterName) => {
  let counter = 0;
  const userName = (what: string) => `csrf-${adapter}-${what}-${++counter}`;
  const s: StoreApp = startForBlock(() => startWithStore({ adapter, controllers: CSRF_CONTROLLERS, providers: CSRF_PROVIDERS }));
  const ran = () => ({ ...s.t.app.get(CsrfLedger).ran });
  const sessionsOf = (user: string) => s.t.app.get(SessionService).listSessions(user);

  async function loggedIn(what: string): Promise<{ browser: Browser; user: string }> {
    const user = userName(what);
    const browser = new Browser(s.t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    expect((await browser.post('/note', { note: 'kept' })).status).toBe(201);
    return { browser, user };
  }

  /** The refusal: status, body, no cookie written, and the handler did not run. */
  function expectRefused(reply: Reply, before: Record<string, number>): void {
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED });
    expectNoSetCookie(reply);
    expect(ran()).toEqual(before);
  }

  /** The victim is still logged in, with its data, on the same single session. */
  async function expectIntact(browser: Browser, user: string): Promise<void> {
    expect((await browser.get('/me')).body).toEqual({ user, note: 'kept' });
    expect(await sessionsOf(user)).toHaveLength(1);
  }

  describe.each([
    ['Sec-Fetch-Site: cross-site', CROSS_SITE],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', SAME_SITE],
    ['Origin: null (no Sec-Fetch-Site)', { origin: 'null' }],
    ['a foreign Origin (no Sec-Fetch-Site)', { origin: 'http://evil.example' }],
    ['the Origin of the same host on another port', { origin: 'http://127.0.0.1:1' }],
    ['an unreadable Origin', { origin: 'http://a.example, http://b.example' }],
    ['Sec-Fetch-Site: cross-site with the own Origin (the browser wins)', 'own-origin-cross-site'],
  ] as const)('%s', (_, given) => {
    const headers = (): Record<string, string> =>
      given === 'own-origin-cross-site' ? { 'sec-fetch-site': 'cross-site', origin: s.t.url } : { ...given };

    it.each(UNSAFE)('refuses %s with a session: 403 csrf, the handler did not run, the session is intact', async (method) => {
      const { browser, user } = await loggedIn(method);
      const before = ran();
      expectRefused(await browser.request(method, '/action', { headers: headers() }), before);
      await expectIntact(browser, user);
    });

    it('refuses without a session, and opens none', async () => {
      const browser = new Browser(s.t.url);
      const size = s.store.size;
      const before = ran();
      expectRefused(await browser.post('/cart', { item: 'planted' }, { headers: headers() }), before);
      expect(s.store.size).toBe(size);
      expect(browser.jar.size).toBe(0);
    });

    it('refuses a forged login (login CSRF): no cookie, no session, the victim stays who it was', async () => {
      const { browser, user } = await loggedIn('victim');
      const mallory = userName('mallory');
      const reply = await browser.post('/login', { user: mallory }, { headers: headers() });
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED });
      expectNoSetCookie(reply);
      expect(await sessionsOf(mallory)).toEqual([]);
      await expectIntact(browser, user);
      // And from a browser without any session: still no login.
      const anonymous = new Browser(s.t.url);
      expectNoSetCookie(await anonymous.post('/login', { user: mallory }, { headers: headers() }));
      expect(await sessionsOf(mallory)).toEqual([]);
      expect((await anonymous.get('/public')).body).toEqual({ user: null });
    });

    it('refuses "log out everywhere" (a @Connected route): 403 csrf, every session of the user stays', async () => {
      const { browser, user } = await loggedIn('everywhere');
      const other = new Browser(s.t.url);
      await other.post('/login', { user });
      const before = ran();
      expectRefused(await browser.post('/logout-everywhere', {}, { headers: headers() }), before);
      expect(await sessionsOf(user)).toHaveLength(2);
      expect((await other.get('/me')).body).toEqual({ user, note: null });
    });
  });

  it('refuses the text/plain POST with a foreign Origin that 0.1 accepted (a "simple" request, no preflight)', async () => {
    const { browser, user } = await loggedIn('text-plain');
    const before = ran();
    const response = await fetch(`${s.t.url}/login`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain', cookie: browser.cookieHeader() },
      body: 'user=mallory',
    });
    expect({ status: response.status, body: (await response.json()) as unknown }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(ran()).toEqual(before);
    await expectIntact(browser, user);
  });

  it('refuses a @Connected route with 403 csrf, not 401, when there is no session either', async () => {
    const reply = await new Browser(s.t.url).post('/logout-everywhere', {}, { headers: CROSS_SITE });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED });
  });

  describe.each([
    ['Sec-Fetch-Site: same-origin', () => ({ 'sec-fetch-site': 'same-origin', origin: s.t.url })],
    ['Sec-Fetch-Site: none (typed by the user)', () => ({ 'sec-fetch-site': 'none' })],
    ['no Sec-Fetch-Site and the own Origin', () => ({ origin: s.t.url })],
    ['no Sec-Fetch-Site, the own Origin in upper case with a path', () => ({ origin: `${s.t.url.toUpperCase()}/` })],
    ['an unknown Sec-Fetch-Site and the own Origin', () => ({ 'sec-fetch-site': 'sideways', origin: s.t.url })],
    ['neither header (not a browser)', () => ({})],
  ] as const)('passes with %s', (_, headers) => {
    it.each(UNSAFE)('%s runs the handler with the session', async (method) => {
      const { browser, user } = await loggedIn(`pass-${method}`);
      const reply = await browser.request(method, '/action', { headers: headers() });
      expect({ status: reply.status, body: reply.body }).toEqual({
        status: method === 'POST' ? 201 : 200,
        body: { ran: expect.any(Number), user },
      });
    });

    it('logs in', async () => {
      const user = userName('login');
      const browser = new Browser(s.t.url);
      expect((await browser.post('/login', { user }, { headers: headers() })).status).toBe(201);
      expect((await browser.get('/me')).body).toEqual({ user, note: null });
    });
  });

  it('refuses an unknown Sec-Fetch-Site with a foreign Origin (the Origin rule decides)', async () => {
    const before = ran();
    expectRefused(
      await new Browser(s.t.url).post('/action', {}, { headers: { 'sec-fetch-site': 'sideways', origin: 'http://evil.example' } }),
      before,
    );
  });

  it('never refuses GET, HEAD or OPTIONS, even cross-site with an opaque origin', async () => {
    const { browser, user } = await loggedIn('safe');
    const hostile = { 'sec-fetch-site': 'cross-site', origin: 'null' };
    const before = ran();
    expect((await browser.get('/action', { headers: hostile })).body).toEqual({ ran: (before['GET'] ?? 0) + 1, user });
    expect((await browser.request('HEAD', '/action', { headers: hostile })).status).toBe(200);
    expect((await browser.request('OPTIONS', '/action', { headers: hostile })).body).toEqual({
      ran: (before['OPTIONS'] ?? 0) + 1,
      user,
    });
    // HEAD runs the GET handler, in both frameworks.
    expect(ran()).toEqual({ ...before, GET: (before['GET'] ?? 0) + 2, OPTIONS: (before['OPTIONS'] ?? 0) + 1 });
  });

  it('emits denied-request with reason csrf, after request and before any other decision', async () => {
    const { browser, user } = await loggedIn('events');
    const watch = watchEvents(s.t);
    try {
      expect((await browser.post('/logout-everywhere', {}, { headers: CROSS_SITE })).status).toBe(403);
      await new Browser(s.t.url).post('/action', {}, { headers: SAME_SITE });
    } finally {
      watch.stop();
    }
    const [handle] = (await sessionsOf(user)).map((info) => info.handle);
    expect(watch.events.map((event) => ({ type: event.type, reason: 'reason' in event ? event.reason : undefined }))).toEqual([
      { type: 'request', reason: undefined },
      { type: 'denied-request', reason: 'csrf' },
      { type: 'request', reason: undefined },
      { type: 'denied-request', reason: 'csrf' },
    ]);
    expect(watch.denied()[0]).toMatchObject({ transport: 'http', userId: user, session: handle });
    expect(watch.denied()[1]).not.toHaveProperty('userId');
  });
});
