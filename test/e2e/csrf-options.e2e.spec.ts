import { SessionModule, type SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, SECRET, startApp, startForBlock, startWithStore, type AdapterName } from '../support/app.js';
import { expectNoSetCookie } from '../support/auth-helpers.js';
import { Browser } from '../support/browser.js';
import { CROSS_ORIGIN_REFUSED, CROSS_SITE, CSRF_CONTROLLERS, CSRF_PROVIDERS, CsrfLedger, SAME_SITE } from '../support/csrf-routes.js';

/** `policy.csrf` and the settings around it: the own origin behind a proxy, trusted origins, off, `policy.denied`. */
describe.each(ADAPTERS)('CSRF options on %s', (adapter: AdapterName) => {
  let counter = 0;
  const userName = (what: string) => `csrf-options-${adapter}-${what}-${++counter}`;
  const start = (policy: Partial<SessionPolicy>, trustProxy = false) =>
    startForBlock(() => startWithStore({ adapter, policy, trustProxy, controllers: CSRF_CONTROLLERS, providers: CSRF_PROVIDERS }));

  /** POST /action as a logged-in user with `headers`: the status, and whether the handler ran. */
  async function postAs(url: string, ledger: CsrfLedger, headers: Record<string, string>, common: Record<string, string> = {}) {
    const browser = new Browser(url, common);
    const user = userName('user');
    await browser.post('/login', { user });
    const before = ledger.ran['POST'] ?? 0;
    const reply = await browser.post('/action', {}, { headers });
    return { status: reply.status, body: reply.body, ran: (ledger.ran['POST'] ?? 0) - before, user };
  }

  describe.each([
    ['trust proxy on: X-Forwarded-Proto https makes the https origin the own one', true, 'https', 'http'],
    ['trust proxy off: X-Forwarded-Proto counts for nothing, the http origin is the own one', false, 'http', 'https'],
  ] as const)('%s', (_, trustProxy, own, other) => {
    const s = start({}, trustProxy);
    const originOf = (scheme: string) => `${scheme}://${new URL(s.t.url).host}`;

    it(`passes Origin ${own}://host and refuses ${other}://host`, async () => {
      const ledger = s.t.app.get(CsrfLedger);
      const forwarded = { 'x-forwarded-proto': 'https' };
      const passed = await postAs(s.t.url, ledger, { origin: originOf(own) }, forwarded);
      expect(passed).toEqual({ status: 201, body: { ran: expect.any(Number), user: passed.user }, ran: 1, user: passed.user });
      const refused = await postAs(s.t.url, ledger, { origin: originOf(other) }, forwarded);
      expect({ status: refused.status, body: refused.body, ran: refused.ran }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED, ran: 0 });
    });
  });

  describe('trustedOrigins', () => {
    const s = start({ csrf: { trustedOrigins: ['https://Admin.Example.test/', 'http://partner.example:8080'] } });

    it.each([
      ['a listed origin, Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site', origin: 'https://admin.example.test' }],
      ['a listed origin, Sec-Fetch-Site same-site', { 'sec-fetch-site': 'same-site', origin: 'http://partner.example:8080' }],
      ['a listed origin, no Sec-Fetch-Site', { origin: 'http://partner.example:8080' }],
    ])('passes %s', async (_, headers) => {
      const result = await postAs(s.t.url, s.t.app.get(CsrfLedger), headers);
      expect({ status: result.status, ran: result.ran }).toEqual({ status: 201, ran: 1 });
    });

    it.each([
      ['an unlisted origin', CROSS_SITE],
      ['a listed host on another port', { origin: 'http://partner.example:8081' }],
      ['a listed host with the other scheme', { 'sec-fetch-site': 'cross-site', origin: 'http://admin.example.test' }],
      ['Sec-Fetch-Site cross-site without Origin', { 'sec-fetch-site': 'cross-site' }],
    ])('refuses %s', async (_, headers) => {
      const result = await postAs(s.t.url, s.t.app.get(CsrfLedger), headers);
      expect({ status: result.status, body: result.body, ran: result.ran }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED, ran: 0 });
    });
  });

  describe('csrf: false', () => {
    const s = start({ csrf: false });

    it('lets cross-site and same-site requests through, login included (the application defends itself)', async () => {
      const ledger = s.t.app.get(CsrfLedger);
      for (const headers of [CROSS_SITE, SAME_SITE, { origin: 'null' }]) {
        const result = await postAs(s.t.url, ledger, headers);
        expect({ status: result.status, ran: result.ran }).toEqual({ status: 201, ran: 1 });
      }
      const mallory = userName('mallory');
      const browser = new Browser(s.t.url);
      expect((await browser.post('/login', { user: mallory }, { headers: CROSS_SITE })).status).toBe(201);
      expect((await browser.get('/public')).body).toEqual({ user: mallory });
    });
  });

  describe('with policy.denied (a redirect to a login page for 401 and 403)', () => {
    const s = start({ denied: { status: 302, headers: { Location: '/login-page' } } });

    it('still answers a CSRF refusal with 403 csrf and no redirect, and 401s still redirect', async () => {
      const browser = new Browser(s.t.url);
      const reply = await browser.post('/action', {}, { headers: CROSS_SITE });
      expect({ status: reply.status, body: reply.body, location: reply.headers.get('location') }).toEqual({
        status: 403,
        body: CROSS_ORIGIN_REFUSED,
        location: null,
      });
      expectNoSetCookie(reply);
      const denied = await browser.get('/me');
      expect({ status: denied.status, location: denied.headers.get('location') }).toEqual({ status: 302, location: '/login-page' });
    });
  });

  it.each([
    [{ csrf: true }, 'csrf'],
    [{ csrf: null }, 'csrf'],
    [{ csrf: { trustedOrigins: 'https://a.example' } }, 'csrf.trustedOrigins'],
    [{ csrf: { trustedOrigins: ['https://a.example', 'a.example'] } }, 'csrf.trustedOrigins[1]'],
    [{ csrf: { trustedOrigins: ['null'] } }, 'csrf.trustedOrigins[0]'],
    [{ csrf: { trustedOrigins: ['https://a.example/app'] } }, 'csrf.trustedOrigins[0]'],
    [{ csrf: { token: 'yes' } }, 'csrf.token'],
    [{ csrf: { header: 'x csrf' } }, 'csrf.header'],
    [{ csrf: { header: '' } }, 'csrf.header'],
  ])('refuses %j at start-up, naming %s', async (policy, option) => {
    const started = startApp({ adapter, standalone: true, imports: [SessionModule.forRoot({ secret: SECRET, ...(policy as object) })] });
    await expect(started).rejects.toThrow(`nestjs-connected: policy option '${option}'`);
  });

  it('starts with the default (on) when csrf is omitted, and with {} spelled out', async () => {
    for (const policy of [{}, { csrf: {} }]) {
      const t = await startApp({ adapter, policy, controllers: CSRF_CONTROLLERS, providers: CSRF_PROVIDERS });
      try {
        const reply = await new Browser(t.url).post('/action', {}, { headers: CROSS_SITE });
        expect({ status: reply.status, body: reply.body }).toEqual({ status: 403, body: CROSS_ORIGIN_REFUSED });
      } finally {
        await t.close();
      }
    }
  });
});
