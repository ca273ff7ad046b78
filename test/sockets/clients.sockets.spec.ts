import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import type { Browser } from '../support/browser.js';
import { callsFor, ClientsController, ClientsGateway, gates, type ConnKeyName } from '../support/clients-gateway.js';
import {
  closeAndSettle,
  eventOf,
  handleOf,
  login,
  ProcessFaults,
  processIdFor,
  registryOf,
  settleTurns,
  SocketPool,
} from '../support/clients-helpers.js';
import { deferred, EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { sessionSockets, SOCKET_KINDS, type TestSocket } from '../support/sockets.js';

/**
 * Every socket is a client of its session: when the last one leaves, in-memory values whose key has `onNoClient`
 * are asked whether they stay (`false` drops them without `onDelete`). Every socket is also a process: its
 * process-scoped values are its own, shared with HTTP requests that name its id in `x-process-id`, and go (with
 * `onDelete`) when it closes.
 */
describe.each(ADAPTERS)('session clients on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    let t: TestApp;
    let events: EventRecorder;
    const pool = new SocketPool(kind, () => t.url);
    const faults = new ProcessFaults();
    let userCounter = 0;

    beforeAll(async () => {
      t = await startApp({
        adapter,
        controllers: [AuthController, ClientsController],
        providers: [ClientsGateway],
        configure: sessionSockets(kind),
      });
      events = new EventRecorder(t.app);
    });
    beforeEach(() => faults.install());
    afterEach(async () => {
      faults.uninstall();
      await pool.closeAll();
      delete gates.procDelete;
      delete gates.slowNoClient;
    });
    afterAll(async () => {
      events.stop();
      await t.close();
    });

    const tag = () => `${adapter}-${kind}-${++userCounter}`;

    /** A logged-in browser and a unique user id. */
    async function user(): Promise<{ b: Browser; user: string; value: (what: string) => string }> {
      const id = `clients-${tag()}`;
      return { b: await login(t.url, id), user: id, value: (what) => `${id}-${what}` };
    }

    /** Opens a socket of the browser's session with a known process id. */
    async function socketOf(b: Browser): Promise<{ socket: TestSocket; process: string }> {
      const process = processIdFor('c', adapter, kind);
      const socket = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      return { socket, process };
    }

    async function httpValue(b: Browser, key: ConnKeyName): Promise<unknown> {
      const reply = await b.get(`/clients/conn/${key}`);
      expect(reply.status).toBe(200);
      return reply.body.value;
    }

    function expectNoFaults(): void {
      expect(faults.describe()).toEqual([]);
    }

    it('an onNoClient=false value set over HTTP stays while one socket remains, and goes without onDelete with the last', async () => {
      const { b, user: id, value } = await user();
      const handle = await handleOf(t.app, id);
      const first = await socketOf(b);
      const second = await socketOf(b);
      expect(registryOf(t.app).count(handle)).toBe(2);
      const v = value('drop');
      expect((await b.post('/clients/conn/drop', { value: v })).status).toBe(201);
      expect(await httpValue(b, 'drop')).toBe(v);

      await closeAndSettle(first.socket, events, first.process);
      expect(registryOf(t.app).count(handle)).toBe(1);
      // One client left: the value stays, and no callback ran.
      expect(await httpValue(b, 'drop')).toBe(v);
      expect((await second.socket.request('conn-get', { key: 'drop' })).data).toEqual({ value: v });
      expect(callsFor(v)).toEqual([]);

      await closeAndSettle(second.socket, events, second.process);
      expect(registryOf(t.app).count(handle)).toBe(0);
      expect(await httpValue(b, 'drop')).toBeNull();
      expect(callsFor(v)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-drop', value: v }]);
      // The session itself lives on, and its close later finds nothing left to delete.
      expect((await b.get('/me')).body).toEqual({ user: id });
      expect((await b.post('/logout')).status).toBe(201);
      expect(callsFor(v)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-drop', value: v }]);
    });

    it('an onNoClient=false value set by a message goes when the last socket leaves; a new socket starts without it', async () => {
      const { b, value } = await user();
      const only = await socketOf(b);
      const v = value('drop-msg');
      expect((await only.socket.request('conn-set', { key: 'drop', value: v })).data).toEqual({ ok: true });
      expect(await httpValue(b, 'drop')).toBe(v);
      await closeAndSettle(only.socket, events, only.process);
      expect(await httpValue(b, 'drop')).toBeNull();
      expect(callsFor(v)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-drop', value: v }]);
      const again = await socketOf(b);
      expect((await again.socket.request('conn-get', { key: 'drop' })).data).toEqual({ value: null });
    });

    it('an onNoClient=true value, and a value without onNoClient, stay after the last socket leaves', async () => {
      const { b, value } = await user();
      const first = await socketOf(b);
      const second = await socketOf(b);
      const kept = value('keep');
      const plain = value('plain');
      expect((await first.socket.request('conn-set', { key: 'keep', value: kept })).data).toEqual({ ok: true });
      expect((await b.post('/clients/conn/plain', { value: plain })).status).toBe(201);
      await closeAndSettle(first.socket, events, first.process);
      expect(callsFor(kept)).toEqual([]);
      await closeAndSettle(second.socket, events, second.process);
      expect(await httpValue(b, 'keep')).toBe(kept);
      expect(await httpValue(b, 'plain')).toBe(plain);
      expect(callsFor(kept)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-keep', value: kept }]);
      expect(callsFor(plain)).toEqual([]);
      // A new socket sees the value; when it leaves in turn, onNoClient is asked again.
      const third = await socketOf(b);
      expect((await third.socket.request('conn-get', { key: 'keep' })).data).toEqual({ value: kept });
      await closeAndSettle(third.socket, events, third.process);
      expect(callsFor(kept).map((call) => call.hook)).toEqual(['onNoClient', 'onNoClient']);
      // The value leaves with the session at last, through onDelete, once.
      expect((await b.post('/logout')).status).toBe(201);
      expect(callsFor(kept).map((call) => call.hook)).toEqual(['onNoClient', 'onNoClient', 'onDelete']);
      expect(callsFor(plain)).toEqual([{ hook: 'onDelete', key: 'clients-conn-plain', value: plain }]);
    });

    it('a throwing or rejecting onNoClient keeps the value and the server stays up', async () => {
      const { b, user: id, value } = await user();
      const only = await socketOf(b);
      const thrown = value('throw');
      const rejected = value('reject');
      const dropped = value('drop-next-to-throw');
      expect((await only.socket.request('conn-set', { key: 'throw', value: thrown })).data).toEqual({ ok: true });
      expect((await only.socket.request('conn-set', { key: 'reject', value: rejected })).data).toEqual({ ok: true });
      expect((await only.socket.request('conn-set', { key: 'drop', value: dropped })).data).toEqual({ ok: true });
      await closeAndSettle(only.socket, events, only.process);
      expect(callsFor(thrown)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-throw', value: thrown }]);
      expect(callsFor(rejected)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-reject', value: rejected }]);
      expect(await httpValue(b, 'throw')).toBe(thrown);
      expect(await httpValue(b, 'reject')).toBe(rejected);
      // A failing callback does not stop the others.
      expect(await httpValue(b, 'drop')).toBeNull();
      expect(callsFor(dropped)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-drop', value: dropped }]);
      // The server answers HTTP and sockets.
      expect((await b.get('/me')).body).toEqual({ user: id });
      const next = await socketOf(b);
      expect(await next.socket.request('whoami')).toEqual({ event: 'whoami', data: { user: id } });
      await settleTurns();
      expectNoFaults();
    });

    it('closing the session (logout over HTTP) runs onDelete, not onNoClient, for the values of its sockets', async () => {
      const { b, value } = await user();
      const first = await socketOf(b);
      const second = await socketOf(b);
      const dropped = value('drop');
      const kept = value('keep');
      const plain = value('plain');
      const proc = value('proc');
      expect((await first.socket.request('conn-set', { key: 'drop', value: dropped })).data).toEqual({ ok: true });
      expect((await first.socket.request('conn-set', { key: 'keep', value: kept })).data).toEqual({ ok: true });
      expect((await second.socket.request('conn-set', { key: 'plain', value: plain })).data).toEqual({ ok: true });
      expect((await second.socket.request('proc-set', { value: proc })).data).toEqual({ ok: true });
      expect((await b.post('/logout')).status).toBe(201);
      expect((await first.socket.ended).reason).toBe('session_closed');
      expect((await second.socket.ended).reason).toBe('session_closed');
      await eventOf(events, 'client-disconnected', first.process);
      await eventOf(events, 'client-disconnected', second.process);
      expect(callsFor(dropped)).toEqual([{ hook: 'onDelete', key: 'clients-conn-drop', value: dropped }]);
      expect(callsFor(kept)).toEqual([{ hook: 'onDelete', key: 'clients-conn-keep', value: kept }]);
      expect(callsFor(plain)).toEqual([{ hook: 'onDelete', key: 'clients-conn-plain', value: plain }]);
      expect(callsFor(proc)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: proc }]);
    });

    it('closing the session by a socket message (logout) runs onDelete, not onNoClient', async () => {
      const { b, user: id, value } = await user();
      const handle = await handleOf(t.app, id);
      const first = await socketOf(b);
      const second = await socketOf(b);
      const dropped = value('drop');
      const kept = value('keep');
      expect((await first.socket.request('conn-set', { key: 'drop', value: dropped })).data).toEqual({ ok: true });
      expect((await first.socket.request('conn-set', { key: 'keep', value: kept })).data).toEqual({ ok: true });
      second.socket.send('logout');
      expect((await first.socket.ended).reason).toBe('session_closed');
      expect((await second.socket.ended).reason).toBe('session_closed');
      await eventOf(events, 'client-disconnected', first.process);
      await eventOf(events, 'client-disconnected', second.process);
      expect(registryOf(t.app).count(handle)).toBe(0);
      expect(callsFor(dropped)).toEqual([{ hook: 'onDelete', key: 'clients-conn-drop', value: dropped }]);
      expect(callsFor(kept)).toEqual([{ hook: 'onDelete', key: 'clients-conn-keep', value: kept }]);
      expect((await b.get('/me')).status).toBe(401);
    });

    it('a socket that comes back while an async onNoClient runs keeps the value', async () => {
      const { b, value } = await user();
      const v = value('slow');
      gates.slowNoClient = deferred();
      const first = await socketOf(b);
      expect((await first.socket.request('conn-set', { key: 'slow', value: v })).data).toEqual({ ok: true });
      await first.socket.close();
      await first.socket.ended;
      // onNoClient has started and waits on the gate...
      await waitForCalls(v, 1);
      // ...when another socket of the session opens.
      const back = await socketOf(b);
      gates.slowNoClient.resolve();
      await eventOf(events, 'client-disconnected', first.process);
      expect(await httpValue(b, 'slow')).toBe(v);
      expect((await back.socket.request('conn-get', { key: 'slow' })).data).toEqual({ value: v });
      expect(callsFor(v)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-slow', value: v }]);
    });

    it('onNoClient runs once when the last two sockets leave while the first one is still being cleaned up', async () => {
      // Socket A has a process value whose onDelete is slow; B closes while A's clean-up waits on it. Only B was
      // the last client: onNoClient must run once, not once per socket that saw an empty session at its end.
      const { b, value } = await user();
      const kept = value('keep');
      const proc = value('proc');
      gates.procDelete = deferred();
      const a = await socketOf(b);
      const bSocket = await socketOf(b);
      expect((await a.socket.request('proc-set', { value: proc })).data).toEqual({ ok: true });
      expect((await a.socket.request('conn-set', { key: 'keep', value: kept })).data).toEqual({ ok: true });
      await a.socket.close();
      await a.socket.ended;
      await waitForCalls(proc, 1);
      await closeAndSettle(bSocket.socket, events, bSocket.process);
      expect(callsFor(kept)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-keep', value: kept }]);
      gates.procDelete.resolve();
      await eventOf(events, 'client-disconnected', a.process);
      expect(callsFor(proc)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: proc }]);
      expect(callsFor(kept)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-keep', value: kept }]);
      expect(await httpValue(b, 'keep')).toBe(kept);
    });

    it('sockets of other sessions do not keep a session as a client', async () => {
      const one = await user();
      const other = await user();
      const v = one.value('drop');
      const mine = await socketOf(one.b);
      const theirs = await socketOf(other.b);
      expect((await mine.socket.request('conn-set', { key: 'drop', value: v })).data).toEqual({ ok: true });
      await closeAndSettle(mine.socket, events, mine.process);
      expect(theirs.socket.isOpen).toBe(true);
      expect(await httpValue(one.b, 'drop')).toBeNull();
      expect(callsFor(v)).toEqual([{ hook: 'onNoClient', key: 'clients-conn-drop', value: v }]);
    });
    describe('processes', () => {
      const PROCESS_ID = /^[A-Za-z0-9_-]{1,64}$/;
      const header = (process: string) => ({ headers: { 'x-process-id': process } });

      async function processOf(socket: TestSocket): Promise<string> {
        const reply = await socket.request('process');
        expect(reply.event).toBe('process');
        return reply.data.process as string;
      }

      it('two sockets of one session each have their own tab counter', async () => {
        const { b } = await user();
        const first = await socketOf(b);
        const second = await socketOf(b);
        expect((await first.socket.request('tab')).data).toEqual({ count: 1 });
        expect((await first.socket.request('tab')).data).toEqual({ count: 2 });
        expect((await second.socket.request('tab')).data).toEqual({ count: 1 });
        expect((await first.socket.request('tab')).data).toEqual({ count: 3 });
        expect((await second.socket.request('tab')).data).toEqual({ count: 2 });
        // Over HTTP, each process id names its own counter; no id names none.
        expect((await b.get('/clients/tab', header(first.process))).body).toEqual({ count: 3 });
        expect((await b.get('/clients/tab', header(second.process))).body).toEqual({ count: 2 });
        expect((await b.get('/clients/tab')).body).toEqual({ count: null });
      });

      it("an HTTP request with x-process-id of a socket reads and writes that socket's process data", async () => {
        const { b, value } = await user();
        const named = await socketOf(b);
        expect(await processOf(named.socket)).toBe(named.process);
        // A socket without a process id gets one; HTTP can name it as well.
        const generated = await pool.open({ cookie: b.cookieHeader() });
        const generatedId = await processOf(generated);
        expect(generatedId).toMatch(PROCESS_ID);
        await eventOf(events, 'client-connected', generatedId);

        for (const [socket, process] of [
          [named.socket, named.process],
          [generated, generatedId],
        ] as const) {
          expect((await socket.request('tab')).data).toEqual({ count: 1 });
          expect((await socket.request('tab')).data).toEqual({ count: 2 });
          expect((await b.get('/clients/tab', header(process))).body).toEqual({ count: 2 });
          expect((await b.post('/clients/tab', { count: 10 }, header(process))).status).toBe(201);
          expect((await socket.request('tab')).data).toEqual({ count: 11 });
          expect((await b.get('/clients/tab', header(process))).body).toEqual({ count: 11 });

          const fromHttp = value(`http-${process}`);
          expect((await b.post('/clients/proc', { value: fromHttp }, header(process))).status).toBe(201);
          expect((await socket.request('proc-get')).data).toEqual({ value: fromHttp });
          const fromSocket = value(`socket-${process}`);
          expect((await socket.request('proc-set', { value: fromSocket })).data).toEqual({ ok: true });
          expect((await b.get('/clients/proc', header(process))).body).toEqual({ value: fromSocket });
        }
        // Each socket kept its own values.
        expect((await b.get('/clients/tab', header(named.process))).body).toEqual({ count: 11 });
        expect((await named.socket.request('proc-get')).data).toEqual({ value: value(`socket-${named.process}`) });
        expect((await generated.request('proc-get')).data).toEqual({ value: value(`socket-${generatedId}`) });
      });

      it('another session naming the same process id sees none of its data', async () => {
        const mine = await user();
        const other = await user();
        const { socket, process } = await socketOf(mine.b);
        expect((await socket.request('tab')).data).toEqual({ count: 1 });
        expect((await socket.request('proc-set', { value: mine.value('proc') })).data).toEqual({ ok: true });
        expect((await other.b.get('/clients/tab', header(process))).body).toEqual({ count: null });
        expect((await other.b.get('/clients/proc', header(process))).body).toEqual({ value: null });
        expect((await other.b.post('/clients/tab', { count: 50 }, header(process))).status).toBe(201);
        expect((await socket.request('tab')).data).toEqual({ count: 2 });
      });

      it('when a socket closes, its process values go with onDelete once; the other socket keeps its own', async () => {
        const { b, value } = await user();
        const leaving = await socketOf(b);
        const staying = await socketOf(b);
        const gone = value('gone');
        const kept = value('kept');
        expect((await leaving.socket.request('proc-set', { value: gone })).data).toEqual({ ok: true });
        expect((await leaving.socket.request('tab')).data).toEqual({ count: 1 });
        expect((await staying.socket.request('proc-set', { value: kept })).data).toEqual({ ok: true });
        expect((await b.get('/clients/proc', header(leaving.process))).body).toEqual({ value: gone });

        await closeAndSettle(leaving.socket, events, leaving.process);
        expect(callsFor(gone)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: gone }]);
        expect((await b.get('/clients/proc', header(leaving.process))).body).toEqual({ value: null });
        expect((await b.get('/clients/tab', header(leaving.process))).body).toEqual({ count: null });
        expect(callsFor(kept)).toEqual([]);
        expect((await staying.socket.request('proc-get')).data).toEqual({ value: kept });

        // Closing the session later does not run the gone value's onDelete again.
        expect((await b.post('/logout')).status).toBe(201);
        await staying.socket.ended;
        await eventOf(events, 'client-disconnected', staying.process);
        expect(callsFor(gone)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: gone }]);
        expect(callsFor(kept)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: kept }]);
      });

      it('a value set over HTTP for an open socket process goes with that socket', async () => {
        const { b, value } = await user();
        const { socket, process } = await socketOf(b);
        const v = value('http-set');
        expect((await b.post('/clients/proc', { value: v }, header(process))).status).toBe(201);
        await closeAndSettle(socket, events, process);
        expect(callsFor(v)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: v }]);
        expect((await b.get('/clients/proc', header(process))).body).toEqual({ value: null });
      });

      it('two sockets opened with one process id share its values, which go with the last of them', async () => {
        const { b, value } = await user();
        const process = processIdFor('shared', adapter, kind);
        const first = await pool.open({ cookie: b.cookieHeader(), process });
        await eventOf(events, 'client-connected', process);
        const second = await pool.open({ cookie: b.cookieHeader(), process });
        await waitUntil(() => events.events.filter((e) => e.type === 'client-connected' && e.process === process).length === 2);
        const v = value('shared');
        expect((await first.request('proc-set', { value: v })).data).toEqual({ ok: true });
        expect((await second.request('proc-get')).data).toEqual({ value: v });
        expect((await first.request('tab')).data).toEqual({ count: 1 });
        expect((await second.request('tab')).data).toEqual({ count: 2 });

        await first.close();
        await first.ended;
        await waitUntil(() => events.events.filter((e) => e.type === 'client-disconnected' && e.process === process).length === 1);
        expect(callsFor(v)).toEqual([]);
        expect((await second.request('proc-get')).data).toEqual({ value: v });

        await second.close();
        await second.ended;
        await waitUntil(() => events.events.filter((e) => e.type === 'client-disconnected' && e.process === process).length === 2);
        expect(callsFor(v)).toEqual([{ hook: 'onDelete', key: 'clients-proc', value: v }]);
        expect((await b.get('/clients/proc', header(process))).body).toEqual({ value: null });
      });

      it.each([
        ['a path', '../bad'],
        ['a space', 'not valid'],
        ['65 characters', 'x'.repeat(65)],
      ])('a socket opened with an invalid process id (%s) works with a generated id', async (_what, invalid) => {
        const { b, user: id } = await user();
        const socket = await pool.open({ cookie: b.cookieHeader(), process: invalid });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: id } });
        const process = await processOf(socket);
        expect(process).toMatch(PROCESS_ID);
        expect(process).not.toBe(invalid);
        const connected = await eventOf(events, 'client-connected', process);
        expect(connected).toMatchObject({ type: 'client-connected', transport: 'ws', userId: id });
        expect((await socket.request('tab')).data).toEqual({ count: 1 });
        expect((await socket.request('tab')).data).toEqual({ count: 2 });
        expect((await b.get('/clients/tab', header(process))).body).toEqual({ count: 2 });
        // Two sockets with the same invalid id get different ids.
        const twin = await pool.open({ cookie: b.cookieHeader(), process: invalid });
        const twinProcess = await processOf(twin);
        expect(twinProcess).toMatch(PROCESS_ID);
        expect(twinProcess).not.toBe(process);
        expect((await twin.request('tab')).data).toEqual({ count: 1 });
      });
    });

    /** Waits until `value` had `count` hook calls (a generous bound, not a speed claim). */
    function waitForCalls(value: string, count: number): Promise<void> {
      return waitUntil(() => callsFor(value).length >= count, 10_000, `${count} hook calls for ${value}`);
    }
  });
});
