import { Injectable } from '@nestjs/common';
import { OnSessionEvent, type SessionEvent, type SessionEventOf } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { ClientsController, ClientsGateway } from '../support/clients-gateway.js';
import { eventOf, handleOf, login, processIdFor, SocketPool } from '../support/clients-helpers.js';
import { EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { LiveGateway } from '../support/live.gateway.js';
import { sessionSockets, SOCKET_KINDS, type TestSocket } from '../support/sockets.js';

/** Awaited hooks for the events a socket produces: the WebSocket ones they saw, in order. */
@Injectable()
class SocketEventHooks {
  readonly seen: SessionEvent[] = [];

  private keep(event: SessionEvent): void {
    if (event.transport === 'ws') this.seen.push(event);
  }

  @OnSessionEvent('start-process')
  startProcess(event: SessionEventOf<'start-process'>) {
    this.keep(event);
  }

  @OnSessionEvent('start-connected-process')
  startConnected(event: SessionEventOf<'start-connected-process'>) {
    this.keep(event);
  }

  @OnSessionEvent('start-unconnected-process')
  startUnconnected(event: SessionEventOf<'start-unconnected-process'>) {
    this.keep(event);
  }

  @OnSessionEvent('client-connected')
  async clientConnected(event: SessionEventOf<'client-connected'>) {
    // Asynchronous on purpose: the next events wait for it.
    await new Promise((resolve) => setImmediate(resolve));
    this.keep(event);
  }

  @OnSessionEvent('client-disconnected')
  clientDisconnected(event: SessionEventOf<'client-disconnected'>) {
    this.keep(event);
  }

  @OnSessionEvent('request')
  request(event: SessionEventOf<'request'>) {
    this.keep(event);
  }

  @OnSessionEvent('connected-request')
  connectedRequest(event: SessionEventOf<'connected-request'>) {
    this.keep(event);
  }

  @OnSessionEvent('unconnected-request')
  unconnectedRequest(event: SessionEventOf<'unconnected-request'>) {
    this.keep(event);
  }

  @OnSessionEvent('denied-request')
  deniedRequest(event: SessionEventOf<'denied-request'>) {
    this.keep(event);
  }
}

const typesOf = (list: SessionEvent[]) => list.map((event) => event.type);

describe.each(ADAPTERS)('socket session events on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    let t: TestApp;
    let events: EventRecorder;
    let hooks: SocketEventHooks;
    const pool = new SocketPool(kind, () => t.url);
    let counter = 0;

    beforeAll(async () => {
      t = await startApp({
        adapter,
        // AuthController: POST /login {user}, POST /logout, GET /me; ClientsController: POST /clients/cart (browser data).
        controllers: [AuthController, ClientsController],
        providers: [LiveGateway, SocketEventHooks],
        configure: sessionSockets(kind, { allowAnonymous: true }),
      });
      events = new EventRecorder(t.app);
      hooks = t.app.get(SocketEventHooks);
    });
    afterEach(() => pool.closeAll());
    afterAll(async () => {
      events.stop();
      await t.close();
    });

    const userId = () => `events-${adapter}-${kind}-${++counter}`;
    const newProcess = (what: string) => processIdFor('ev', what, adapter, kind);

    /** The events of one process, from the recorder (sessionEvents$) and from the hooks. */
    const ofProcess = (list: SessionEvent[], process: string) => list.filter((event) => event.process === process);

    function expectSocketEvents(
      list: SessionEvent[],
      fields: Partial<Record<'userId' | 'session' | 'process', string>>,
      since: number,
    ): void {
      for (const event of list) {
        expect(event.transport).toBe('ws');
        expect(event.at).toBeInstanceOf(Date);
        expect(event.at.getTime()).toBeGreaterThanOrEqual(since);
        expect(event).toMatchObject(fields);
        if (fields.userId === undefined) expect(event.userId).toBeUndefined();
        if (fields.session === undefined) expect(event.session).toBeUndefined();
      }
    }

    it('a connected socket: start-process, start-connected-process, client-connected, request and connected-request per message, client-disconnected', async () => {
      const user = userId();
      const b = await login(t.url, user);
      const session = await handleOf(t.app, user);
      const process = newProcess('life');
      events.clear();
      const since = Date.now();
      const socket = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      expect(typesOf(events.events)).toEqual(['start-process', 'start-connected-process', 'client-connected']);

      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
      expect(await socket.request('public')).toEqual({ event: 'public', data: { user } });
      expect(typesOf(events.events)).toEqual([
        'start-process',
        'start-connected-process',
        'client-connected',
        'request',
        'connected-request',
        'request',
        'connected-request',
      ]);

      await socket.close();
      await eventOf(events, 'client-disconnected', process);
      const expected = [
        'start-process',
        'start-connected-process',
        'client-connected',
        'request',
        'connected-request',
        'request',
        'connected-request',
        'client-disconnected',
      ];
      // Nothing else happened meanwhile, and every event names the same session, user and process.
      expect(typesOf(events.events)).toEqual(expected);
      expectSocketEvents(events.events, { userId: user, session, process }, since);
      // The awaited hooks saw the same events, in the same order.
      expect(typesOf(ofProcess(hooks.seen, process))).toEqual(expected);
    });

    it('a socket without a process id lives under a generated one, the same in all its events', async () => {
      const user = userId();
      const b = await login(t.url, user);
      const session = await handleOf(t.app, user);
      events.clear();
      const since = Date.now();
      const socket = await pool.open({ cookie: b.cookieHeader() });
      const connected = await events.waitFor((event) => event.type === 'client-connected' && event.userId === user);
      const process = connected.process!;
      expect(process).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect((await socket.request('whoami')).data).toEqual({ user });
      await socket.close();
      await eventOf(events, 'client-disconnected', process);
      expect(typesOf(events.events)).toEqual([
        'start-process',
        'start-connected-process',
        'client-connected',
        'request',
        'connected-request',
        'client-disconnected',
      ]);
      expectSocketEvents(events.events, { userId: user, session, process }, since);
    });

    it('an anonymous socket: start-process, start-unconnected-process and no client-connected', async () => {
      const process = newProcess('anon');
      events.clear();
      const since = Date.now();
      const socket = await pool.open({ process });
      await eventOf(events, 'start-unconnected-process', process);
      expect(await socket.request('public')).toEqual({ event: 'public', data: { user: null } });
      // Refused by @Connected: denied, not connected.
      expect((await socket.request('whoami')).data).toMatchObject({ status: 'error', code: 'unauthenticated' });
      expect(typesOf(ofProcess(events.events, process))).toEqual([
        'start-process',
        'start-unconnected-process',
        'request',
        'unconnected-request',
        'request',
        'denied-request',
      ]);
      expect(ofProcess(events.events, process)[5]).toMatchObject({ reason: 'not-connected' });
      expectSocketEvents(ofProcess(events.events, process), { process }, since);

      await socket.close();
      // A connected socket's whole life after it: by then, the anonymous one had long been handled.
      const b = await login(t.url, userId());
      const later = newProcess('after-anon');
      const other = await pool.open({ cookie: b.cookieHeader(), process: later });
      await eventOf(events, 'client-connected', later);
      await other.close();
      await eventOf(events, 'client-disconnected', later);
      expect(events.events.filter((event) => event.type.startsWith('client-') && event.process === process)).toEqual([]);
    });

    it('an anonymous socket with an anonymous session (browser data) is a client of it', async () => {
      const b = new Browser(t.url);
      expect((await b.post('/clients/cart', { item: 'apple' })).status).toBe(201);
      const process = newProcess('anon-session');
      events.clear();
      const since = Date.now();
      const socket = await pool.open({ cookie: b.cookieHeader(), process });
      const connected = await eventOf(events, 'client-connected', process);
      const session = connected.session!;
      expect(typeof session).toBe('string');
      expect((await socket.request('public')).data).toEqual({ user: null });
      await socket.close();
      await eventOf(events, 'client-disconnected', process);
      expect(typesOf(events.events)).toEqual([
        'start-process',
        'start-unconnected-process',
        'client-connected',
        'request',
        'unconnected-request',
        'client-disconnected',
      ]);
      expectSocketEvents(events.events, { session, process }, since);
    });

    it('a process id already seen gives no second start-process', async () => {
      const user = userId();
      const b = await login(t.url, user);
      const process = newProcess('again');
      const first = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      await first.close();
      await eventOf(events, 'client-disconnected', process);

      // The same id on a new socket, two at once, and on HTTP: no start-* event any more.
      events.clear();
      const again = await pool.open({ cookie: b.cookieHeader(), process });
      const twin = await pool.open({ cookie: b.cookieHeader(), process });
      await waitUntil(() => events.events.filter((event) => event.type === 'client-connected').length === 2);
      expect((await again.request('whoami')).data).toEqual({ user });
      expect((await twin.request('whoami')).data).toEqual({ user });
      expect((await b.get('/me', { headers: { 'x-process-id': process } })).body).toEqual({ user });
      expect(typesOf(events.events)).toEqual([
        'client-connected',
        'client-connected',
        'request',
        'connected-request',
        'request',
        'connected-request',
        'request',
        'connected-request',
      ]);
      expect(events.events.at(-1)).toMatchObject({ transport: 'http', process });

      // An id first seen over HTTP starts its process there; a socket naming it later starts none.
      const fromHttp = newProcess('http-first');
      events.clear();
      expect((await b.get('/me', { headers: { 'x-process-id': fromHttp } })).status).toBe(200);
      expect(typesOf(events.events)).toEqual(['request', 'start-process', 'start-connected-process', 'connected-request']);
      expect(events.events[1]).toMatchObject({ transport: 'http', process: fromHttp });
      events.clear();
      const late = await pool.open({ cookie: b.cookieHeader(), process: fromHttp });
      await eventOf(events, 'client-connected', fromHttp);
      expect((await late.request('whoami')).data).toEqual({ user });
      expect(typesOf(events.events)).toEqual(['client-connected', 'request', 'connected-request']);
    });

    it('a refused message gives denied-request with its reason', async () => {
      const user = userId();
      const b = await login(t.url, user);
      const session = await handleOf(t.app, user);
      const process = newProcess('denied');
      const socket: TestSocket = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      events.clear();
      const since = Date.now();
      // `admin` needs the group admin, which nobody has here.
      expect(await socket.request('admin')).toEqual({
        event: 'exception',
        data: { status: 'error', code: 'forbidden', message: 'Permission denied' },
      });
      expect(typesOf(events.events)).toEqual(['request', 'denied-request']);
      expect(events.events[1]).toMatchObject({ reason: 'forbidden' });
      expectSocketEvents(events.events, { userId: user, session, process }, since);
      // The socket is still served.
      expect((await socket.request('whoami')).data).toEqual({ user });
      expect(typesOf(events.events)).toEqual(['request', 'denied-request', 'request', 'connected-request']);
    });

    it('a socket closed by logout gives client-disconnected after the session closes', async () => {
      const user = userId();
      const b = await login(t.url, user);
      const session = await handleOf(t.app, user);
      const process = newProcess('logout');
      const socket = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      events.clear();
      expect((await b.post('/logout')).status).toBe(201);
      expect((await socket.ended).reason).toBe('session_closed');
      const disconnected = await eventOf(events, 'client-disconnected', process);
      expect(disconnected).toMatchObject({ transport: 'ws', userId: user, session, process });
      const types = typesOf(events.events);
      expect(types.filter((type) => type === 'client-disconnected')).toHaveLength(1);
      expect(types.indexOf('post-close-session')).toBeGreaterThanOrEqual(0);
      expect(types.indexOf('pre-close-session')).toBeLessThan(types.indexOf('client-disconnected'));
    });
  });
});

describe.each(ADAPTERS)('socket events with two gateways on one server on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    let t: TestApp;
    let events: EventRecorder;
    const pool = new SocketPool(kind, () => t.url);

    beforeAll(async () => {
      t = await startApp({
        adapter,
        controllers: [AuthController],
        // Both gateways are on the default path / namespace: the sockets are the same, each gateway sees them.
        providers: [LiveGateway, ClientsGateway],
        configure: sessionSockets(kind),
      });
      events = new EventRecorder(t.app);
    });
    afterEach(() => pool.closeAll());
    afterAll(async () => {
      events.stop();
      await t.close();
    });

    it('a socket is one client: one client-connected, one client-disconnected', async () => {
      const user = `events-two-${adapter}-${kind}`;
      const b = await login(t.url, user);
      const session = await handleOf(t.app, user);
      const process = processIdFor('two', adapter, kind);
      events.clear();
      const socket = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      // A message of each gateway.
      expect((await socket.request('public')).data).toEqual({ user });
      expect((await socket.request('process')).data).toEqual({ process });
      await socket.close();
      await eventOf(events, 'client-disconnected', process);
      // One more round trip on another socket, so that a late duplicate would have arrived.
      const other = await pool.open({ cookie: b.cookieHeader() });
      expect((await other.request('whoami')).data).toEqual({ user });
      expect(typesOf(events.events.filter((event) => event.process === process))).toEqual([
        'start-process',
        'start-connected-process',
        'client-connected',
        'request',
        'connected-request',
        'request',
        'connected-request',
        'client-disconnected',
      ]);
      expect(events.events.filter((event) => event.process === process).every((event) => event.session === session)).toBe(true);
    });
  });
});
