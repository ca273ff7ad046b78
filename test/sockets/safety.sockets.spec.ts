import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import type { Browser } from '../support/browser.js';
import { login, ProcessFaults, settleTurns, SocketPool } from '../support/clients-helpers.js';
import { FailingHooks, SAFETY_PATHS, safetyGateways } from '../support/clients-safety.js';
import { EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { LiveGateway } from '../support/live.gateway.js';
import { sessionSockets, SOCKET_KINDS, type TestSocket } from '../support/sockets.js';

/** What Nest's WebSocket exception filter sends for an error that is not a WsException. */
const INTERNAL_ERROR = { event: 'exception', data: expect.objectContaining({ status: 'error', message: 'Internal server error' }) };

/**
 * Nothing a gateway, a guard, a handler or a session hook throws may end the process: the adapters wrap gateway
 * hooks (`handleConnection` / `handleDisconnect`, sync throws and rejected promises alike), and Nest turns handler
 * and guard errors into an `exception` event.
 */
describe.each(ADAPTERS)('socket safety on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    const safety = safetyGateways(kind);
    let t: TestApp;
    let events: EventRecorder;
    let hooks: FailingHooks;
    const pool = new SocketPool(kind, () => t.url);
    const faults = new ProcessFaults();
    let counter = 0;

    beforeAll(async () => {
      t = await startApp({
        adapter,
        // AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}.
        controllers: [AuthController],
        providers: [LiveGateway, ...safety.gateways, FailingHooks],
        configure: sessionSockets(kind),
      });
      events = new EventRecorder(t.app);
      hooks = t.app.get(FailingHooks);
    });
    beforeEach(() => faults.install());
    afterEach(async () => {
      await pool.closeAll();
      // Errors reported asynchronously (RxJS reports on a timer) land before the listeners go.
      await settleTurns();
      faults.uninstall();
    });
    afterAll(async () => {
      events.stop();
      await t.close();
    });

    async function user(): Promise<{ b: Browser; id: string }> {
      const id = `safety-${adapter}-${kind}-${++counter}`;
      return { b: await login(t.url, id), id };
    }

    /** The server still answers: HTTP, the shared gateway on a new socket, and the sockets given. */
    async function expectServing(b: Browser, id: string, ...sockets: Array<[TestSocket, string]>): Promise<void> {
      expect((await b.get('/me')).body).toEqual({ user: id });
      const root = await pool.open({ cookie: b.cookieHeader() });
      expect(await root.request('whoami')).toEqual({ event: 'whoami', data: { user: id } });
      for (const [socket, gateway] of sockets) {
        expect(socket.isOpen).toBe(true);
        expect(await socket.request('ping')).toEqual({ event: 'ping', data: { user: id, gateway } });
      }
    }

    async function expectNoFaults(): Promise<void> {
      await settleTurns();
      expect(faults.describe()).toEqual([]);
    }

    it('a gateway whose handleConnection throws synchronously: sockets connect and are served', async () => {
      const { b, id } = await user();
      const before = safety.counts.syncConnect;
      const first = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.syncThrow });
      const second = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.syncThrow });
      await waitUntil(() => safety.counts.syncConnect === before + 2, 10_000, 'both handleConnection calls');
      await expectServing(b, id, [first, 'sync-throw'], [second, 'sync-throw']);
      await expectNoFaults();
    });

    it('a gateway whose handleConnection returns a rejected promise: sockets connect and are served', async () => {
      const { b, id } = await user();
      const before = safety.counts.rejectConnect;
      const first = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.reject });
      const second = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.reject });
      await waitUntil(() => safety.counts.rejectConnect === before + 2, 10_000, 'both handleConnection calls');
      await expectServing(b, id, [first, 'reject-connect'], [second, 'reject-connect']);
      await expectNoFaults();
    });

    it('a gateway whose handleDisconnect throws: the close is handled and the server goes on', async () => {
      const { b, id } = await user();
      const before = safety.counts.throwDisconnect;
      const leaving = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.disconnect });
      expect(await leaving.request('ping')).toEqual({ event: 'ping', data: { user: id, gateway: 'throw-disconnect' } });
      await leaving.close();
      await leaving.ended;
      await waitUntil(() => safety.counts.throwDisconnect === before + 1, 10_000, 'the handleDisconnect call');
      const next = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.disconnect });
      await expectServing(b, id, [next, 'throw-disconnect']);
      // The library's own bookkeeping of the close still ran.
      await waitUntil(() => events.events.filter((e) => e.type === 'client-disconnected' && e.userId === id).length >= 1);
      await expectNoFaults();
    });

    it('handleDisconnect throwing on a close made by the library (logout) leaves the server up', async () => {
      const { b, id } = await user();
      const before = safety.counts.throwDisconnect;
      const socket = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.disconnect });
      expect((await b.post('/logout')).status).toBe(201);
      expect((await socket.ended).reason).toBe('session_closed');
      await waitUntil(() => safety.counts.throwDisconnect === before + 1, 10_000, 'the handleDisconnect call');
      const again = await login(t.url, id);
      await expectServing(again, id);
      await expectNoFaults();
    });

    it.each(['boom', 'boom-async'])('a message handler that fails (%s) gets an exception event; the socket stays', async (event) => {
      const { b, id } = await user();
      const socket = await pool.open({ cookie: b.cookieHeader() });
      expect(await socket.request(event)).toEqual(INTERNAL_ERROR);
      expect(await socket.request(event)).toEqual(INTERNAL_ERROR);
      expect(socket.isOpen).toBe(true);
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: id } });
      await expectServing(b, id);
      await expectNoFaults();
    });

    it.each(['guard-throw', 'guard-reject'])('a guard that fails (%s) refuses the message; the socket stays', async (event) => {
      const { b, id } = await user();
      const before = safety.counts.guards;
      const socket = await pool.open({ cookie: b.cookieHeader(), path: SAFETY_PATHS.guards });
      expect(await socket.request(event)).toEqual(INTERNAL_ERROR);
      expect(safety.counts.guards).toBe(before + 1);
      expect(socket.received.some((message) => message.event === event)).toBe(false);
      await expectServing(b, id, [socket, 'guards']);
      await expectNoFaults();
    });

    it('session event hooks that throw for a socket: it connects, its messages fail alone, its close is handled', async () => {
      const { b, id } = await user();
      hooks.failing.add(id);
      try {
        const socket = await pool.open({ cookie: b.cookieHeader(), process: `safety-hooks-${adapter}-${kind.replace('.', '')}` });
        await waitUntil(() => hooks.failed.includes('client-connected'), 10_000, 'the failing client-connected hook');
        expect(hooks.failed).toEqual(expect.arrayContaining(['start-process', 'start-connected-process', 'client-connected']));
        // A failing `request` hook fails that message only.
        expect(await socket.request('whoami')).toEqual(INTERNAL_ERROR);
        expect(socket.isOpen).toBe(true);
        hooks.failing.delete(id);
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: id } });
        hooks.failing.add(id);
        await socket.close();
        await socket.ended;
        await waitUntil(() => hooks.failed.includes('client-disconnected'), 10_000, 'the failing client-disconnected hook');
      } finally {
        hooks.failing.delete(id);
      }
      await expectServing(b, id);
      await expectNoFaults();
    });
  });
});
