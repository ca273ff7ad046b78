import { ADAPTERS, type AdapterName } from '../support/app.js';
import { sleep, waitUntil } from '../support/lifecycle-helpers.js';
import { ProcessFaults } from '../support/process-faults.js';
import { clientEventsSince, clientEventsOf, currentHandle, login, startSseApp, type SseApp } from '../support/sse-apps.js';
import { SsePool, type SseConnection } from '../support/sse-client.js';
import { sseCallsFor } from '../support/sse-controller.js';

/**
 * An `@Sse()` stream that runs with a session is a client of that session, as a socket is: `client-connected` when
 * it starts and `client-disconnected` when it ends (transport 'sse'), and the session's in-memory values with an
 * `onNoClient` are asked whether they stay when its last client (here, its last stream) goes away.
 */
describe.each(ADAPTERS)('SSE streams are clients of their session on %s', (adapter: AdapterName) => {
  let s: SseApp;
  const pool = new SsePool(() => s.t.url);
  const faults = new ProcessFaults();
  let counter = 0;
  const unique = (what: string) => `sse-clients-${what}-${adapter}-${++counter}`;

  beforeAll(async () => {
    s = await startSseApp({ adapter });
  });
  beforeEach(() => faults.install());
  afterEach(async () => {
    await pool.closeAll();
    faults.uninstall();
  });
  afterAll(() => s.close());

  /** Opens `/sse/<route>` with the browser's cookie and waits for its first event (a `hello` or a `tick`). */
  async function stream(route: string, tag: string, cookie: string): Promise<SseConnection> {
    const connection = await pool.connect(`/sse/${route}?tag=${tag}`, { cookie });
    expect({ status: connection.status, isStream: connection.isStream }).toEqual({ status: 200, isStream: true });
    await connection.next(route === 'ticks' ? 'tick' : 'hello');
    return connection;
  }

  function waitForClientEvent(type: 'client-connected' | 'client-disconnected', handle: string, count = 1): Promise<void> {
    return waitUntil(
      () => s.events.events.filter((event) => event.type === type && event.session === handle).length >= count,
      10_000,
      `${count} ${type} event(s) of the session`,
    );
  }

  it('client-connected when the stream starts, client-disconnected when its client aborts it: transport sse, handle, user', async () => {
    const user = unique('events');
    const tag = unique('tag');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);

    const live = await stream('live', tag, b.cookieHeader());
    expect(JSON.parse(live.events[0]!.data)).toEqual({ user });
    await waitForClientEvent('client-connected', handle);
    // While the stream is open, the session has a client and nothing disconnected.
    expect((await b.get('/me')).body).toEqual({ user });
    const connected = { type: 'client-connected', transport: 'sse', session: handle, userId: user };
    expect(clientEventsOf(s.events.events, handle)).toEqual([expect.objectContaining(connected)]);

    expect((await live.close()).how).toBe('aborted');
    await waitForClientEvent('client-disconnected', handle);
    const disconnected = { type: 'client-disconnected', transport: 'sse', session: handle, userId: user };
    expect(clientEventsOf(s.events.events, handle)).toEqual([expect.objectContaining(connected), expect.objectContaining(disconnected)]);
    // The same two events reached the @OnSessionEvent hooks, in the same order.
    expect(s.hooks.seen.filter((event) => event.session === handle)).toEqual([
      expect.objectContaining(connected),
      expect.objectContaining(disconnected),
    ]);
    // The stream's producer was unsubscribed once; the session itself lives on.
    await waitUntil(() => s.journal.tornDown(tag) > 0, 10_000, 'the producer to be torn down');
    expect(s.journal.tornDown(tag)).toBe(1);
    expect(s.journal.runsOf(tag)).toEqual(['live']);
    expect((await b.get('/me')).body).toEqual({ user });
    expect(faults.describe()).toEqual([]);
  });

  it('each stream is a client of its own session only; closing one leaves the others connected', async () => {
    const ann = unique('ann');
    const bob = unique('bob');
    const annA = await login(s.t.url, ann);
    const annB = await login(s.t.url, ann);
    const bobB = await login(s.t.url, bob);
    const [hA, hB, hBob] = [await currentHandle(annA), await currentHandle(annB), await currentHandle(bobB)];
    expect(new Set([hA, hB, hBob]).size).toBe(3);

    const a1 = await stream('live', unique('a1'), annA.cookieHeader());
    const a2 = await stream('live', unique('a2'), annA.cookieHeader());
    const b1 = await stream('ticks', unique('b1'), annB.cookieHeader());
    const c1 = await stream('live', unique('c1'), bobB.cookieHeader());
    await waitForClientEvent('client-connected', hA, 2);
    await waitForClientEvent('client-connected', hB);
    await waitForClientEvent('client-connected', hBob);
    for (const [handle, user] of [
      [hA, ann],
      [hB, ann],
      [hBob, bob],
    ] as const) {
      for (const event of clientEventsOf(s.events.events, handle)) {
        expect(event).toMatchObject({ type: 'client-connected', transport: 'sse', session: handle, userId: user });
      }
    }

    await a1.close();
    await waitForClientEvent('client-disconnected', hA);
    expect(clientEventsOf(s.events.events, hA).map((event) => event.type)).toEqual([
      'client-connected',
      'client-connected',
      'client-disconnected',
    ]);
    // Nobody else was disconnected, and the other streams go on.
    expect(clientEventsOf(s.events.events, hB).map((event) => event.type)).toEqual(['client-connected']);
    expect(clientEventsOf(s.events.events, hBob).map((event) => event.type)).toEqual(['client-connected']);
    const ticks = b1.named('tick').length;
    await b1.waitFor(() => b1.named('tick').length > ticks + 1, 10_000, 'two more ticks');
    for (const open of [a2, b1, c1]) expect(open.end).toBeUndefined();

    await Promise.all([a2.close(), b1.close(), c1.close()]);
    await waitForClientEvent('client-disconnected', hA, 2);
    await waitForClientEvent('client-disconnected', hB);
    await waitForClientEvent('client-disconnected', hBob);
    for (const handle of [hA, hB, hBob]) {
      const types = clientEventsOf(s.events.events, handle).map((event) => event.type);
      expect(types.filter((type) => type === 'client-connected').length).toBe(
        types.filter((type) => type === 'client-disconnected').length,
      );
    }
  });

  it('onNoClient runs when the last stream of the session goes away, and not while one is open', async () => {
    const user = unique('noclient');
    const value = unique('value');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);
    expect((await b.post('/sse/drop', { value })).status).toBe(201);

    const first = await stream('live', unique('first'), b.cookieHeader());
    const second = await stream('ticks', unique('second'), b.cookieHeader());
    await waitForClientEvent('client-connected', handle, 2);
    // Requests of the session come and go while the streams are open: they are no clients, nothing is asked.
    for (let i = 0; i < 3; i++) expect((await b.get('/sse/drop')).body).toEqual({ value });
    await second.waitFor(() => second.named('tick').length >= 3, 10_000, 'three ticks');
    expect(sseCallsFor(value)).toEqual([]);

    // One of the two streams goes: the other is still a client, the value stays.
    await first.close();
    await waitForClientEvent('client-disconnected', handle);
    expect((await b.get('/sse/drop')).body).toEqual({ value });
    expect(sseCallsFor(value)).toEqual([]);

    // The last one goes: onNoClient says false, the value is dropped without onDelete.
    await second.close();
    await waitForClientEvent('client-disconnected', handle, 2);
    await waitUntil(() => sseCallsFor(value).length > 0, 10_000, 'onNoClient to run');
    expect((await b.get('/sse/drop')).body).toEqual({ value: null });
    expect(sseCallsFor(value)).toEqual([{ hook: 'onNoClient', value }]);
    // The session itself lives on; its logout later finds nothing left to delete.
    expect((await b.get('/me')).body).toEqual({ user });
    expect((await b.post('/logout')).status).toBe(201);
    await sleep(50);
    expect(sseCallsFor(value)).toEqual([{ hook: 'onNoClient', value }]);
    expect(faults.describe()).toEqual([]);
  });

  it('a stream that ends with its session: the value goes with onDelete once, onNoClient is not asked', async () => {
    const user = unique('closed');
    const value = unique('value');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);
    expect((await b.post('/sse/drop', { value })).status).toBe(201);
    const live = await stream('live', unique('tag'), b.cookieHeader());
    await waitForClientEvent('client-connected', handle);

    expect((await b.post('/logout')).status).toBe(201);
    expect((await live.next('session_end')).data).toBe('{"reason":"session_closed"}');
    await live.endWithin();
    await waitForClientEvent('client-disconnected', handle);
    await waitUntil(() => sseCallsFor(value).length > 0, 10_000, 'onDelete to run');
    await sleep(50);
    expect(sseCallsFor(value)).toEqual([{ hook: 'onDelete', value }]);
    expect(faults.describe()).toEqual([]);
  });

  it('a stream of a route without @Connected that runs with a session is a client of it too', async () => {
    const user = unique('public');
    const tag = unique('tag');
    const b = await login(s.t.url, user);
    const handle = await currentHandle(b);
    const open = await stream('open', tag, b.cookieHeader());
    expect(JSON.parse(open.events[0]!.data)).toEqual({ user });
    await waitForClientEvent('client-connected', handle);
    expect(clientEventsOf(s.events.events, handle)).toEqual([
      expect.objectContaining({ type: 'client-connected', transport: 'sse', session: handle, userId: user }),
    ]);
    await open.close();
    await waitForClientEvent('client-disconnected', handle);
    expect(clientEventsOf(s.events.events, handle).map((event) => event.type)).toEqual(['client-connected', 'client-disconnected']);
  });

  it('a stream of a route without @Connected and without a session is nobody’s client', async () => {
    const tag = unique('anon');
    const before = s.events.events.length;
    const open = await stream('open', tag, '');
    expect(JSON.parse(open.events[0]!.data)).toEqual({ user: null });
    // The stream is served (its producer runs), and no client event is sent for it, while open or after.
    expect(s.journal.runsOf(tag)).toEqual(['open']);
    expect((await open.close()).how).toBe('aborted');
    await waitUntil(() => s.journal.tornDown(tag) > 0, 10_000, 'the producer to be torn down');
    expect(clientEventsSince(s.events.events, before)).toEqual([]);
  });
});
