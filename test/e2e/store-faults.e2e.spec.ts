import { Body, Controller, Get, Post } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { cookiesNamed } from '../support/auth-helpers.js';
import { Browser, type Reply } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';
import { FaultyStore, type FaultMode } from '../support/lifecycle-helpers.js';
import { NoteController } from '../support/note.controller.js';

/**
 * The routes whose answer during an outage these tests pin down: a public route that never reads the session
 * (GET /public → {ok: true}), login, a logout that needs a user, and an optional route.
 */
@Controller()
class FaultsController {
  constructor(private readonly sessions: SessionService) {}

  @Get('public')
  open() {
    return { ok: true };
  }

  @Post('login')
  async login(@Body() body: { user: string }) {
    await this.sessions.connect(body.user);
    return { ok: true };
  }

  @Connected()
  @Post('logout')
  async logout() {
    await this.sessions.disconnect();
    return { ok: true };
  }

  @Connected({ optional: true })
  @Get('maybe')
  maybe(@CurrentUser() user: string | undefined) {
    return { user: user ?? null };
  }
}

function expectUnavailable(reply: Reply): void {
  expect(reply.status).toBe(503);
  expect(reply.body).toMatchObject({ statusCode: 503, code: 'store_unavailable', message: 'Session store unavailable' });
  expect(cookiesNamed(reply, 'sid')).toEqual([]);
}

describe.each(ADAPTERS)('a sick session store on %s', (adapter) => {
  let t: TestApp;
  let store: FaultyStore;

  beforeAll(async () => {
    store = new FaultyStore();
    // NoteController: GET /me (@Connected) → {user, note}, POST /note {note}. CartController: POST /cart {item}, GET /cart.
    t = await startApp({ adapter, controllers: [FaultsController, NoteController, CartController], policy: { store, storeTimeout: 200 } });
  });
  afterEach(() => {
    store.mode = 'ok';
  });
  afterAll(() => t.close());

  for (const mode of ['reject', 'hang'] as FaultMode[]) {
    it(`${mode}: routes that need the session answer 503, public ones 200, nothing is lost`, async () => {
      const user = `faults-${mode}-${adapter}`;
      const b = new Browser(t.url);
      expect((await b.post('/login', { user })).status).toBe(201);
      expect((await b.post('/note', { note: 'kept' })).status).toBe(201);
      const cookie = b.jar.get('sid');
      expect(cookie).toBeDefined();
      const listed = await store.inner.listUser(user);
      expect(listed).toHaveLength(1);
      const [handle, before] = listed[0]!;
      const size = store.size;

      store.mode = mode;
      const calls = Object.values(store.calls).reduce((a, n) => a + n, 0);
      expectUnavailable(await b.get('/me'));
      expectUnavailable(await b.get('/maybe'));
      expectUnavailable(await b.post('/note', { note: 'lost?' }));
      expectUnavailable(await b.post('/logout'));
      // A public route goes on without the session, and leaves the cookie alone.
      const open = await b.get('/public');
      expect(open.status).toBe(200);
      expect(open.body).toEqual({ ok: true });
      expect(open.setCookies).toEqual([]);
      // Login issues no cookie, for this browser or a new one.
      expectUnavailable(await b.post('/login', { user }));
      const stranger = new Browser(t.url);
      expectUnavailable(await stranger.post('/login', { user: `${user}-new` }));
      expect(stranger.jar.size).toBe(0);
      // Browser data cannot open an anonymous session either.
      expectUnavailable(await stranger.post('/cart', { item: 'apple' }));
      expect(stranger.jar.size).toBe(0);
      // The store was asked (this is a fault of the store, not a short-cut).
      expect(Object.values(store.calls).reduce((a, n) => a + n, 0)).toBeGreaterThan(calls);
      expect(b.jar.get('sid')).toBe(cookie);

      store.mode = 'ok';
      // Nothing was written or removed meanwhile.
      expect(store.size).toBe(size);
      expect((await store.inner.get(handle))?.data).toEqual(before.data);
      expect(await store.inner.listUser(`${user}-new`)).toEqual([]);
      // The same cookie works again, with its data.
      const me = await b.get('/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user, note: 'kept' });
      expect((await b.get('/maybe')).body).toEqual({ user });
      expect((await stranger.post('/login', { user: `${user}-new` })).status).toBe(201);
      expect((await stranger.get('/me')).body).toEqual({ user: `${user}-new`, note: null });
      expect((await b.post('/logout')).status).toBe(201);
      expect((await stranger.post('/logout')).status).toBe(201);
      expect(await store.inner.listUser(user)).toEqual([]);
    });
  }

  it('an outage in the middle of a request (after the session was read) is a 503 too', async () => {
    const b = new Browser(t.url);
    expect((await b.post('/login', { user: `faults-mid-${adapter}` })).status).toBe(201);
    // Reads succeed (the guard resolves the session), then the write fails.
    const inner = store.inner;
    const setField = inner.setField.bind(inner);
    let failing = true;
    inner.setField = async (...args: Parameters<typeof setField>) => {
      if (failing) throw new Error('injected write fault');
      return setField(...args);
    };
    try {
      expectUnavailable(await b.post('/note', { note: 'x' }));
      failing = false;
      expect((await b.get('/me')).body).toEqual({ user: `faults-mid-${adapter}`, note: null });
      expect((await b.post('/note', { note: 'y' })).status).toBe(201);
      expect((await b.get('/me')).body).toEqual({ user: `faults-mid-${adapter}`, note: 'y' });
    } finally {
      inner.setField = setField;
    }
    await b.post('/logout');
  });

  it('a store that fails half-way through a login loses neither the previous session nor its browser data', async () => {
    const user = `faults-half-${adapter}`;
    const b = new Browser(t.url);
    expect((await b.post('/cart', { item: 'apple' })).status).toBe(201);
    expect((await b.post('/login', { user })).status).toBe(201);
    const cookie = b.jar.get('sid');
    // Reading and closing the current session work; opening the new one fails.
    const inner = store.inner;
    const create = inner.create.bind(inner);
    inner.create = async () => {
      throw new Error('injected create fault');
    };
    try {
      expectUnavailable(await b.post('/login', { user: `${user}-2` }));
    } finally {
      inner.create = create;
    }
    expect(b.jar.get('sid')).toBe(cookie);
    // Once the store is well again, the browser is where it was: logged in, with its cart.
    expect((await b.get('/cart')).body).toEqual({ cart: 'apple' });
    const me = await b.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user, note: null });
    expect(await inner.listUser(user)).toHaveLength(1);
    expect(Object.values((await inner.listUser(user))[0]![1].data)).toEqual([JSON.stringify('apple')]);
    await b.post('/logout');
  });
});

/** A FaultyStore that also answers reads synchronously, as MemoryStore does; any fault mode makes `peek` throw. */
class PeekingFaultyStore extends FaultyStore {
  peek(key: string) {
    this.calls['peek'] = (this.calls['peek'] ?? 0) + 1;
    if (this.mode !== 'ok') throw new Error('injected fault in peek');
    return this.inner.peek(key);
  }
}

describe.each(ADAPTERS)('a store that can peek, failing on %s', (adapter) => {
  let t: TestApp;
  let store: PeekingFaultyStore;

  beforeAll(async () => {
    store = new PeekingFaultyStore();
    t = await startApp({ adapter, controllers: [FaultsController, NoteController], policy: { store, storeTimeout: 200 } });
  });
  afterAll(() => t.close());

  it('reads go through peek, not get; a throwing peek is a 503 where the session is needed, and nothing is lost', async () => {
    const user = `faults-peek-${adapter}`;
    const b = new Browser(t.url);
    expect((await b.post('/login', { user })).status).toBe(201);
    expect((await b.post('/note', { note: 'kept' })).status).toBe(201);
    const [handle, before] = (await store.inner.listUser(user))[0]!;
    const size = store.size;

    const gets = store.calls['get'] ?? 0;
    const peeks = store.calls['peek'] ?? 0;
    expect((await b.get('/me')).body).toEqual({ user, note: 'kept' });
    expect(store.calls['get'] ?? 0).toBe(gets);
    expect(store.calls['peek']).toBe(peeks + 1);

    store.mode = 'reject';
    expectUnavailable(await b.get('/me'));
    expectUnavailable(await b.get('/maybe'));
    expectUnavailable(await b.post('/note', { note: 'lost?' }));
    const open = await b.get('/public');
    expect(open.status).toBe(200);
    expect(open.setCookies).toEqual([]);
    expect(store.calls['peek']).toBeGreaterThan(peeks + 1);

    store.mode = 'ok';
    expect(store.size).toBe(size);
    expect((await store.inner.get(handle))?.data).toEqual(before.data);
    expect((await b.get('/me')).body).toEqual({ user, note: 'kept' });
    expect((await b.get('/maybe')).body).toEqual({ user });
    expect((await b.post('/logout')).status).toBe(201);
    expect(await store.inner.listUser(user)).toEqual([]);
  });
});
