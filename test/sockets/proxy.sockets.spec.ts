import type { SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { lastCookie } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { SocketPool } from '../support/clients-helpers.js';
import { startForwardingProxy, type Forwarded, type ForwardingProxy } from '../support/forwarding-proxy.js';
import { LiveGateway } from '../support/live.gateway.js';
import { openSocket, Refused, sessionSockets, SOCKET_KINDS, type SocketKind } from '../support/sockets.js';

/**
 * Behind a reverse proxy, sockets must see the request as HTTP does: the HTTP framework's trust-proxy setting decides
 * whether the request was HTTPS (and so the cookie's name, `__Host-sid` or `sid`) and the client address (`bindIp`),
 * for a socket handshake as for a routed request. Every request here goes through a real proxy (test/support/
 * forwarding-proxy.ts) that adds X-Forwarded-For and, for a TLS-terminating one, X-Forwarded-Proto: https.
 */

/** The address the proxy reports for the browser (the TCP peer the app sees is the proxy, 127.0.0.1). */
const CLIENT_IP = '203.0.113.7';
const HTTPS_PROXY: Forwarded = { for: CLIENT_IP, proto: 'https' };

// AuthController: POST /login {user}, GET /me (@Connected) → {user}. LiveGateway: whoami (@Connected) → {user}.
describe.each(ADAPTERS)('sockets behind a proxy on %s', (adapter: AdapterName) => {
  describe.each(SOCKET_KINDS)('%s', (kind: SocketKind) => {
    let counter = 0;
    const userName = (what: string) => `proxy-${adapter}-${kind}-${what}-${++counter}`;

    /** An app (trust proxy on or off) behind a proxy that adds `forwarded`; both closed after the block. */
    function behindProxy(trustProxy: boolean, forwarded: Forwarded, policy: Partial<SessionPolicy> = {}) {
      const started = {} as { t: TestApp; proxy: ForwardingProxy; pool: SocketPool };
      beforeAll(async () => {
        started.t = await startApp({
          adapter,
          trustProxy,
          policy,
          controllers: [AuthController],
          providers: [LiveGateway],
          configure: sessionSockets(kind),
        });
        started.proxy = await startForwardingProxy(started.t.url, forwarded);
        started.pool = new SocketPool(kind, () => started.proxy.url);
      });
      afterEach(() => started.pool.closeAll());
      afterAll(async () => {
        await started.proxy?.close();
        await started.t?.close();
      });
      return started;
    }

    /**
     * Logs `user` in through the proxy. The reply's session cookie must be named `cookieName`, Secure exactly when
     * it is the `__Host-` one, and be the only session cookie of the browser.
     */
    async function loginAs(proxy: ForwardingProxy, user: string, cookieName: string): Promise<Browser> {
      const browser = new Browser(proxy.url);
      const reply = await browser.post('/login', { user });
      expect(reply.status).toBe(201);
      const issued = lastCookie(reply, cookieName);
      expect(issued.value).not.toBe('');
      expect(issued.attributes['secure'] === true).toBe(cookieName.startsWith('__Host-'));
      expect([...browser.jar.keys()].filter((name) => name.endsWith('sid'))).toEqual([cookieName]);
      return browser;
    }

    async function expectConnectedOverHttp(browser: Browser, user: string): Promise<void> {
      const me = await browser.get('/me');
      expect({ status: me.status, body: me.body }).toEqual({ status: 200, body: { user } });
    }

    /** The handshake's refusal code; fails the test when the socket opened. */
    async function refusalOf(proxy: ForwardingProxy, cookie: string, origin?: string): Promise<string | undefined> {
      let socket;
      try {
        socket = await openSocket(kind, proxy.url, { cookie, ...(origin === undefined ? {} : { origin }) });
      } catch (error) {
        if (error instanceof Refused) return error.code;
        throw error;
      }
      const whoami = await socket.request('whoami');
      await socket.close();
      throw new Error(`the handshake was accepted; whoami answered ${JSON.stringify(whoami)}`);
    }

    describe('a TLS-terminating proxy, trust proxy on', () => {
      const s = behindProxy(true, HTTPS_PROXY);

      it('HTTP issues __Host-sid, and a socket carrying it is attached to the user', async () => {
        const user = userName('host');
        const browser = await loginAs(s.proxy, user, '__Host-sid');
        const socket = await s.pool.open({ cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
        await expectConnectedOverHttp(browser, user);
      });

      it('takes the https origin of Host as the handshake’s own (as the HTTP CSRF check does), not the http one', async () => {
        const user = userName('origin');
        const browser = await loginAs(s.proxy, user, '__Host-sid');
        const host = new URL(s.proxy.url).host;
        const socket = await s.pool.open({ cookie: browser.cookieHeader(), origin: `https://${host}` });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
        expect(await refusalOf(s.proxy, browser.cookieHeader(), `http://${host}`)).toBe('origin_not_allowed');
        await expectConnectedOverHttp(browser, user);
      });

      it('refuses a plain sid cookie (the name HTTP ignores over HTTPS) on the socket as on HTTP', async () => {
        const user = userName('plain');
        const browser = await loginAs(s.proxy, user, '__Host-sid');
        const plain = `sid=${encodeURIComponent(browser.jar.get('__Host-sid')!)}`;
        // HTTP does not read `sid` over HTTPS: a cookie planted under that name never names a session.
        expect((await browser.get('/me', { cookie: plain })).status).toBe(401);
        expect(await refusalOf(s.proxy, plain)).toBe('unauthenticated');
        await expectConnectedOverHttp(browser, user);
      });
    });

    describe.each([
      ['a TLS-terminating proxy', HTTPS_PROXY, '__Host-sid'],
      ['a plain HTTP proxy', { for: CLIENT_IP }, 'sid'],
    ] as const)('bindIp behind %s, without a clientIp option', (_, forwarded, cookieName) => {
      const s = behindProxy(true, forwarded, { bindIp: true });

      it('admits the socket from the address that logged in, and the HTTP session lives on', async () => {
        const user = userName('bind');
        const browser = await loginAs(s.proxy, user, cookieName);
        const socket = await s.pool.open({ cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
        await expectConnectedOverHttp(browser, user);
      });

      it('refuses a socket that the proxy reports from another address, and ends the session, as HTTP does', async () => {
        const user = userName('moved');
        const browser = await loginAs(s.proxy, user, cookieName);
        const elsewhere = await startForwardingProxy(s.t.url, { ...forwarded, for: '198.51.100.9' });
        try {
          expect(await refusalOf(elsewhere, browser.cookieHeader())).toBe('unauthenticated');
        } finally {
          await elsewhere.close();
        }
        expect((await browser.get('/me')).status).toBe(401);
      });
    });

    describe('the same proxy, trust proxy off: the X-Forwarded-* headers count for nothing', () => {
      const s = behindProxy(false, HTTPS_PROXY, { bindIp: true });

      it('HTTP issues sid, a socket carrying it is attached, and one carrying only __Host-sid is refused', async () => {
        const user = userName('untrusted');
        const browser = await loginAs(s.proxy, user, 'sid');
        const socket = await s.pool.open({ cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
        const hostOnly = `__Host-sid=${encodeURIComponent(browser.jar.get('sid')!)}`;
        expect(await refusalOf(s.proxy, hostOnly)).toBe('unauthenticated');
        await expectConnectedOverHttp(browser, user);
      });

      it('takes the http origin of Host as the handshake’s own: X-Forwarded-Proto does not make it https', async () => {
        const user = userName('untrusted-origin');
        const browser = await loginAs(s.proxy, user, 'sid');
        const host = new URL(s.proxy.url).host;
        const socket = await s.pool.open({ cookie: browser.cookieHeader(), origin: `http://${host}` });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
        expect(await refusalOf(s.proxy, browser.cookieHeader(), `https://${host}`)).toBe('origin_not_allowed');
        await expectConnectedOverHttp(browser, user);
      });
    });
  });
});
