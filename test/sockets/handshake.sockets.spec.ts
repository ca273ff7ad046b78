import type { ModuleMetadata } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { MemoryStore, SessionPolicy } from '../../lib/index.js';
import type { SessionSocketOptions } from '../../lib/transports/socket/session-socket.options.js';
import { ADAPTERS, SECRET, startApp, startWithStore, type AdapterName, type StoreApp, type TestApp } from '../support/app.js';
import { idOf, signWith } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { FaultyStore, waitUntil } from '../support/lifecycle-helpers.js';
import { LiveGateway } from '../support/live.gateway.js';
import {
  openSocket,
  Refused,
  sessionSockets,
  SOCKET_KINDS,
  type OpenOptions,
  type SocketKind,
  type TestSocket,
} from '../support/sockets.js';

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
// LiveGateway: whoami (@Connected), admin (allow admin, deny banned), maybe (optional), public (no guard), ...
const OTHER_SECRET = 'another-secret-that-is-long-enough-abcdefghij';
const GROUPS: Record<string, readonly string[]> = { root: ['admin'], mallory: ['admin', 'banned'] };
const groups = (user: string) => GROUPS[user] ?? [];

/** A gateway of its own (socket.io namespace `/open`) whose `session` options let anonymous sockets in. */
@WebSocketGateway({ namespace: '/open', session: { allowAnonymous: true } })
class OpenIoGateway {
  @SubscribeMessage('open-ping')
  ping() {
    return { event: 'open-ping', data: { ok: true } };
  }
}

/** The same for ws: a server of its own on the path `/open`. */
@WebSocketGateway({ path: '/open', session: { allowAnonymous: true } })
class OpenWsGateway {
  @SubscribeMessage('open-ping')
  ping() {
    return { event: 'open-ping', data: { ok: true } };
  }
}

/** An upgrade answered over raw HTTP: the status, headers and body a browser would see for a refused ws handshake. */
interface UpgradeReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function rawUpgrade(url: string, path: string, headers: Record<string, string> = {}): Promise<UpgradeReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url + path, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(ADAPTERS)('socket handshakes on %s', (adapter: AdapterName) => {
  describe.each(SOCKET_KINDS)('%s', (kind: SocketKind) => {
    /** Sockets a test opened; each is closed after the test. */
    const opened: TestSocket[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((socket) => socket.close()));
    });

    async function connect(url: string, options?: OpenOptions): Promise<TestSocket> {
      const socket = await openSocket(kind, url, options);
      opened.push(socket);
      return socket;
    }

    /** The handshake's refusal; fails the test when the socket opened. */
    async function refusal(url: string, options?: OpenOptions): Promise<Refused> {
      let socket: TestSocket;
      try {
        socket = await openSocket(kind, url, options);
      } catch (error) {
        if (error instanceof Refused) return error;
        throw error;
      }
      opened.push(socket);
      throw new Error('the handshake was accepted');
    }

    async function expectRefused(url: string, options: OpenOptions | undefined, code: string, status: number): Promise<void> {
      const refused = await refusal(url, options);
      expect(refused.code).toBe(code);
      if (kind === 'ws') expect(refused.status).toBe(status);
    }

    function start(
      policy: Partial<SessionPolicy> = {},
      options?: SessionSocketOptions,
      providers: ModuleMetadata['providers'] = [LiveGateway],
    ): Promise<StoreApp> {
      return startWithStore({ adapter, controllers: [AuthController], providers, policy, configure: sessionSockets(kind, options) });
    }

    async function login(t: TestApp, user: string): Promise<Browser> {
      const browser = new Browser(t.url);
      expect((await browser.post('/login', { user })).status).toBe(201);
      return browser;
    }

    async function expectStillConnected(browser: Browser, user: string): Promise<void> {
      const me = await browser.get('/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user });
    }

    describe('with the default options', () => {
      let t: TestApp;
      let store: MemoryStore;
      let victim: Browser;
      beforeAll(async () => {
        ({ t, store } = await start());
        victim = await login(t, 'victim');
      });
      afterAll(() => t.close());

      it('refuses a handshake without a cookie as unauthenticated', async () => {
        await expectRefused(t.url, {}, 'unauthenticated', 401);
        expect(store.size).toBe(1);
      });

      it('refuses a cookie signed with another secret, and leaves the real session alone', async () => {
        const forged = `sid=${signWith(OTHER_SECRET, idOf(victim.jar.get('sid')!))}`;
        await expectRefused(t.url, { cookie: forged }, 'unauthenticated', 401);
        await expectRefused(t.url, { cookie: `sid=${signWith(OTHER_SECRET)}` }, 'unauthenticated', 401);
        expect(store.size).toBe(1);
        await expectStillConnected(victim, 'victim');
      });

      it('refuses a well-formed, correctly signed cookie that names no session', async () => {
        await expectRefused(t.url, { cookie: `sid=${signWith(SECRET)}` }, 'unauthenticated', 401);
        expect(store.size).toBe(1);
        await expectStillConnected(victim, 'victim');
      });

      it.each([
        ['bad percent-encoding and a bare name', 'sid=%E0%A4%A; sid'],
        ['bad percent-encoding', 'sid=%E0%A4%A'],
        ['non-ASCII bytes', 'sid=\u00e9\u00ff\u00fe; other=\u00a0'],
        ['a lone separator soup', ';;; = ;=;'],
      ])('refuses a malformed Cookie header (%s) and keeps serving', async (_, cookie) => {
        await expectRefused(t.url, { cookie }, 'unauthenticated', 401);
        expect(store.size).toBe(1);
        const publicReply = await new Browser(t.url).get('/public');
        expect(publicReply.status).toBe(200);
        expect(publicReply.body).toEqual({ user: null });
        await expectStillConnected(victim, 'victim');
        const socket = await connect(t.url, { cookie: victim.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'victim' } });
      });

      it('refuses a foreign Origin even with a valid cookie, and admits the same origin', async () => {
        const cookie = victim.cookieHeader();
        await expectRefused(t.url, { cookie, origin: 'http://evil.example' }, 'origin_not_allowed', 403);
        // The host's name with another port, and the opaque origin of a sandboxed page, are foreign too.
        await expectRefused(t.url, { cookie, origin: 'http://127.0.0.1:1' }, 'origin_not_allowed', 403);
        await expectRefused(t.url, { cookie, origin: 'null' }, 'origin_not_allowed', 403);
        expect(store.size).toBe(1);
        await expectStillConnected(victim, 'victim');

        const same = await connect(t.url, { cookie, origin: t.url });
        expect(await same.request('whoami')).toEqual({ event: 'whoami', data: { user: 'victim' } });
        // No Origin at all: a non-browser client, which no other site can drive.
        const none = await connect(t.url, { cookie });
        expect(await none.request('whoami')).toEqual({ event: 'whoami', data: { user: 'victim' } });
      });

      if (kind === 'ws') {
        it('answers a refused upgrade with a real HTTP status, the x-session-refusal header and a JSON body', async () => {
          const anonymous = await rawUpgrade(t.url, '/');
          expect(anonymous.status).toBe(401);
          expect(anonymous.headers['x-session-refusal']).toBe('unauthenticated');
          expect(anonymous.headers['content-type']).toBe('application/json');
          expect(JSON.parse(anonymous.body)).toEqual({ code: 'unauthenticated', message: 'Not connected' });

          const foreign = await rawUpgrade(t.url, '/', { cookie: victim.cookieHeader(), origin: 'http://evil.example' });
          expect(foreign.status).toBe(403);
          expect(foreign.headers['x-session-refusal']).toBe('origin_not_allowed');
          expect(JSON.parse(foreign.body)).toEqual({ code: 'origin_not_allowed', message: 'Origin not allowed' });

          const admitted = await rawUpgrade(t.url, '/', { cookie: victim.cookieHeader() });
          expect(admitted.status).toBe(101);
        });
      }
    });

    describe('an expired session', () => {
      let t: TestApp;
      let store: MemoryStore;
      beforeAll(async () => {
        ({ t, store } = await start({ idleTimeout: 1 }));
      });
      afterAll(() => t.close());

      it('is refused as unauthenticated once its idle timeout passed', async () => {
        const before = Date.now();
        const browser = await login(t, 'sleepy');
        // Right after login the cookie opens a socket.
        const fresh = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await fresh.request('whoami')).toEqual({ event: 'whoami', data: { user: 'sleepy' } });
        await fresh.close();
        // Past the 1 s idle timeout (the socket above sent one message, well within the first second).
        await waitUntil(() => Date.now() > before + 1500, 5000, 'the idle timeout to pass');
        await expectRefused(t.url, { cookie: browser.cookieHeader() }, 'unauthenticated', 401);
        expect(store.size).toBe(0);
        expect((await browser.get('/me')).status).toBe(401);
      });
    });

    describe('allowedOrigins', () => {
      let t: TestApp;
      let browser: Browser;
      beforeAll(async () => {
        ({ t } = await start({}, { allowedOrigins: ['http://app.example'] }));
        browser = await login(t, 'ann');
      });
      afterAll(() => t.close());

      it('admits a listed origin and refuses every other one, the host’s own included', async () => {
        const cookie = browser.cookieHeader();
        const listed = await connect(t.url, { cookie, origin: 'http://app.example' });
        expect(await listed.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        await expectRefused(t.url, { cookie, origin: t.url }, 'origin_not_allowed', 403);
        await expectRefused(t.url, { cookie, origin: 'http://evil.example' }, 'origin_not_allowed', 403);
        await expectRefused(t.url, { cookie, origin: 'https://app.example' }, 'origin_not_allowed', 403);
        const none = await connect(t.url, { cookie });
        expect(await none.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        await expectStillConnected(browser, 'ann');
      });
    });

    describe('allowAnonymous', () => {
      let t: TestApp;
      let store: MemoryStore;
      beforeAll(async () => {
        ({ t, store } = await start({}, { allowAnonymous: true }));
      });
      afterAll(() => t.close());

      it('lets a cookieless socket in, without a user and without creating a session', async () => {
        const socket = await connect(t.url);
        expect(await socket.request('whoami')).toEqual({
          event: 'exception',
          data: { status: 'error', code: 'unauthenticated', message: 'Not connected' },
        });
        expect(socket.isOpen).toBe(true);
        expect(await socket.request('public')).toEqual({ event: 'public', data: { user: null } });
        expect(await socket.request('maybe')).toEqual({ event: 'maybe', data: { user: null } });
        expect(store.size).toBe(0);
      });

      it('still knows the user of a socket with a session', async () => {
        const browser = await login(t, 'ann');
        const socket = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        expect(await socket.request('maybe')).toEqual({ event: 'maybe', data: { user: 'ann' } });
      });

      it('still refuses a foreign origin', async () => {
        await expectRefused(t.url, { origin: 'http://evil.example' }, 'origin_not_allowed', 403);
      });
    });

    describe('allow and deny groups at the handshake', () => {
      let t: TestApp;
      let store: MemoryStore;
      beforeAll(async () => {
        ({ t, store } = await start({ groups }, { allow: ['admin'], deny: ['banned'] }));
      });
      afterAll(() => t.close());

      it('refuses a user outside the allowed groups as forbidden, and leaves the session alone', async () => {
        const ann = await login(t, 'ann');
        await expectRefused(t.url, { cookie: ann.cookieHeader() }, 'forbidden', 403);
        await expectStillConnected(ann, 'ann');
        expect(store.size).toBe(1);
      });

      it('refuses a member of a denied group even when allowed (deny wins)', async () => {
        const mallory = await login(t, 'mallory');
        await expectRefused(t.url, { cookie: mallory.cookieHeader() }, 'forbidden', 403);
        await expectStillConnected(mallory, 'mallory');
      });

      it('admits an allowed user', async () => {
        const root = await login(t, 'root');
        const socket = await connect(t.url, { cookie: root.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'root' } });
        expect(await socket.request('admin')).toEqual({ event: 'admin', data: { ok: true } });
      });

      it('refuses a socket without a session as unauthenticated, not forbidden', async () => {
        await expectRefused(t.url, {}, 'unauthenticated', 401);
      });
    });

    describe('a sick session store', () => {
      let t: TestApp;
      const store = new FaultyStore();
      let browser: Browser;
      beforeAll(async () => {
        t = await startApp({
          adapter,
          controllers: [AuthController],
          providers: [LiveGateway],
          policy: { store, storeTimeout: 200 },
          configure: sessionSockets(kind),
        });
        browser = await login(t, 'ann');
      });
      afterEach(() => {
        store.mode = 'ok';
      });
      afterAll(() => t.close());

      it.each(['reject', 'hang'] as const)('refuses with store_unavailable (ws: 503) when the store calls %s', async (mode) => {
        store.mode = mode;
        await expectRefused(t.url, { cookie: browser.cookieHeader() }, 'store_unavailable', 503);
        store.mode = 'ok';
        // Nothing was lost: the session is still there for HTTP and for a new socket.
        await expectStillConnected(browser, 'ann');
        const socket = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
      });

      it('refuses a socket without a cookie as unauthenticated, without asking the store', async () => {
        store.mode = 'reject';
        const before = store.calls['get'] ?? 0;
        await expectRefused(t.url, {}, 'unauthenticated', 401);
        expect(store.calls['get'] ?? 0).toBe(before);
      });

      if (kind === 'ws') {
        it('answers the refused upgrade with a 503 and a JSON body', async () => {
          store.mode = 'reject';
          const reply = await rawUpgrade(t.url, '/', { cookie: browser.cookieHeader() });
          expect(reply.status).toBe(503);
          expect(reply.headers['x-session-refusal']).toBe('store_unavailable');
          expect(JSON.parse(reply.body)).toEqual({ code: 'store_unavailable', message: 'Session store unavailable' });
        });
      }
    });

    describe('bindIp', () => {
      let t: TestApp;
      let store: MemoryStore;
      beforeAll(async () => {
        ({ t, store } = await start(
          { bindIp: true },
          // The tests pretend to come from elsewhere with `?ip=`; without it, the TCP peer address (the default).
          { clientIp: (request) => new URL(request.url ?? '/', 'http://localhost').searchParams.get('ip') ?? request.socket.remoteAddress },
        ));
      });
      afterAll(() => t.close());

      it('admits a socket from the address that logged in (127.0.0.1 on HTTP and on the socket)', async () => {
        const browser = await login(t, 'ann');
        const socket = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        await expectStillConnected(browser, 'ann');
      });

      it('refuses a socket from another address and ends the session, as HTTP does', async () => {
        const browser = await login(t, 'moving');
        const sessions = store.size;
        const first = await connect(t.url, { cookie: browser.cookieHeader() });
        await expectRefused(t.url, { cookie: browser.cookieHeader(), path: '/?ip=203.0.113.9' }, 'unauthenticated', 401);
        expect(store.size).toBe(sessions - 1);
        expect((await browser.get('/me')).status).toBe(401);
        // The socket the session already had is closed with it.
        expect((await first.ended).reason).toBe('session_closed');
      });
    });

    // Nest makes one server per path (socket.io: namespaces on it) in the order it meets the gateways: both orders.
    describe.each(['after', 'before'])('a gateway with its own session options, listed %s the shared one', (order) => {
      let t: TestApp;
      beforeAll(async () => {
        const open = kind === 'ws' ? OpenWsGateway : OpenIoGateway;
        ({ t } = await start({}, {}, order === 'after' ? [LiveGateway, open] : [open, LiveGateway]));
      });
      afterAll(() => t.close());

      it('applies them to its own server only', async () => {
        const open = await connect(t.url, { path: '/open' });
        expect(await open.request('open-ping')).toEqual({ event: 'open-ping', data: { ok: true } });
        await expectRefused(t.url, {}, 'unauthenticated', 401);
        const browser = await login(t, 'ann');
        const live = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await live.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
      });
    });
  });
});
