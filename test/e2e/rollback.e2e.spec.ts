import { Body, Controller, Get, Injectable, Post } from '@nestjs/common';
import { MemoryStore, OnSessionEvent, SessionKey, SessionService, type SessionEventOf } from '../../lib/index.js';
import { MAX_PROCESSES } from '../../lib/session/local-values.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { expiresCookie, NOT_CONNECTED } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { EventRecorder } from '../support/lifecycle-helpers.js';

// What happens when a step of a login, a logout or a failed check goes wrong half-way: nothing is lost, nothing is
// cleaned up twice, and the answer says what happened.

/** `onDelete` calls per key, by value. */
const deleted: Record<string, string[]> = { cart: [], handle: [], tab: [] };
const CART = new SessionKey<string>('rollback.cart', { scope: 'browser', persist: true, onDelete: (v) => void deleted['cart']!.push(v) });
const HANDLE = new SessionKey<string>('rollback.handle', { scope: 'browser', onDelete: (v) => void deleted['handle']!.push(v) });
const TAB = new SessionKey<string>('rollback.tab', { scope: 'process', onDelete: (v) => void deleted['tab']!.push(v) });

/** Hooks that fail on demand. */
@Injectable()
class FailingHooks {
  readonly failPreClose = new Set<string>();
  failOpen = false;

  @OnSessionEvent('pre-close-session')
  preClose(event: SessionEventOf<'pre-close-session'>): void {
    if (this.failPreClose.has(event.reason)) throw new Error(`pre-close refused for ${event.reason}`);
  }

  @OnSessionEvent('open-session')
  opened(): void {
    if (this.failOpen) throw new Error('open refused');
  }
}

/**
 * Routes (besides AuthController's POST /login, POST /logout, GET /me, GET /public):
 * - `POST /things {cart, handle}` sets the persisted and the in-memory browser values; `GET /things` reads them
 * - `POST /tab {value}` sets the process value of the tab named by `x-process-id`; `GET /tab` reads it
 */
@Controller()
class ThingsController {
  constructor(private readonly sessions: SessionService) {}

  @Post('things')
  async put(@Body() body: { cart: string; handle: string }) {
    await this.sessions.set(CART, body.cart);
    await this.sessions.set(HANDLE, body.handle);
    return { ok: true };
  }

  @Get('things')
  async things() {
    return { cart: (await this.sessions.get(CART)) ?? null, handle: (await this.sessions.get(HANDLE)) ?? null };
  }

  @Post('tab')
  async setTab(@Body() body: { value: string }) {
    await this.sessions.set(TAB, body.value);
    return { ok: true };
  }

  @Get('tab')
  async tab() {
    return { value: (await this.sessions.get(TAB)) ?? null };
  }
}

function resetDeleted(): void {
  for (const list of Object.values(deleted)) list.length = 0;
}

describe.each(ADAPTERS)('half-way failures on %s', (adapter) => {
  let t: TestApp;
  let hooks: FailingHooks;
  let failCheck = false;

  beforeAll(async () => {
    t = await startApp({
      adapter,
      controllers: [AuthController, ThingsController],
      providers: [FailingHooks],
      policy: { maxSessionsPerUser: 1, check: () => !failCheck },
    });
    hooks = t.app.get(FailingHooks);
  });
  afterAll(() => t.close());
  beforeEach(() => {
    resetDeleted();
    hooks.failPreClose.clear();
    hooks.failOpen = false;
    failCheck = false;
  });

  it('a logout whose pre-close hook fails changes nothing: still connected, browser data kept, no onDelete', async () => {
    const b = new Browser(t.url);
    await b.post('/login', { user: `rb-logout-${adapter}` });
    await b.post('/things', { cart: 'tea', handle: 'socket-1' });
    hooks.failPreClose.add('logout');
    expect((await b.post('/logout')).status).toBe(500);
    expect((await b.get('/me')).status).toBe(200);
    expect((await b.get('/things')).body).toEqual({ cart: 'tea', handle: 'socket-1' });
    expect(deleted).toEqual({ cart: [], handle: [], tab: [] });

    hooks.failPreClose.clear();
    expect((await b.post('/logout')).status).toBe(201);
    expect((await b.get('/me')).body).toEqual(NOT_CONNECTED);
    // The browser data moved to the anonymous session: it did not leave, so no onDelete.
    expect((await b.get('/things')).body).toEqual({ cart: 'tea', handle: 'socket-1' });
    expect(deleted).toEqual({ cart: [], handle: [], tab: [] });
  });

  it('a login whose open-session hook fails is undone as a logout: no session, browser data kept, no onDelete', async () => {
    const user = `rb-login-${adapter}`;
    const b = new Browser(t.url);
    await b.post('/things', { cart: 'coffee', handle: 'socket-2' });
    hooks.failOpen = true;
    const login = await b.post('/login', { user });
    expect(login.status).toBe(500);
    expect(login.body).toMatchObject({ message: "A session hook for 'open-session' failed" });
    expect((await b.get('/me')).body).toEqual(NOT_CONNECTED);
    expect(await t.app.get(SessionService).listSessions(user)).toEqual([]);
    expect((await b.get('/things')).body).toEqual({ cart: 'coffee', handle: 'socket-2' });
    expect(deleted).toEqual({ cart: [], handle: [], tab: [] });
  });

  it('a login is not reported as failed when closing the sessions past maxSessionsPerUser fails', async () => {
    const user = `rb-max-${adapter}`;
    const first = new Browser(t.url);
    await first.post('/login', { user });
    hooks.failPreClose.add('max-sessions');
    const second = new Browser(t.url);
    const login = await second.post('/login', { user });
    expect(login.status).toBe(201);
    expect((await second.get('/me')).body).toEqual({ user });
    // Best effort: the older session could not be closed, and says so only in the log.
    expect((await first.get('/me')).body).toEqual({ user });
    hooks.failPreClose.clear();
    expect((await new Browser(t.url).post('/login', { user })).status).toBe(201);
    expect((await first.get('/me')).status).toBe(401);
    expect((await second.get('/me')).status).toBe(401);
  });

  it('a failed check whose close hook throws is still a 401 (and a 200 on a public route), never a 500', async () => {
    for (const path of ['/me', '/public']) {
      const b = new Browser(t.url);
      await b.post('/login', { user: `rb-check-${adapter}` });
      const cookie = b.cookieHeader();
      hooks.failPreClose.add('failed-check');
      failCheck = true;
      const reply = await b.get(path, { cookie });
      failCheck = false;
      hooks.failPreClose.clear();
      if (path === '/me') expect(reply.body).toEqual(NOT_CONNECTED);
      else expect(reply).toMatchObject({ status: 200, body: { user: null } });
      expect(expiresCookie(reply)).toBe(true);
    }
  });

  it(`keeps the values of at most ${MAX_PROCESSES} tabs per session: the oldest tab's go, with onDelete`, async () => {
    const b = new Browser(t.url);
    await b.post('/login', { user: `rb-tabs-${adapter}` });
    for (let i = 0; i <= MAX_PROCESSES; i++) {
      expect((await b.post('/tab', { value: `v${i}` }, { headers: { 'x-process-id': `tab-${i}` } })).status).toBe(201);
    }
    expect(deleted['tab']).toEqual(['v0']);
    expect((await b.get('/tab', { headers: { 'x-process-id': 'tab-0' } })).body).toEqual({ value: null });
    expect((await b.get('/tab', { headers: { 'x-process-id': 'tab-1' } })).body).toEqual({ value: 'v1' });
    expect((await b.get('/tab', { headers: { 'x-process-id': `tab-${MAX_PROCESSES}` } })).body).toEqual({ value: `v${MAX_PROCESSES}` });
  });
});

describe.each(ADAPTERS)('a connected session evicted by MemoryStore.maxSessions on %s', (adapter) => {
  it('is closed with a post-close-session event, reason evicted, and its cookie stops working', async () => {
    const t = await startApp({ adapter, controllers: [AuthController], policy: { store: new MemoryStore({ maxSessions: 2 }) } });
    const events = new EventRecorder(t.app);
    try {
      const oldest = new Browser(t.url);
      await oldest.post('/login', { user: 'evicted-1' });
      await new Browser(t.url).post('/login', { user: 'evicted-2' });
      await new Browser(t.url).post('/login', { user: 'evicted-3' });
      const closed = await events.waitFor((event) => event.type === 'post-close-session' && event.userId === 'evicted-1');
      expect(closed).toMatchObject({ reason: 'evicted', transport: 'http' });
      expect((await oldest.get('/me')).body).toEqual(NOT_CONNECTED);
    } finally {
      events.stop();
      await t.close();
    }
  });
});
