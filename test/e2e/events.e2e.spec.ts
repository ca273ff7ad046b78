import { Controller, ForbiddenException, Get, Injectable, Post } from '@nestjs/common';
import { map } from 'rxjs';
import { ProcessFaults } from '../support/process-faults.js';
import {
  Connected,
  CurrentUser,
  OnSessionEvent,
  ofEventType,
  SessionKey,
  SessionService,
  type SessionEvent,
  type SessionEventOf,
} from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { NOT_CONNECTED, sessionCookieOf } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { EventRecorder, sleep } from '../support/lifecycle-helpers.js';

const CART = new SessionKey<string>('events.cart', { scope: 'browser', persist: true });

/** Two awaited hooks on one provider; what they do is switched per test. */
@Injectable()
class FirstHooks {
  /** Users whose connected requests the hooks act on (other tests' traffic passes untouched). */
  readonly watched = new Set<string>();
  readonly order: string[] = [];
  runs = 0;
  failNext: 'error' | 'http' | undefined;

  @OnSessionEvent('connected-request')
  async slowFirst(event: SessionEventOf<'connected-request'>): Promise<void> {
    if (!this.watched.has(event.userId)) return;
    // Long enough that a handler not waiting for this hook would run first.
    await sleep(30);
    this.runs++;
    this.order.push(`first:${event.userId}`);
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail === 'error') throw new Error('the hook broke');
    if (fail === 'http') throw new ForbiddenException('A hook said no');
  }

  @OnSessionEvent('connected-request')
  second(event: SessionEventOf<'connected-request'>): void {
    if (this.watched.has(event.userId)) this.order.push(`second:${event.userId}`);
  }
}

/** Refuses the logins of the users it is told to, from an `open-session` hook. */
@Injectable()
class LoginVeto {
  readonly refused = new Set<string>();

  @OnSessionEvent('open-session')
  veto(event: SessionEventOf<'open-session'>): void {
    if (this.refused.has(event.userId)) throw new ForbiddenException('Logins are closed for this account');
  }
}

@Injectable()
class SecondHooks {
  constructor(private readonly first: FirstHooks) {}

  @OnSessionEvent('connected-request')
  async third(event: SessionEventOf<'connected-request'>): Promise<void> {
    if (!this.first.watched.has(event.userId)) return;
    await sleep(5);
    this.first.order.push(`third:${event.userId}`);
  }
}

@Controller()
class EventsController {
  constructor(
    private readonly sessions: SessionService,
    private readonly hooks: FirstHooks,
  ) {}

  @Post('cart')
  async cart() {
    await this.sessions.set(CART, 'apple');
    return { ok: true };
  }

  @Connected({ allow: ['admin'] })
  @Get('admin')
  admin() {
    return { ok: true };
  }

  /** What the hooks had done by the time the handler ran. */
  @Connected()
  @Get('hooked')
  hooked(@CurrentUser() user: string) {
    return { runs: this.hooks.runs, order: this.hooks.order.filter((entry) => entry.endsWith(`:${user}`)) };
  }

  @Connected()
  @Get('handles')
  async handles(@CurrentUser() user: string) {
    return (await this.sessions.listSessions(user)).map((session) => ({ handle: session.handle, current: session.current }));
  }
}

describe.each(ADAPTERS)('session events over HTTP on %s', (adapter) => {
  let t: TestApp;
  let events: EventRecorder;
  let hooks: FirstHooks;

  beforeAll(async () => {
    t = await startApp({
      adapter,
      // AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public.
      controllers: [AuthController, EventsController],
      providers: [FirstHooks, SecondHooks, LoginVeto],
      policy: { groups: (userId) => (userId.endsWith('-admin') ? ['admin'] : []) },
    });
    events = new EventRecorder(t.app);
    hooks = t.app.get(FirstHooks);
  });
  afterAll(async () => {
    events.stop();
    await t.close();
  });

  /** Runs `act` and returns the events it caused. */
  async function during(act: () => Promise<unknown>): Promise<SessionEvent[]> {
    events.clear();
    await act();
    return [...events.events];
  }

  async function currentHandle(browser: Browser): Promise<string> {
    const list = (await browser.get('/handles')).body as Array<{ handle: string; current: boolean }>;
    return list.find((session) => session.current)!.handle;
  }

  function expectBase(list: SessionEvent[], before: number): void {
    for (const event of list) {
      expect(event.at).toBeInstanceOf(Date);
      expect(event.at.getTime()).toBeGreaterThanOrEqual(before);
      expect(event.at.getTime()).toBeLessThanOrEqual(Date.now());
      expect(event.transport).toBe('http');
    }
  }

  /** No event carries the session id, its signature or the cookie value, in any form. */
  function expectNoSecrets(list: SessionEvent[], ...browsers: Browser[]): void {
    const json = JSON.stringify(list);
    for (const browser of browsers) {
      const cookie = sessionCookieOf(browser);
      if (cookie === undefined) continue;
      expect(json).not.toContain(cookie.id);
      expect(json).not.toContain(cookie.tag);
      expect(json).not.toContain(encodeURIComponent(cookie.value));
    }
  }

  it('an anonymous public request: request, unconnected-request', async () => {
    const before = Date.now();
    const list = await during(async () => expect((await new Browser(t.url).get('/public')).status).toBe(200));
    expect(list.map((e) => e.type)).toEqual(['request', 'unconnected-request']);
    expectBase(list, before);
    for (const event of list) {
      expect(event.userId).toBeUndefined();
      expect(event.session).toBeUndefined();
    }
  });

  it('a denied request: request, denied-request (not connected, then forbidden)', async () => {
    const b = new Browser(t.url);
    const before = Date.now();
    const list = await during(async () => {
      const reply = await b.get('/me');
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual(NOT_CONNECTED);
    });
    expect(list.map((e) => e.type)).toEqual(['request', 'denied-request']);
    expectBase(list, before);
    expect(list[1]).toMatchObject({ type: 'denied-request', reason: 'not-connected' });
    expect(list[1]!.userId).toBeUndefined();

    expect((await b.post('/login', { user: 'events-plain' })).status).toBe(201);
    const handle = await currentHandle(b);
    const forbidden = await during(async () => {
      const reply = await b.get('/admin');
      expect(reply.status).toBe(403);
      expect(reply.body).toMatchObject({ code: 'forbidden', message: 'Permission denied' });
    });
    expect(forbidden.map((e) => e.type)).toEqual(['request', 'denied-request']);
    expect(forbidden[1]).toMatchObject({ reason: 'forbidden', userId: 'events-plain', session: handle, transport: 'http' });
    expectNoSecrets(forbidden, b);
  });

  it('login, a connected request, login again, logout: the exact order and payloads', async () => {
    const b = new Browser(t.url);
    const before = Date.now();
    const login = await during(async () => expect((await b.post('/login', { user: 'events-ann' })).status).toBe(201));
    expect(login.map((e) => e.type)).toEqual(['request', 'unconnected-request', 'open-session', 'start-connected-process']);
    const first = await currentHandle(b);
    expect(login[2]).toMatchObject({ type: 'open-session', userId: 'events-ann', session: first });
    expect(login[3]).toMatchObject({ type: 'start-connected-process', userId: 'events-ann', session: first });
    expectBase(login, before);
    expectNoSecrets(login, b);

    const connected = await during(async () => expect((await b.get('/me')).body).toEqual({ user: 'events-ann' }));
    expect(connected.map((e) => e.type)).toEqual(['request', 'connected-request']);
    for (const event of connected) expect(event).toMatchObject({ userId: 'events-ann', session: first, transport: 'http' });
    expectNoSecrets(connected, b);

    // A second login closes the connected session first.
    const oldCookie = new Browser(t.url);
    oldCookie.jar.set('sid', b.jar.get('sid')!);
    const relogin = await during(async () => expect((await b.post('/login', { user: 'events-ann-admin' })).status).toBe(201));
    const second = await currentHandle(b);
    expect(second).not.toBe(first);
    expect(relogin.map((e) => e.type)).toEqual([
      'request',
      'connected-request',
      'pre-close-session',
      'post-close-session',
      'open-session',
      'start-connected-process',
    ]);
    expect(relogin[2]).toMatchObject({ userId: 'events-ann', session: first, reason: 'login' });
    expect(relogin[3]).toMatchObject({ userId: 'events-ann', session: first, reason: 'login' });
    expect(relogin[4]).toMatchObject({ userId: 'events-ann-admin', session: second });
    expect(relogin[5]).toMatchObject({ userId: 'events-ann-admin', session: second });
    expectBase(relogin, before);
    expectNoSecrets(relogin, b, oldCookie);

    const secondCookie = new Browser(t.url);
    secondCookie.jar.set('sid', b.jar.get('sid')!);
    const logout = await during(async () => expect((await b.post('/logout')).status).toBe(201));
    expect(logout.map((e) => e.type)).toEqual(['request', 'connected-request', 'pre-close-session', 'post-close-session']);
    expect(logout[2]).toMatchObject({ userId: 'events-ann-admin', session: second, reason: 'logout', transport: 'http' });
    expect(logout[3]).toMatchObject({ userId: 'events-ann-admin', session: second, reason: 'logout', transport: 'http' });
    expect(b.jar.has('sid')).toBe(false);
    expectNoSecrets([...login, ...connected, ...relogin, ...logout], oldCookie, secondCookie);
  });

  it('logout with browser data opens no "open-session" for the anonymous session that keeps it', async () => {
    const b = new Browser(t.url);
    const cart = await during(async () => expect((await b.post('/cart')).status).toBe(201));
    expect(cart.map((e) => e.type)).toEqual(['request', 'unconnected-request']);
    expect((await b.post('/login', { user: 'events-cart' })).status).toBe(201);
    const logout = await during(async () => expect((await b.post('/logout')).status).toBe(201));
    expect(logout.map((e) => e.type)).toEqual(['request', 'connected-request', 'pre-close-session', 'post-close-session']);
    expect(b.jar.has('sid')).toBe(true);
    const after = await during(async () => expect((await b.get('/public')).status).toBe(200));
    expect(after.map((e) => e.type)).toEqual(['request', 'unconnected-request']);
    // The anonymous session has a handle, no user.
    expect(typeof after[0]!.session).toBe('string');
    expect(after[0]!.userId).toBeUndefined();
    expectNoSecrets([...logout, ...after], b);
  });

  it('a new x-process-id starts a process once', async () => {
    const anon = new Browser(t.url);
    const tab = `events-tab-${adapter}-anon`;
    const first = await during(() => anon.get('/public', { headers: { 'x-process-id': tab } }));
    expect(first.map((e) => e.type)).toEqual(['request', 'start-process', 'start-unconnected-process', 'unconnected-request']);
    for (const event of first) expect(event.process).toBe(tab);
    const again = await during(() => anon.get('/public', { headers: { 'x-process-id': tab } }));
    expect(again.map((e) => e.type)).toEqual(['request', 'unconnected-request']);

    const b = new Browser(t.url);
    expect((await b.post('/login', { user: 'events-tabs' })).status).toBe(201);
    const handle = await currentHandle(b);
    const connectedTab = `events-tab-${adapter}-connected`;
    const connected = await during(() => b.get('/me', { headers: { 'x-process-id': connectedTab } }));
    expect(connected.map((e) => e.type)).toEqual(['request', 'start-process', 'start-connected-process', 'connected-request']);
    for (const event of connected) {
      expect(event).toMatchObject({ process: connectedTab, userId: 'events-tabs', session: handle, transport: 'http' });
    }
    const connectedAgain = await during(() => b.get('/me', { headers: { 'x-process-id': connectedTab } }));
    expect(connectedAgain.map((e) => e.type)).toEqual(['request', 'connected-request']);
    // An invalid id is no process at all.
    const invalid = await during(() => b.get('/me', { headers: { 'x-process-id': 'not a valid id!' } }));
    expect(invalid.map((e) => e.type)).toEqual(['request', 'connected-request']);
    expect(invalid[0]!.process).toBeUndefined();
    expectNoSecrets([...connected, ...connectedAgain], b);
  });

  it('ofEventType narrows the stream to the types asked for', async () => {
    const opened: Array<SessionEventOf<'open-session'>> = [];
    const closing: string[] = [];
    const service = t.app.get(SessionService);
    const s1 = service.sessionEvents$.pipe(ofEventType('open-session')).subscribe((event) => {
      // Typed: userId and session are strings on open-session.
      const user: string = event.userId;
      const session: string = event.session;
      expect(typeof user).toBe('string');
      expect(typeof session).toBe('string');
      opened.push(event);
    });
    const s2 = service.sessionEvents$
      .pipe(ofEventType('pre-close-session', 'post-close-session'))
      .subscribe((event) => closing.push(`${event.type}:${event.reason}`));
    try {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'events-narrow' });
      await b.get('/me');
      await b.post('/login', { user: 'events-narrow' });
      await b.post('/logout');
    } finally {
      s1.unsubscribe();
      s2.unsubscribe();
    }
    expect(opened.map((e) => [e.type, e.userId])).toEqual([
      ['open-session', 'events-narrow'],
      ['open-session', 'events-narrow'],
    ]);
    expect(closing).toEqual([
      'pre-close-session:login',
      'post-close-session:login',
      'pre-close-session:logout',
      'post-close-session:logout',
    ]);
  });

  describe('@OnSessionEvent hooks', () => {
    /** Logs `user` in on a new browser and runs `act` with it while the hooks act on that user's requests. */
    async function watching(user: string, act: (b: Browser) => Promise<void>): Promise<void> {
      const b = new Browser(t.url);
      expect((await b.post('/login', { user })).status).toBe(201);
      hooks.watched.add(user);
      try {
        await act(b);
      } finally {
        hooks.watched.delete(user);
      }
    }

    it('are awaited before the handler, in registration order', async () => {
      const user = `events-hooked-${adapter}`;
      await watching(user, async (b) => {
        const runs = hooks.runs;
        const first = await b.get('/hooked');
        expect(first.status).toBe(200);
        expect(first.body).toEqual({ runs: runs + 1, order: [`first:${user}`, `second:${user}`, `third:${user}`] });
        const second = await b.get('/hooked');
        expect(second.body).toEqual({
          runs: runs + 2,
          order: [`first:${user}`, `second:${user}`, `third:${user}`, `first:${user}`, `second:${user}`, `third:${user}`],
        });
      });
    });

    it('a throwing hook fails that request with a 500 naming the event; the next request works', async () => {
      const user = `events-throwing-${adapter}`;
      await watching(user, async (b) => {
        hooks.failNext = 'error';
        const list = await during(async () => {
          const reply = await b.get('/me');
          expect(reply.status).toBe(500);
          expect(reply.body).toMatchObject({ statusCode: 500, message: "A session hook for 'connected-request' failed" });
          expect(reply.text).not.toContain('the hook broke');
        });
        // The event is not published when its hooks failed.
        expect(list.map((e) => e.type)).toEqual(['request']);
        // The later hooks of the chain did not run for the failed event.
        expect(hooks.order.filter((entry) => entry.endsWith(`:${user}`))).toEqual([`first:${user}`]);

        const next = await b.get('/me');
        expect(next.status).toBe(200);
        expect(next.body).toEqual({ user });
      });
    });

    it('a throwing open-session hook undoes the login: no usable cookie, no session left, the old one closed', async () => {
      const veto = t.app.get(LoginVeto);
      const user = `events-vetoed-${adapter}`;
      const b = new Browser(t.url);
      expect((await b.post('/login', { user: `${user}-before` })).status).toBe(201);
      veto.refused.add(user);
      try {
        const reply = await b.post('/login', { user });
        expect(reply.status).toBe(403);
        expect(reply.body).toMatchObject({ message: 'Logins are closed for this account' });
        // The response's last word on the cookie is its expiry, and the browser holds none.
        expect(reply.setCookies.at(-1)?.attributes['max-age']).toBe('0');
        expect(b.jar.size).toBe(0);
        expect((await b.get('/me')).status).toBe(401);
        const service = t.app.get(SessionService);
        expect(await service.listSessions(user)).toEqual([]);
        expect(await service.listSessions(`${user}-before`)).toEqual([]);
      } finally {
        veto.refused.delete(user);
      }
    });

    it('an HttpException thrown by a hook comes out as itself', async () => {
      const user = `events-forbidding-${adapter}`;
      await watching(user, async (b) => {
        hooks.failNext = 'http';
        const reply = await b.get('/me');
        expect(reply.status).toBe(403);
        expect(reply.body).toMatchObject({ statusCode: 403, message: 'A hook said no' });
        expect((await b.get('/me')).body).toEqual({ user });
      });
    });
  });

  it('a sessionEvents$ subscriber that throws never kills the process, nor stops other subscribers', async () => {
    // On Node's real process: Jest's sandbox has a `process` of its own, whose listeners Node never calls.
    const faults = new ProcessFaults();
    faults.install();
    const service = t.app.get(SessionService);
    let thrown = 0;
    const direct = service.sessionEvents$.subscribe(() => {
      thrown++;
      throw new Error('subscriber boom');
    });
    const piped = service.sessionEvents$.pipe(map((event) => event.type)).subscribe(() => {
      thrown++;
      throw new Error('piped subscriber boom');
    });
    try {
      const b = new Browser(t.url);
      const list = await during(async () => {
        expect((await b.post('/login', { user: 'events-boom' })).status).toBe(201);
        expect((await b.get('/me')).status).toBe(200);
      });
      // The recorder (another subscriber) saw every event.
      expect(list.map((e) => e.type)).toEqual([
        'request',
        'unconnected-request',
        'open-session',
        'start-connected-process',
        'request',
        'connected-request',
      ]);
      expect(thrown).toBe(2 * list.length);
      // RxJS would rethrow on a timer: give it several turns.
      await sleep(50);
      await new Promise((resolve) => setImmediate(resolve));
      expect(faults.describe()).toEqual([]);
      expect((await b.get('/me')).body).toEqual({ user: 'events-boom' });
    } finally {
      direct.unsubscribe();
      piped.unsubscribe();
      faults.uninstall();
    }
  });
});
