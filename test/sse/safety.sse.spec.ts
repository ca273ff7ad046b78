import { ADAPTERS, SECRET, type AdapterName } from '../support/app.js';
import { idOf, NOT_CONNECTED, randomId, signWith } from '../support/auth-helpers.js';
import { GatedStore } from '../support/gated-store.js';
import { sleep, waitUntil } from '../support/lifecycle-helpers.js';
import { ProcessFaults } from '../support/process-faults.js';
import { clientEventsOf, clientEventsSince, currentHandle, login, startSseApp, type SseApp } from '../support/sse-apps.js';
import { openSse, SsePool, type SseConnection } from '../support/sse-client.js';
import { sseCallsFor } from '../support/sse-controller.js';

/**
 * Nothing a client sends or does to a stream throws or leaks: a stream aborted at any point (before its status,
 * right after it, mid-way) leaves no client registered and no producer running, hostile cookies and headers are
 * answered as no session, and the server keeps answering. Every test also checks that the process saw no
 * uncaught exception or unhandled rejection.
 */

/** True when every client-connected of the session was followed by its client-disconnected. */
function balanced(s: SseApp, handle: string): boolean {
  const types = clientEventsOf(s.events.events, handle).map((event) => event.type);
  return types.filter((type) => type === 'client-connected').length === types.filter((type) => type === 'client-disconnected').length;
}

describe.each(ADAPTERS)('SSE safety on %s', (adapter: AdapterName) => {
  const faults = new ProcessFaults();
  let counter = 0;
  const unique = (what: string) => `sse-safety-${what}-${adapter}-${++counter}`;

  beforeEach(() => faults.install());
  afterEach(() => faults.uninstall());

  describe('streams aborted by their client', () => {
    let s: SseApp;
    const pool = new SsePool(() => s.t.url);
    beforeAll(async () => {
      s = await startSseApp({ adapter });
    });
    afterEach(() => pool.closeAll());
    afterAll(() => s.close());

    it('mid-way: the producer stops, the client leaves, the server and the session go on', async () => {
      const user = unique('mid');
      const b = await login(s.t.url, user);
      const handle = await currentHandle(b);
      const tag = unique('tag');
      const stream = await pool.connect(`/sse/ticks?tag=${tag}`, { cookie: b.cookieHeader() });
      await stream.waitFor(() => stream.named('tick').length >= 3, 10_000, 'three ticks');
      expect((await stream.close()).how).toBe('aborted');

      await waitUntil(() => s.journal.tornDown(tag) === 1, 10_000, 'the producer to be torn down');
      await s.events.waitFor((event) => event.type === 'client-disconnected' && event.session === handle);
      const computed = s.journal.ticks.filter((tick) => tick.tag === tag).length;
      await sleep(200);
      expect(s.journal.ticks.filter((tick) => tick.tag === tag).length).toBe(computed);
      expect(clientEventsOf(s.events.events, handle).map((event) => event.type)).toEqual(['client-connected', 'client-disconnected']);
      expect((await b.get('/me')).body).toEqual({ user });
      const again = await pool.connect(`/sse/ticks?tag=${unique('again')}`, { cookie: b.cookieHeader() });
      expect(JSON.parse((await again.next('tick')).data)).toMatchObject({ user });
      expect(faults.describe()).toEqual([]);
    });

    it('twenty streams opened and aborted at once leave nothing: onNoClient waits for the last real client', async () => {
      const user = unique('burst');
      const value = unique('value');
      const b = await login(s.t.url, user);
      const handle = await currentHandle(b);
      expect((await b.post('/sse/drop', { value })).status).toBe(201);
      const keeper = await pool.connect(`/sse/live?tag=${unique('keeper')}`, { cookie: b.cookieHeader() });
      await keeper.next('hello');
      await s.events.waitFor((event) => event.type === 'client-connected' && event.session === handle);

      const tags = Array.from({ length: 20 }, () => unique('burst-tag'));
      await Promise.all(
        tags.map(async (tag) => {
          const stream = await openSse(s.t.url, `/sse/live?tag=${tag}`, { cookie: b.cookieHeader() });
          expect(stream.status).toBe(200);
          await stream.close();
        }),
      );
      // Every producer that ran was torn down once, and every client that joined left.
      await waitUntil(
        () => tags.every((tag) => s.journal.tornDown(tag) === s.journal.runsOf(tag).length),
        10_000,
        'every producer to stop',
      );
      for (const tag of tags) expect(s.journal.tornDown(tag)).toBeLessThanOrEqual(1);
      await waitUntil(
        () => clientEventsOf(s.events.events, handle).filter((event) => event.type === 'client-disconnected').length === 20,
        10_000,
        'the 20 aborted streams to leave',
      );
      // The keeper is still a client: the value stays, and onNoClient was never asked.
      expect(keeper.end).toBeUndefined();
      expect((await b.get('/sse/drop')).body).toEqual({ value });
      expect(sseCallsFor(value)).toEqual([]);

      await keeper.close();
      await waitUntil(() => balanced(s, handle), 10_000, 'the keeper to leave');
      await waitUntil(() => sseCallsFor(value).length > 0, 10_000, 'onNoClient to run');
      expect(sseCallsFor(value)).toEqual([{ hook: 'onNoClient', value }]);
      expect((await b.get('/sse/drop')).body).toEqual({ value: null });
      expect(faults.describe()).toEqual([]);
    });
  });

  describe('many streams of one session', () => {
    let s: SseApp;
    const pool = new SsePool(() => s.t.url);
    beforeAll(async () => {
      s = await startSseApp({ adapter });
    });
    afterEach(() => pool.closeAll());
    afterAll(() => s.close());

    it('a session holds at most 50 streams: the next one is a 429 too_many_clients before anything streams', async () => {
      const user = unique('cap');
      const b = await login(s.t.url, user);
      const handle = await currentHandle(b);
      const streams = await Promise.all(
        Array.from({ length: 50 }, () => pool.connect(`/sse/live?tag=${unique('held')}`, { cookie: b.cookieHeader() })),
      );
      for (const stream of streams) expect(stream.status).toBe(200);
      await Promise.all(streams.map((stream) => stream.next('hello')));
      await waitUntil(() => clientEventsOf(s.events.events, handle).length === 50, 10_000, '50 client-connected events');

      const tag = unique('refused');
      const refused = await pool.connect(`/sse/live?tag=${tag}`, { cookie: b.cookieHeader() });
      expect({ status: refused.status, isStream: refused.isStream, body: refused.body }).toEqual({
        status: 429,
        isStream: false,
        body: expect.objectContaining({ statusCode: 429, code: 'too_many_clients' }),
      });
      expect(s.journal.runsOf(tag)).toEqual([]);
      expect(clientEventsOf(s.events.events, handle)).toHaveLength(50);
      // The 50 go on, and the session itself is untouched.
      for (const stream of streams) expect(stream.end).toBeUndefined();
      expect((await b.get('/me')).body).toEqual({ user });

      // One leaves: there is room for one again.
      await streams[0]!.close();
      await s.events.waitFor((event) => event.type === 'client-disconnected' && event.session === handle);
      const again = await pool.connect(`/sse/live?tag=${unique('again')}`, { cookie: b.cookieHeader() });
      expect(again.status).toBe(200);
      expect(JSON.parse((await again.next('hello')).data)).toEqual({ user });
      expect(faults.describe()).toEqual([]);
    });
  });

  describe('a stream aborted before its status, while its session check waits on the store', () => {
    let s: SseApp;
    let store: GatedStore;
    beforeAll(async () => {
      store = new GatedStore();
      s = await startSseApp({ adapter, policy: { store } });
    });
    afterEach(() => store.release());
    afterAll(() => s.close());

    it('leaves no client and no producer, and the server answers the next request', async () => {
      const user = unique('early');
      const b = await login(s.t.url, user);
      const [[handle]] = await store.inner.listUser(user);
      const tag = unique('tag');
      const controller = new AbortController();

      store.hold();
      const opening = openSse(s.t.url, `/sse/live?tag=${tag}`, { cookie: b.cookieHeader(), signal: controller.signal });
      await waitUntil(() => store.waiting === 1, 10_000, 'the session check to wait on the store');
      controller.abort();
      await expect(opening).rejects.toMatchObject({ name: 'AbortError' });
      store.release();

      // Whatever the server got to do for the gone request, it undid.
      await waitUntil(() => s.journal.tornDown(tag) === s.journal.runsOf(tag).length, 10_000, 'any producer to be torn down');
      await waitUntil(() => balanced(s, handle!), 10_000, 'any client to leave');
      await sleep(100);
      expect(s.journal.tornDown(tag)).toBe(s.journal.runsOf(tag).length);
      expect(balanced(s, handle!)).toBe(true);
      expect((await b.get('/me')).body).toEqual({ user });
      const stream = await openSse(s.t.url, `/sse/live?tag=${unique('next')}`, { cookie: b.cookieHeader() });
      try {
        expect(JSON.parse((await stream.next('hello')).data)).toEqual({ user });
      } finally {
        await stream.close();
      }
      expect(faults.describe()).toEqual([]);
    });
  });

  describe('hostile cookies and headers', () => {
    let s: SseApp;
    const pool = new SsePool(() => s.t.url);
    let valid: string;
    let victim: string;
    beforeAll(async () => {
      s = await startSseApp({ adapter });
      victim = unique('victim');
      const b = await login(s.t.url, victim);
      valid = b.jar.get('sid')!;
    });
    afterEach(() => pool.closeAll());
    afterAll(() => s.close());

    const cookies: Array<[string, () => string]> = [
      ['garbage', () => 'sid=garbage'],
      ['a forged tag', () => `sid=${idOf(valid)}.${randomId()}`],
      ['the unsigned id', () => `sid=${idOf(valid)}`],
      ['an unknown id signed with the right secret', () => `sid=${signWith(SECRET)}`],
      ['bad percent-encoding', () => 'sid=%E0%A4%A'],
      ['__proto__ names', () => '__proto__=x; constructor=y; sid=__proto__'],
      ['a 4 KB value', () => `sid=${'A'.repeat(4096)}`],
      ['an empty value', () => 'sid='],
      ['only separators', () => ';;; ;='],
    ];

    it.each(cookies)(
      '%s: the guarded stream is a 401, the optional one streams as nobody; the victim streams on',
      async (_what, cookie) => {
        const before = s.events.events.length;
        const guardedTag = unique('guarded');
        const guarded = await pool.connect(`/sse/live?tag=${guardedTag}`, { cookie: cookie() });
        expect({ status: guarded.status, isStream: guarded.isStream, body: guarded.body }).toEqual({
          status: 401,
          isStream: false,
          body: NOT_CONNECTED,
        });
        expect(s.journal.runsOf(guardedTag)).toEqual([]);
        const optional = await pool.connect(`/sse/maybe?tag=${unique('optional')}`, { cookie: cookie() });
        expect({ status: optional.status, isStream: optional.isStream }).toEqual({ status: 200, isStream: true });
        expect(JSON.parse((await optional.next('hello')).data)).toEqual({ user: null });
        await optional.close();
        expect(clientEventsSince(s.events.events, before)).toEqual([]);

        const real = await pool.connect(`/sse/live?tag=${unique('victim')}`, { cookie: `sid=${valid}` });
        expect(JSON.parse((await real.next('hello')).data)).toEqual({ user: victim });
        await real.close();
        expect(faults.describe()).toEqual([]);
      },
    );

    it('a duplicated session cookie is no session, and deletes nothing', async () => {
      const reply = await pool.connect(`/sse/live?tag=${unique('dup')}`, { cookie: `sid=${valid}; sid=${signWith(SECRET)}` });
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 401, body: NOT_CONNECTED });
      expect(reply.headers.getSetCookie()).toEqual([]);
      const real = await pool.connect(`/sse/live?tag=${unique('after-dup')}`, { cookie: `sid=${valid}` });
      expect(JSON.parse((await real.next('hello')).data)).toEqual({ user: victim });
    });

    it('odd headers (a bad process id, a Last-Event-ID, no Accept) change nothing', async () => {
      const variants: Array<Record<string, string>> = [
        { 'x-process-id': 'not a valid id!' },
        { 'x-process-id': 'x'.repeat(500) },
        { 'last-event-id': '../../etc/passwd' },
        { accept: 'application/json' },
      ];
      for (const headers of variants) {
        const stream = await pool.connect(`/sse/live?tag=${unique('hdr')}`, { cookie: `sid=${valid}`, headers });
        expect({ headers, status: stream.status }).toEqual({ headers, status: 200 });
        expect(JSON.parse((await stream.next('hello')).data)).toEqual({ user: victim });
        await stream.close();
      }
      expect(faults.describe()).toEqual([]);
    });
  });

  describe('application shutdown with session streams open', () => {
    // The streams of sessions are the library's clients. (A stream without a session holds app.close() as any
    // never-ending Nest stream does, unless the application sets forceCloseConnections: that is Nest's.)
    it('app.close() ends the streams of sessions and does not hang', async () => {
      const s = await startSseApp({ adapter });
      let streams: SseConnection[] = [];
      let closed = false;
      let closing: Promise<unknown> | undefined;
      try {
        const b = await login(s.t.url, unique('shutdown'));
        streams = [
          await openSse(s.t.url, `/sse/live?tag=${unique('a')}`, { cookie: b.cookieHeader() }),
          await openSse(s.t.url, `/sse/ticks?tag=${unique('b')}`, { cookie: b.cookieHeader() }),
        ];
        for (const stream of streams) await stream.waitFor(() => true, 10_000, 'a first event');
        closing = s.close().then(() => (closed = true));
        await waitUntil(() => closed, 10_000, 'app.close() to finish while the session streams are open');
        await closing;
        for (const stream of streams) expect((await stream.endWithin(5000)).how).not.toBe('aborted');
        expect(faults.describe()).toEqual([]);
      } finally {
        // Should close() be stuck on the streams, aborting them lets it finish.
        await Promise.all(streams.map((stream) => stream.close()));
        await (closing ?? s.close());
      }
    });
  });
});
