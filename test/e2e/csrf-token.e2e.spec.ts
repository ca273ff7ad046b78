import { SessionService } from '../../lib/index.js';
import { ADAPTERS, startForBlock, startWithStore, type AdapterName } from '../support/app.js';
import { expectNoSetCookie } from '../support/auth-helpers.js';
import { Browser, type Reply } from '../support/browser.js';
import {
  CROSS_ORIGIN_REFUSED,
  CROSS_SITE,
  CSRF_CONTROLLERS,
  CSRF_PROVIDERS,
  CsrfLedger,
  TOKEN_REFUSED,
  watchEvents,
} from '../support/csrf-routes.js';

/**
 * `policy.csrf.token`: an unsafe request that carries a session must carry `csrfToken()` of that session in the
 * header. Tokens are masked (two calls differ, both verify) and die with the session id.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{86}$/;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe.each(ADAPTERS)('CSRF token on %s', (adapter: AdapterName) => {
  let counter = 0;
  const userName = (what: string) => `csrf-token-${adapter}-${what}-${++counter}`;
  const s = startForBlock(() =>
    startWithStore({ adapter, policy: { csrf: { token: true } }, controllers: CSRF_CONTROLLERS, providers: CSRF_PROVIDERS }),
  );
  const ran = () => ({ ...s.t.app.get(CsrfLedger).ran });
  const tokenOf = async (browser: Browser): Promise<string> => (await browser.get('/csrf-token')).body.token;
  const withToken = (token: string) => ({ headers: { 'x-csrf-token': token } });

  /** A browser logged in (a request without a session cookie needs no token) with a note set under its token. */
  async function loggedIn(what: string): Promise<{ browser: Browser; user: string; token: string }> {
    const user = userName(what);
    const browser = new Browser(s.t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    const token = await tokenOf(browser);
    expect((await browser.post('/note', { note: 'kept' }, withToken(token))).status).toBe(201);
    return { browser, user, token };
  }

  /** Refused by the token check: status, body, no cookie, the handler did not run, the session and its note kept. */
  async function expectTokenRefused(reply: Reply, browser: Browser, user: string, before: Record<string, number>): Promise<void> {
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
    expectNoSetCookie(reply);
    expect(ran()).toEqual(before);
    expect((await browser.get('/me')).body).toEqual({ user, note: 'kept' });
  }

  it('refuses an unsafe request that carries the session cookie but no token', async () => {
    const { browser, user } = await loggedIn('missing');
    const before = ran();
    await expectTokenRefused(await browser.post('/note', { note: 'overwritten' }), browser, user, before);
    await expectTokenRefused(await browser.request('DELETE', '/action'), browser, user, before);
  });

  it('refuses wrong tokens: random, altered, another spelling of the same bytes, truncated, doubled, empty', async () => {
    const { browser, user, token } = await loggedIn('wrong');
    const last = BASE64URL.indexOf(token[85]!);
    const wrong = [
      (await new Browser(s.t.url).get('/csrf-token')).body.token, // the shape of a token, of no session
      `${token.slice(0, 40)}${token[40] === 'A' ? 'B' : 'A'}${token.slice(41)}`,
      `${token.slice(0, 85)}${BASE64URL[last ^ 1]}`, // the last character's unused bits
      token.slice(0, 85),
      `${token},${token}`,
      '',
    ];
    const before = ran();
    for (const given of wrong) {
      await expectTokenRefused(await browser.post('/action', {}, withToken(given)), browser, user, before);
    }
  });

  it("refuses another session's token: another user's, and the same user's other session", async () => {
    const alice = await loggedIn('alice');
    const bob = await loggedIn('bob');
    const aliceElsewhere = new Browser(s.t.url);
    await aliceElsewhere.post('/login', { user: alice.user });
    const before = ran();
    await expectTokenRefused(await alice.browser.post('/action', {}, withToken(bob.token)), alice.browser, alice.user, before);
    const elsewhere = await aliceElsewhere.post('/action', {}, withToken(alice.token));
    expect({ status: elsewhere.status, body: elsewhere.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
    expect(ran()).toEqual(before);
  });

  it('passes the right token; two calls give different tokens and both verify', async () => {
    const { browser, user, token } = await loggedIn('right');
    const second = await tokenOf(browser);
    expect([token, second]).toEqual([expect.stringMatching(TOKEN_SHAPE), expect.stringMatching(TOKEN_SHAPE)]);
    expect(second).not.toBe(token);
    for (const given of [second, token, second]) {
      const reply = await browser.post('/action', {}, withToken(given));
      expect({ status: reply.status, user: reply.body.user }).toEqual({ status: 201, user });
    }
  });

  it('a token dies with its session id: a login rotates it, csrfToken() after connect() gives the new one', async () => {
    const browser = new Browser(s.t.url);
    expect((await browser.post('/cart', { item: 'tea' })).status).toBe(201); // no session cookie yet: no token needed
    const anonymous = await tokenOf(browser);
    expect((await browser.post('/cart', { item: 'ink' }, withToken(anonymous))).status).toBe(201);
    const user = userName('rotated');
    const login = await browser.post('/login-token', { user }, withToken(anonymous));
    expect(login.status).toBe(201);
    expect(login.body.before).toMatch(TOKEN_SHAPE);
    const before = ran();
    for (const old of [anonymous, login.body.before]) {
      const reply = await browser.post('/cart', { item: 'planted' }, withToken(old));
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
    }
    expect(ran()).toEqual(before);
    expect((await browser.post('/note', { note: 'new' }, withToken(login.body.token))).status).toBe(201);
    // A second login (of the same user) rotates it again.
    const again = await browser.post('/login', { user }, withToken(login.body.token));
    expect(again.status).toBe(201);
    const stale = await browser.post('/note', { note: 'stale' }, withToken(login.body.token));
    expect({ status: stale.status, body: stale.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
  });

  it('a logout that keeps browser data moves it to a new session id: the old token is dead there too', async () => {
    const browser = new Browser(s.t.url);
    await browser.post('/cart', { item: 'tea' });
    await browser.post('/login', { user: userName('logout') }, withToken(await tokenOf(browser)));
    const connected = await tokenOf(browser);
    expect((await browser.post('/logout', {}, withToken(connected))).status).toBe(201);
    const reply = await browser.post('/cart', { item: 'planted' }, withToken(connected));
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
    expect((await browser.post('/cart', { item: 'ink' }, withToken(await tokenOf(browser)))).status).toBe(201);
  });

  it('needs no token without a session cookie; csrfToken() there is a token that no session accepts', async () => {
    const browser = new Browser(s.t.url);
    const sessionless = await tokenOf(browser);
    expect(sessionless).toMatch(TOKEN_SHAPE);
    expect((await browser.post('/action')).body).toEqual({ ran: expect.any(Number), user: null });
    const user = userName('sessionless');
    expect((await browser.post('/login', { user }, withToken('not even a token'))).status).toBe(201);
    const reply = await browser.post('/action', {}, withToken(sessionless));
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
  });

  it('checks the origin first: a cross-site request with the right token is refused as cross-origin', async () => {
    const { browser, token } = await loggedIn('cross');
    const reply = await browser.post('/action', {}, { headers: { ...CROSS_SITE, 'x-csrf-token': token } });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED });
  });

  it('never asks GET for a token', async () => {
    const { browser, user } = await loggedIn('get');
    expect((await browser.get('/action')).body).toEqual({ ran: expect.any(Number), user });
  });

  it('@CsrfExempt on a method turns both checks off for it alone', async () => {
    const { browser, user } = await loggedIn('hook');
    const hook = await browser.post('/hook', {}, { headers: CROSS_SITE });
    expect({ status: hook.status, body: hook.body }).toEqual({ status: 201, body: { ran: expect.any(Number), user } });
    const sibling = await browser.post('/not-hook');
    expect({ status: sibling.status, body: sibling.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
  });

  it('@CsrfExempt on a controller turns both checks off for all its handlers, @Connected ones included', async () => {
    const { browser } = await loggedIn('exempt');
    const before = ran();
    expect((await browser.post('/exempt/a', {}, { headers: CROSS_SITE })).status).toBe(201);
    expect((await browser.request('DELETE', '/exempt/b', { headers: CROSS_SITE })).status).toBe(200);
    expect(ran()).toEqual({ ...before, 'exempt/a': (before['exempt/a'] ?? 0) + 1, 'exempt/b': (before['exempt/b'] ?? 0) + 1 });
  });

  it('emits denied-request with reason csrf for a refused token, with the session', async () => {
    const { browser, user } = await loggedIn('events');
    const watch = watchEvents(s.t);
    try {
      expect((await browser.post('/action')).status).toBe(403);
    } finally {
      watch.stop();
    }
    const [info] = await s.t.app.get(SessionService).listSessions(user);
    expect(watch.denied()).toEqual([
      expect.objectContaining({ type: 'denied-request', reason: 'csrf', userId: user, session: info!.handle }),
    ]);
  });

  describe('with a header of its own', () => {
    const c = startForBlock(() =>
      startWithStore({
        adapter,
        policy: { csrf: { token: true, header: 'X-XSRF-Token' } },
        controllers: CSRF_CONTROLLERS,
        providers: CSRF_PROVIDERS,
      }),
    );

    it('reads the token there, and only there', async () => {
      const browser = new Browser(c.t.url);
      await browser.post('/login', { user: userName('header') });
      const token = (await browser.get('/csrf-token')).body.token;
      const wrongHeader = await browser.post('/action', {}, { headers: { 'x-csrf-token': token } });
      expect({ status: wrongHeader.status, body: wrongHeader.body }).toEqual({ status: 403, body: TOKEN_REFUSED });
      expect((await browser.post('/action', {}, { headers: { 'x-xsrf-token': token } })).status).toBe(201);
    });
  });
});
