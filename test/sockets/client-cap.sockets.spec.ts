import { WebSocketGateway } from '@nestjs/websockets';
import type { SessionPolicy } from '../../lib/index.js';
import { storeKeyOf } from '../../lib/session/session-id.js';
import { SessionIoAdapter } from '../../lib/transports/socket-io/session-io.adapter.js';
import type { SessionSocketOptions } from '../../lib/transports/socket/session-socket.options.js';
import { SessionWsAdapter } from '../../lib/transports/ws/session-ws.adapter.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { idOf } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';
import { login, registryOf, SocketPool } from '../support/clients-helpers.js';
import { GatedStore } from '../support/gated-store.js';
import { waitUntil } from '../support/lifecycle-helpers.js';
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

// AuthController: POST /login {user}, GET /me (@Connected) → {user}. CartController: POST /cart {item} (no guard)
// opens an anonymous session. LiveGateway: whoami (@Connected) → {user}, public (no guard) → {user | null}.

/** A gateway whose own `session` options carry a bad cap: the app must not start. */
@WebSocketGateway({ session: { maxClientsPerSession: 0 } })
class BadCapGateway {}

/** The store key of a browser's session (what the registry counts by). */
function sessionKeyOf(browser: Browser): string {
  const cookie = browser.jar.get('sid');
  if (cookie === undefined) throw new Error('the browser has no session cookie');
  return storeKeyOf(idOf(cookie));
}

/**
 * A session may hold at most `maxClientsPerSession` live sockets on a server (default 50): past it the handshake is
 * refused with `too_many_clients` (socket.io `connect_error` data.code; ws HTTP 429 and `x-session-refusal`).
 */
describe.each(ADAPTERS)('sockets per session on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind: SocketKind) => {
    let counter = 0;
    const user = () => `cap-${adapter}-${kind}-${++counter}`;

    function start(options: SessionSocketOptions, policy: Partial<SessionPolicy> = {}): Promise<TestApp> {
      return startApp({
        adapter,
        controllers: [AuthController, CartController],
        providers: [LiveGateway],
        policy,
        configure: sessionSockets(kind, options),
      });
    }

    /** The handshake's refusal; fails the test when the socket opened. */
    async function refusal(url: string, options: OpenOptions): Promise<Refused> {
      let socket: TestSocket;
      try {
        socket = await openSocket(kind, url, options);
      } catch (error) {
        if (error instanceof Refused) return error;
        throw error;
      }
      await socket.close();
      throw new Error('the handshake was accepted');
    }

    async function expectTooMany(url: string, options: OpenOptions): Promise<void> {
      const refused = await refusal(url, options);
      expect(refused.code).toBe('too_many_clients');
      if (kind === 'ws') expect(refused.status).toBe(429);
    }

    async function expectWhoami(socket: TestSocket, id: string): Promise<void> {
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: id } });
    }

    describe('with maxClientsPerSession: 3', () => {
      let t: TestApp;
      const pool = new SocketPool(kind, () => t.url);
      beforeAll(async () => {
        t = await start({ maxClientsPerSession: 3, allowAnonymous: true });
      });
      afterEach(() => pool.closeAll());
      afterAll(() => t.close());

      /** Waits until the server holds `n` sockets of the session (a socket closed by its client leaves a bit later). */
      const held = (browser: Browser, n: number) =>
        waitUntil(() => registryOf(t.app).count(sessionKeyOf(browser)) === n, 10_000, `${n} sockets of the session`);

      it('refuses the 4th socket of a session with too_many_clients, and the first three, HTTP and the process go on', async () => {
        const id = user();
        const browser = await login(t.url, id);
        const cookie = browser.cookieHeader();
        const sockets = [await pool.open({ cookie }), await pool.open({ cookie }), await pool.open({ cookie })];
        await expectTooMany(t.url, { cookie });
        await expectTooMany(t.url, { cookie });
        expect(registryOf(t.app).count(sessionKeyOf(browser))).toBe(3);
        for (const socket of sockets) {
          expect(socket.isOpen).toBe(true);
          await expectWhoami(socket, id);
        }
        expect((await browser.get('/me')).body).toEqual({ user: id });
      });

      it('lets a new socket in once one of the three closed, and then refuses again', async () => {
        const id = user();
        const browser = await login(t.url, id);
        const cookie = browser.cookieHeader();
        const [first] = [await pool.open({ cookie }), await pool.open({ cookie }), await pool.open({ cookie })];
        await expectTooMany(t.url, { cookie });
        await first!.close();
        await first!.ended;
        await held(browser, 2);
        const replacement = await pool.open({ cookie });
        await expectWhoami(replacement, id);
        await expectTooMany(t.url, { cookie });
        await held(browser, 3);
      });

      it('counts per session: a full session leaves another session, of the same user too, unaffected', async () => {
        const id = user();
        const full = await login(t.url, id);
        for (let i = 0; i < 3; i++) await pool.open({ cookie: full.cookieHeader() });
        await expectTooMany(t.url, { cookie: full.cookieHeader() });

        const other = await login(t.url, user());
        const sameUser = await login(t.url, id);
        for (const browser of [other, sameUser]) {
          const sockets = [];
          for (let i = 0; i < 3; i++) sockets.push(await pool.open({ cookie: browser.cookieHeader() }));
          expect((await sockets[2]!.request('public')).event).toBe('public');
          await expectTooMany(t.url, { cookie: browser.cookieHeader() });
        }
        await expectTooMany(t.url, { cookie: full.cookieHeader() });
        expect(registryOf(t.app).count(sessionKeyOf(full))).toBe(3);
      });

      it('counts the sockets of an anonymous session, and not those without any session', async () => {
        for (let i = 0; i < 5; i++) {
          const bare = await pool.open();
          expect(await bare.request('public')).toEqual({ event: 'public', data: { user: null } });
        }
        const anonymous = new Browser(t.url);
        expect((await anonymous.post('/cart', { item: 'tea' })).status).toBe(201);
        const cookie = anonymous.cookieHeader();
        for (let i = 0; i < 3; i++) await pool.open({ cookie });
        await expectTooMany(t.url, { cookie });
        expect(registryOf(t.app).count(sessionKeyOf(anonymous))).toBe(3);
      });
    });

    describe('handshakes of one session that race each other', () => {
      let t: TestApp;
      const store = new GatedStore();
      const opened: TestSocket[] = [];
      beforeAll(async () => {
        // A generous store deadline: the reads wait at the gate until all five handshakes are in.
        t = await start({ maxClientsPerSession: 3 }, { store, storeTimeout: 10_000 });
      });
      afterEach(async () => {
        store.release();
        await Promise.all(opened.splice(0).map((socket) => socket.close()));
      });
      afterAll(() => t.close());

      it('never leave more than the cap open: the extra ones are refused, or closed with too_many_clients', async () => {
        const id = user();
        const browser = await login(t.url, id);
        const cookie = browser.cookieHeader();
        store.hold();
        const attempts = Array.from({ length: 5 }, () => openSocket(kind, t.url, { cookie }));
        await waitUntil(() => store.waiting === 5, 10_000, 'five handshakes reading the store');
        store.release();
        const outcomes = await Promise.allSettled(attempts);
        const sockets = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
        opened.push(...sockets);
        const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
        for (const refused of refusals) {
          expect(refused).toBeInstanceOf(Refused);
          expect((refused as Refused).code).toBe('too_many_clients');
        }
        // The socket of a session already full when it registers is closed at once, with the reason.
        await waitUntil(() => sockets.filter((socket) => socket.isOpen).length <= 3, 10_000, 'at most three sockets open');
        const live = sockets.filter((socket) => socket.isOpen);
        const closed = sockets.filter((socket) => !socket.isOpen);
        for (const socket of closed) {
          const ended = await socket.ended;
          expect(ended.reason).toBe('too_many_clients');
          if (kind === 'ws') expect(ended.code).toBe(4429);
        }
        expect(live).toHaveLength(3);
        expect(refusals.length + closed.length).toBe(2);
        if (kind === 'ws') {
          // ws registers a socket in the same turn as its handshake is answered: every extra one gets the clean 429.
          expect(refusals.map((refused) => (refused as Refused).status)).toEqual([429, 429]);
        } else {
          // socket.io registers a tick after its middleware passed: the five passed together, two were closed.
          expect(closed).toHaveLength(2);
        }
        expect(registryOf(t.app).count(sessionKeyOf(browser))).toBe(3);
        for (const socket of live) await expectWhoami(socket, id);
      });
    });

    describe('with the default options', () => {
      let t: TestApp;
      const pool = new SocketPool(kind, () => t.url);
      beforeAll(async () => {
        t = await start({});
      });
      afterEach(() => pool.closeAll());
      afterAll(() => t.close());

      it('admits 50 sockets of one session and refuses the 51st', async () => {
        const id = user();
        const browser = await login(t.url, id);
        const cookie = browser.cookieHeader();
        const sockets: TestSocket[] = [];
        for (let i = 0; i < 50; i++) sockets.push(await pool.open({ cookie }));
        await expectTooMany(t.url, { cookie });
        expect(registryOf(t.app).count(sessionKeyOf(browser))).toBe(50);
        await expectWhoami(sockets[49]!, id);
      });
    });

    describe('a bad maxClientsPerSession', () => {
      it.each([0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY, '3'])('fails at start-up with %p, naming the option', async (value) => {
        const options = { maxClientsPerSession: value } as unknown as SessionSocketOptions;
        const app = startApp({
          adapter,
          controllers: [AuthController],
          providers: [LiveGateway],
          configure: sessionSockets(kind, options),
        });
        await expect(app).rejects.toThrow(/maxClientsPerSession must be a positive integer/);
      });

      it('fails at start-up when a gateway overrides it with a bad value', async () => {
        const app = startApp({ adapter, controllers: [AuthController], providers: [BadCapGateway], configure: sessionSockets(kind) });
        await expect(app).rejects.toThrow(/maxClientsPerSession must be a positive integer \(got 0\)/);
      });

      it('is checked when the adapter is made', () => {
        const make = kind === 'socket.io' ? SessionIoAdapter : SessionWsAdapter;
        expect(() => new make(undefined as never, { maxClientsPerSession: -3 })).toThrow(/maxClientsPerSession/);
      });
    });
  });
});
