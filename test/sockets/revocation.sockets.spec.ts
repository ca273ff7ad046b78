import { MemoryStore, type SessionInfo, type SessionPolicy, type SessionRecord } from '../../lib/index.js';
import { ADAPTERS, startWithStore, type AdapterName, type StoreApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { sleep, waitUntil } from '../support/lifecycle-helpers.js';
import { LiveGateway } from '../support/live.gateway.js';
import { RevocationController } from '../support/revocation.controller.js';
import { SessionsController } from '../support/sessions.controller.js';
import {
  openSocket,
  sessionSockets,
  SOCKET_KINDS,
  type Ended,
  type OpenOptions,
  type SocketKind,
  type TestSocket,
} from '../support/sockets.js';

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
// SessionsController: GET /sessions (@Connected) → listSessions, POST /revoke {handle}.
// RevocationController: POST /disconnect-all (@Connected), POST /disconnect-user {user}.
// LiveGateway: whoami (@Connected) → {user}, logout (@Connected) → disconnect(), ...
const CONTROLLERS = [AuthController, SessionsController, RevocationController];

/** "Within about a second": the generous bound a closing socket gets. */
const CLOSE_WITHIN_MS = 2500;

/**
 * A MemoryStore that hands out copies, as a store over the network (Redis) does: a socket then sees an extension
 * made by another request only when it reads its session again. (The plain MemoryStore shares its records.)
 */
class CopyingStore extends MemoryStore {
  override async get(key: string): Promise<SessionRecord | undefined> {
    const record = await super.get(key);
    return record === undefined ? undefined : structuredClone(record);
  }
}

/** The socket's end, or a failure when it is still open after `ms`. */
async function endOf(socket: TestSocket, ms = CLOSE_WITHIN_MS): Promise<Ended> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the socket was still open ${ms} ms later`)), ms);
  });
  try {
    return await Promise.race([socket.ended, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe.each(ADAPTERS)('socket revocation on %s', (adapter: AdapterName) => {
  describe.each(SOCKET_KINDS)('%s', (kind: SocketKind) => {
    /** Sockets a test opened; each is closed after the test. */
    const opened: TestSocket[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((socket) => socket.close()));
    });

    function start(policy: Partial<SessionPolicy> = {}): Promise<StoreApp> {
      return startWithStore({ adapter, controllers: CONTROLLERS, providers: [LiveGateway], policy, configure: sessionSockets(kind) });
    }

    async function connect(url: string, options?: OpenOptions): Promise<TestSocket> {
      const socket = await openSocket(kind, url, options);
      opened.push(socket);
      return socket;
    }

    async function login(t: TestApp, user: string): Promise<Browser> {
      const browser = new Browser(t.url);
      expect((await browser.post('/login', { user })).status).toBe(201);
      return browser;
    }

    /** A socket on the browser's session, checked to answer as `user`. */
    async function socketOf(t: TestApp, browser: Browser, user: string): Promise<TestSocket> {
      const socket = await connect(t.url, { cookie: browser.cookieHeader() });
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
      return socket;
    }

    /** The socket ends within about a second: socket.io with `session_end {reason}`, ws with 4401 and the reason. */
    async function expectClosed(socket: TestSocket, reason: 'session_closed' | 'session_expired'): Promise<void> {
      const ended = await endOf(socket);
      expect(ended.reason).toBe(reason);
      if (kind === 'ws') expect(ended.code).toBe(4401);
      expect(socket.isOpen).toBe(false);
    }

    async function expectServing(socket: TestSocket, user: string): Promise<void> {
      expect(socket.isOpen).toBe(true);
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
    }

    describe('by the application', () => {
      let t: TestApp;
      beforeAll(async () => {
        ({ t } = await start());
      });
      afterAll(() => t.close());

      it('logout over HTTP closes every socket of that session, and only those', async () => {
        const annA = await login(t, 'ann');
        const annB = await login(t, 'ann');
        const bob = await login(t, 'bob');
        const a1 = await socketOf(t, annA, 'ann');
        const a2 = await socketOf(t, annA, 'ann');
        const b = await socketOf(t, annB, 'ann');
        const c = await socketOf(t, bob, 'bob');

        expect((await annA.post('/logout')).status).toBe(201);
        await expectClosed(a1, 'session_closed');
        await expectClosed(a2, 'session_closed');
        expect((await annA.get('/me')).status).toBe(401);

        // The same user's other session and another user's session go on, over the socket and over HTTP.
        await expectServing(b, 'ann');
        await expectServing(c, 'bob');
        expect((await annB.get('/me')).body).toEqual({ user: 'ann' });
        expect((await bob.get('/me')).body).toEqual({ user: 'bob' });
        expect(b.received.some((m) => m.event === 'session_end')).toBe(false);
      });

      it('disconnectAll closes every socket of the user, in every browser', async () => {
        const annA = await login(t, 'ann');
        const annB = await login(t, 'ann');
        const bob = await login(t, 'bob');
        const a = await socketOf(t, annA, 'ann');
        const b = await socketOf(t, annB, 'ann');
        const c = await socketOf(t, bob, 'bob');

        const reply = await annA.post('/disconnect-all');
        expect(reply.status).toBe(201);
        expect(reply.body.closed).toBeGreaterThanOrEqual(2);
        await expectClosed(a, 'session_closed');
        await expectClosed(b, 'session_closed');
        expect((await annA.get('/me')).status).toBe(401);
        expect((await annB.get('/me')).status).toBe(401);
        await expectServing(c, 'bob');
        expect((await bob.get('/me')).body).toEqual({ user: 'bob' });
      });

      it('disconnectAll({ userId }) from outside the sessions closes their sockets', async () => {
        const zoe = await login(t, 'zoe');
        const bob = await login(t, 'bob');
        const z1 = await socketOf(t, zoe, 'zoe');
        const z2 = await socketOf(t, zoe, 'zoe');
        const c = await socketOf(t, bob, 'bob');
        expect((await new Browser(t.url).post('/disconnect-user', { user: 'zoe' })).body).toEqual({ closed: 1 });
        await expectClosed(z1, 'session_closed');
        await expectClosed(z2, 'session_closed');
        await expectServing(c, 'bob');
      });

      it('revoke(handle) closes the sockets of that session only', async () => {
        const annA = await login(t, 'ann');
        const annB = await login(t, 'ann');
        const a = await socketOf(t, annA, 'ann');
        const b = await socketOf(t, annB, 'ann');

        const listed = (await annA.get('/sessions')).body as SessionInfo[];
        const current = listed.filter((session) => session.current);
        expect(current).toHaveLength(1);
        // annB's session is the newest one that is not annA's.
        const others = listed.filter((session) => !session.current);
        const target = others[others.length - 1]!;
        expect((await annA.post('/revoke', { handle: target.handle })).status).toBe(201);

        await expectClosed(b, 'session_closed');
        expect((await annB.get('/me')).status).toBe(401);
        await expectServing(a, 'ann');
        expect((await annA.get('/me')).body).toEqual({ user: 'ann' });
      });

      it('the logout message (disconnect() inside a message) closes the session’s sockets and its cookie', async () => {
        const annA = await login(t, 'ann');
        const annB = await login(t, 'ann');
        const s1 = await socketOf(t, annA, 'ann');
        const s2 = await socketOf(t, annA, 'ann');
        const other = await socketOf(t, annB, 'ann');

        s1.send('logout');
        await expectClosed(s1, 'session_closed');
        await expectClosed(s2, 'session_closed');
        expect((await annA.get('/me')).status).toBe(401);
        await expectServing(other, 'ann');
        expect((await annB.get('/me')).body).toEqual({ user: 'ann' });
      });

      it('a closed session’s cookie cannot open a socket again', async () => {
        const ann = await login(t, 'ann');
        const cookie = ann.cookieHeader();
        const socket = await socketOf(t, ann, 'ann');
        await ann.post('/logout');
        await expectClosed(socket, 'session_closed');
        await expect(connect(t.url, { cookie })).rejects.toMatchObject({ code: 'unauthenticated' });
      });
    });

    describe('maxSessionsPerUser: 1', () => {
      let t: TestApp;
      beforeAll(async () => {
        ({ t } = await start({ maxSessionsPerUser: 1 }));
      });
      afterAll(() => t.close());

      it('logging in a second browser closes the first browser’s sockets', async () => {
        const first = await login(t, 'ann');
        const bob = await login(t, 'bob');
        const a = await socketOf(t, first, 'ann');
        const c = await socketOf(t, bob, 'bob');

        const second = await login(t, 'ann');
        await expectClosed(a, 'session_closed');
        expect((await first.get('/me')).status).toBe(401);
        const b = await socketOf(t, second, 'ann');
        await expectServing(b, 'ann');
        await expectServing(c, 'bob');
      });
    });

    describe('a failed check', () => {
      let t: TestApp;
      /** Users whose sessions `policy.check` refuses from now on. */
      const refused = new Set<string>();
      beforeAll(async () => {
        ({ t } = await start({ check: (session) => !refused.has(session.userId ?? '') }));
      });
      afterEach(() => refused.clear());
      afterAll(() => t.close());

      it('on an HTTP request closes the session’s sockets', async () => {
        const ann = await login(t, 'ann');
        const bob = await login(t, 'bob');
        const a = await socketOf(t, ann, 'ann');
        const c = await socketOf(t, bob, 'bob');
        refused.add('ann');
        expect((await ann.get('/me')).status).toBe(401);
        await expectClosed(a, 'session_closed');
        await expectServing(c, 'bob');
      });

      it('on the socket’s own re-read (a message more than a second later) closes the socket', async () => {
        const ann = await login(t, 'ann');
        const bob = await login(t, 'bob');
        const a = await socketOf(t, ann, 'ann');
        const c = await socketOf(t, bob, 'bob');
        const checkedAt = Date.now();
        refused.add('ann');
        // Messages within the second after the handshake use the session as it was checked then.
        await waitUntil(() => Date.now() - checkedAt > 1100, 5000, 'a second to pass');
        a.send('whoami');
        await expectClosed(a, 'session_closed');
        // The session is gone for HTTP too.
        refused.clear();
        expect((await ann.get('/me')).status).toBe(401);
        await expectServing(c, 'bob');
      });
    });

    /** Two sessions kept busy well past the 2 s idle timeout: one by messages on its socket, one by HTTP requests. */
    async function expectKeptAlive(t: TestApp): Promise<void> {
      const loginAt = Date.now();
      const busy = await login(t, 'busy');
      const web = await login(t, 'web');
      const busySocket = await connect(t.url, { cookie: busy.cookieHeader() });
      const webSocket = await connect(t.url, { cookie: web.cookieHeader() });
      while (Date.now() < loginAt + 3500) {
        expect(await busySocket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'busy' } });
        expect((await web.get('/me')).status).toBe(200);
        await sleep(250);
      }
      expect(busySocket.isOpen).toBe(true);
      expect(webSocket.isOpen).toBe(true);
      await expectServing(webSocket, 'web');
      expect((await busy.get('/me')).body).toEqual({ user: 'busy' });
      expect(busySocket.received.some((m) => m.event === 'session_end')).toBe(false);
      expect(webSocket.received.some((m) => m.event === 'session_end')).toBe(false);
    }

    describe('a 2-second idle timeout', () => {
      let t: TestApp;
      beforeAll(async () => {
        ({ t } = await start({ idleTimeout: 2 }));
      });
      afterAll(() => t.close());

      it('closes an idle socket with session_expired about a second after its session expired, with no message', async () => {
        const loginAt = Date.now();
        const ann = await login(t, 'ann');
        const socket = await connect(t.url, { cookie: ann.cookieHeader() });
        // Expiry is 2 s after login; the socket must be closed within CLOSE_WITHIN_MS of it.
        const ended = await endOf(socket, loginAt + 2000 + CLOSE_WITHIN_MS - Date.now());
        expect(Date.now()).toBeGreaterThanOrEqual(loginAt + 2000);
        expect(ended.reason).toBe('session_expired');
        if (kind === 'ws') expect(ended.code).toBe(4401);
        expect(socket.received.filter((m) => m.event !== 'session_end')).toEqual([]);
        expect((await ann.get('/me')).status).toBe(401);
      });

      it('keeps the session of a socket that sends messages, and of one used over HTTP, past the idle timeout', async () => {
        await expectKeptAlive(t);
      });
    });

    describe('a 1-second idle timeout', () => {
      let t: TestApp;
      beforeAll(async () => {
        ({ t } = await start({ idleTimeout: 1 }));
      });
      afterAll(() => t.close());

      it('keeps the session of a socket that only sends messages: it is re-read (and touched) per touch interval, not per second', async () => {
        const loginAt = Date.now();
        const busy = await login(t, 'quick');
        const socket = await connect(t.url, { cookie: busy.cookieHeader() });
        // Messages 200 ms apart for 2.5 s: the session lives on its socket's activity alone, past two idle timeouts.
        while (Date.now() < loginAt + 2500) {
          expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'quick' } });
          await sleep(200);
        }
        expect(socket.isOpen).toBe(true);
        expect(socket.received.some((m) => m.event === 'session_end')).toBe(false);
        expect((await busy.get('/me')).body).toEqual({ user: 'quick' });
      });
    });

    describe('a 2-second idle timeout, on a store that hands out copies', () => {
      let t: TestApp;
      beforeAll(async () => {
        ({ t } = await start({ idleTimeout: 2, store: new CopyingStore() }));
      });
      afterAll(() => t.close());

      it('keeps the session of a socket that sends messages, and of one used over HTTP, past the idle timeout', async () => {
        await expectKeptAlive(t);
      });
    });
  });
});
