import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { Connected, CurrentUser, SessionData, SessionKey, SessionService, type MemoryStore } from '../../lib/index.js';
import { ADAPTERS, startWithStore, type TestApp } from '../support/app.js';
import { expiresCookie, NOT_CONNECTED, sessionCookieOf } from '../support/auth-helpers.js';
import { Browser } from '../support/browser.js';

// Key names are global: every key of this file starts with 'scopes.'.
const S_MEM = new SessionKey<unknown>('scopes.s.mem');
const S_PER = new SessionKey<unknown>('scopes.s.per', { persist: true });
const B_MEM = new SessionKey<unknown>('scopes.b.mem', { scope: 'browser' });
const B_PER = new SessionKey<unknown>('scopes.b.per', { scope: 'browser', persist: true });
const U_MEM = new SessionKey<unknown>('scopes.u.mem', { scope: 'user' });
const U_PER = new SessionKey<unknown>('scopes.u.per', { scope: 'user', persist: true });
const P_MEM = new SessionKey<unknown>('scopes.p.mem', { scope: 'process' });
const PAR = [
  new SessionKey<unknown>('scopes.par.a', { persist: true }),
  new SessionKey<unknown>('scopes.par.b', { persist: true }),
  new SessionKey<unknown>('scopes.par.c'),
  new SessionKey<unknown>('scopes.par.d', { scope: 'browser', persist: true }),
];

const KEYS = new Map<string, SessionKey<unknown>>([S_MEM, S_PER, B_MEM, B_PER, U_MEM, U_PER, P_MEM, ...PAR].map((key) => [key.name, key]));
const ALL = [S_MEM, S_PER, B_MEM, B_PER, U_MEM, U_PER, P_MEM];

function keyOf(name: string): SessionKey<unknown> {
  const key = KEYS.get(name);
  if (key === undefined) throw new Error(`test: no key ${name}`);
  return key;
}

@Controller()
class ScopesController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  async login(@Body() body: { user: string }) {
    await this.sessions.connect(body.user);
    return { user: this.sessions.currentUserId() };
  }

  @Post('logout')
  async logout() {
    await this.sessions.disconnect();
    return { user: this.sessions.currentUserId() ?? null };
  }

  @Connected()
  @Get('me')
  me(@CurrentUser() user: string) {
    return { user };
  }

  /** Every key of the scope tests through SessionService.get. */
  @Get('all')
  async all() {
    const values: Record<string, unknown> = { user: this.sessions.currentUserId() ?? null };
    for (const key of ALL) values[key.name] = (await this.sessions.get(key)) ?? null;
    return values;
  }

  /** The same keys through the @SessionData parameter decorator. */
  @Get('deco')
  deco(
    @SessionData(S_MEM) sMem: unknown,
    @SessionData(S_PER) sPer: unknown,
    @SessionData(B_PER) bPer: unknown,
    @SessionData(U_PER) uPer: unknown,
    @SessionData(P_MEM) pMem: unknown,
  ) {
    return { sMem: sMem ?? null, sPer: sPer ?? null, bPer: bPer ?? null, uPer: uPer ?? null, pMem: pMem ?? null };
  }

  @Get('get/:key')
  async get(@Param('key') name: string) {
    return { value: (await this.sessions.get(keyOf(name))) ?? null };
  }

  @Post('set/:key')
  async set(@Param('key') name: string, @Body() body: { value: unknown }) {
    await this.sessions.set(keyOf(name), body.value);
    return { ok: true };
  }

  @Post('remove/:key')
  async remove(@Param('key') name: string) {
    await this.sessions.remove(keyOf(name));
    return { ok: true };
  }

  /** Stores a Map under an in-memory and a persisted key; `kinds` then tells what each reads back as. */
  @Connected()
  @Post('set-map')
  async setMap() {
    await this.sessions.set(S_MEM, new Map([['k', 'v']]));
    await this.sessions.set(S_PER, new Map([['k', 'v']]));
    return { ok: true };
  }

  @Connected()
  @Get('kinds')
  async kinds() {
    const mem = await this.sessions.get(S_MEM);
    const per = await this.sessions.get(S_PER);
    return {
      memIsMap: mem instanceof Map,
      memEntry: mem instanceof Map ? mem.get('k') : null,
      perIsMap: per instanceof Map,
      per: per ?? null,
    };
  }
}

const EMPTY = Object.fromEntries(ALL.map((key) => [key.name, null]));

describe.each(ADAPTERS)('data scopes over HTTP on %s', (adapter) => {
  let t: TestApp;
  let store: MemoryStore;

  beforeAll(async () => {
    ({ t, store } = await startWithStore({ adapter, controllers: [ScopesController] }));
  });
  afterAll(() => t.close());

  async function handleOf(userId: string): Promise<string> {
    const sessions = await store.listUser(userId);
    expect(sessions).toHaveLength(1);
    return sessions[0]![0];
  }

  it('a public request that stores nothing creates no session and no cookie', async () => {
    const before = store.size;
    const b = new Browser(t.url);
    const reply = await b.get('/all');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ user: null, ...EMPTY });
    expect(reply.setCookies).toEqual([]);
    expect(store.size).toBe(before);
  });

  it('session data is dropped on connect and on disconnect', async () => {
    const b = new Browser(t.url);
    expect((await b.post('/login', { user: 'scopes-ann' })).status).toBe(201);
    const first = sessionCookieOf(b)!;
    expect((await b.post(`/set/${S_MEM.name}`, { value: 'mem-1' })).status).toBe(201);
    expect((await b.post(`/set/${S_PER.name}`, { value: { n: 1 } })).status).toBe(201);
    expect((await b.get('/all')).body).toMatchObject({ user: 'scopes-ann', [S_MEM.name]: 'mem-1', [S_PER.name]: { n: 1 } });
    expect((await store.get(await handleOf('scopes-ann')))!.data).toEqual({ [`s:${S_PER.name}`]: '{"n":1}' });

    // Logging in again (even as the same user) opens a new session with a new id and no session data.
    const relogin = await b.post('/login', { user: 'scopes-ann' });
    expect(relogin.status).toBe(201);
    expect(relogin.setCookies.map((c) => c.name)).toEqual(['sid']);
    expect(sessionCookieOf(b)!.id).not.toBe(first.id);
    expect((await b.get('/all')).body).toEqual({ ...EMPTY, user: 'scopes-ann' });
    expect((await store.get(await handleOf('scopes-ann')))!.data).toEqual({});

    // The old cookie names nothing any more.
    // (Another Browser: the failed check expires the cookie it sent.)
    const stale = await new Browser(t.url).get('/me', { cookie: `sid=${encodeURIComponent(first.value)}` });
    expect(stale.status).toBe(401);
    expect(stale.body).toEqual(NOT_CONNECTED);
    expect(expiresCookie(stale)).toBe(true);

    expect((await b.post(`/set/${S_MEM.name}`, { value: 'mem-2' })).status).toBe(201);
    expect((await b.post(`/set/${S_PER.name}`, { value: 'per-2' })).status).toBe(201);
    const logout = await b.post('/logout');
    expect(logout.status).toBe(201);
    expect(logout.body).toEqual({ user: null });
    // Nothing browser-scoped was stored: the cookie goes and so does the record.
    expect(expiresCookie(logout)).toBe(true);
    expect(b.jar.has('sid')).toBe(false);
    expect(await store.listUser('scopes-ann')).toEqual([]);
    expect((await b.get('/all')).body).toEqual({ ...EMPTY, user: null });

    expect((await b.post('/login', { user: 'scopes-ann' })).status).toBe(201);
    expect((await b.get('/all')).body).toEqual({ ...EMPTY, user: 'scopes-ann' });
    await b.post('/logout');
  });

  it('writing session-scoped data without a user is a 401 that creates nothing', async () => {
    const before = store.size;
    const b = new Browser(t.url);
    for (const key of [S_MEM, S_PER]) {
      const reply = await b.post(`/set/${key.name}`, { value: 'x' });
      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({
        statusCode: 401,
        code: 'unauthenticated',
        message: `'${key.name}' is session-scoped data and needs a connected user`,
      });
      expect(reply.setCookies).toEqual([]);
    }
    // The same with an anonymous session (created by browser data): still no user, still 401.
    expect((await b.post(`/set/${B_PER.name}`, { value: 'cart' })).status).toBe(201);
    const anonymous = await b.post(`/set/${S_PER.name}`, { value: 'x' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.message).toBe(`'${S_PER.name}' is session-scoped data and needs a connected user`);
    expect((await b.get('/all')).body).toEqual({ ...EMPTY, user: null, [B_PER.name]: 'cart' });
    expect(store.size).toBe(before + 1);
    const user = await b.post(`/set/${U_PER.name}`, { value: 'x' });
    expect(user.status).toBe(401);
    expect(user.body).toMatchObject({ code: 'unauthenticated', message: `'${U_PER.name}' is user-scoped data and needs a connected user` });
  });

  it('browser data survives login and logout; only a browser write opens an anonymous session', async () => {
    const before = store.size;
    const b = new Browser(t.url);
    // Reads create nothing.
    expect((await b.get(`/get/${B_PER.name}`)).setCookies).toEqual([]);
    expect(store.size).toBe(before);

    const write = await b.post(`/set/${B_PER.name}`, { value: { cart: ['apple'] } });
    expect(write.status).toBe(201);
    expect(write.setCookies.map((c) => c.name)).toEqual(['sid']);
    expect(write.headers.get('cache-control')).toBe('no-store');
    expect(store.size).toBe(before + 1);
    expect((await b.post(`/set/${B_MEM.name}`, { value: 'live-handle' })).status).toBe(201);
    expect(store.size).toBe(before + 1);
    const anonymousId = sessionCookieOf(b)!.id;
    expect((await b.get('/all')).body).toEqual({ ...EMPTY, user: null, [B_PER.name]: { cart: ['apple'] }, [B_MEM.name]: 'live-handle' });

    // Login: a new id, the browser data comes along, the anonymous session is gone (not one more session).
    expect((await b.post('/login', { user: 'scopes-bob' })).status).toBe(201);
    expect(sessionCookieOf(b)!.id).not.toBe(anonymousId);
    expect(store.size).toBe(before + 1);
    expect((await b.get('/all')).body).toEqual({
      ...EMPTY,
      user: 'scopes-bob',
      [B_PER.name]: { cart: ['apple'] },
      [B_MEM.name]: 'live-handle',
    });
    expect((await b.post(`/set/${S_PER.name}`, { value: 'session-only' })).status).toBe(201);

    // Logout: session data goes, browser data stays under a new anonymous session.
    const connectedId = sessionCookieOf(b)!.id;
    const logout = await b.post('/logout');
    expect(logout.status).toBe(201);
    expect(logout.setCookies.map((c) => c.name)).toEqual(['sid']);
    expect(sessionCookieOf(b)!.id).not.toBe(connectedId);
    expect(store.size).toBe(before + 1);
    expect((await b.get('/all')).body).toEqual({
      ...EMPTY,
      user: null,
      [B_PER.name]: { cart: ['apple'] },
      [B_MEM.name]: 'live-handle',
    });

    // And back in: still there; another browser of the same user does not see it.
    expect((await b.post('/login', { user: 'scopes-bob' })).status).toBe(201);
    expect((await b.get(`/get/${B_PER.name}`)).body).toEqual({ value: { cart: ['apple'] } });
    expect((await b.get(`/get/${S_PER.name}`)).body).toEqual({ value: null });
    const other = new Browser(t.url);
    expect((await other.post('/login', { user: 'scopes-bob' })).status).toBe(201);
    expect((await other.get('/all')).body).toEqual({ ...EMPTY, user: 'scopes-bob' });
    await other.post('/logout');
  });

  it('user data is shared by every browser of the user and kept across logins, and nobody else sees it', async () => {
    const a = new Browser(t.url);
    const b = new Browser(t.url);
    expect((await a.post('/login', { user: 'scopes-carol' })).status).toBe(201);
    expect((await a.post(`/set/${U_MEM.name}`, { value: 'in-memory' })).status).toBe(201);
    expect((await a.post(`/set/${U_PER.name}`, { value: ['persisted'] })).status).toBe(201);
    expect(await store.getUserField('scopes-carol', U_PER.name)).toBe('["persisted"]');
    expect(await store.getUserField('scopes-carol', U_MEM.name)).toBeUndefined();

    expect((await b.post('/login', { user: 'scopes-carol' })).status).toBe(201);
    expect((await b.get('/all')).body).toEqual({ ...EMPTY, user: 'scopes-carol', [U_MEM.name]: 'in-memory', [U_PER.name]: ['persisted'] });
    expect((await b.post(`/set/${U_PER.name}`, { value: 'from-b' })).status).toBe(201);
    expect((await a.get(`/get/${U_PER.name}`)).body).toEqual({ value: 'from-b' });

    expect((await a.post('/logout')).status).toBe(201);
    expect((await a.get('/all')).body).toEqual({ ...EMPTY, user: null });
    expect((await a.post('/login', { user: 'scopes-carol' })).status).toBe(201);
    expect((await a.get('/all')).body).toEqual({ ...EMPTY, user: 'scopes-carol', [U_MEM.name]: 'in-memory', [U_PER.name]: 'from-b' });

    const c = new Browser(t.url);
    expect((await c.post('/login', { user: 'scopes-dave' })).status).toBe(201);
    expect((await c.get('/all')).body).toEqual({ ...EMPTY, user: 'scopes-dave' });

    // remove() of a user key removes it for every browser of that user.
    expect((await b.post(`/remove/${U_PER.name}`)).status).toBe(201);
    expect((await a.get(`/get/${U_PER.name}`)).body).toEqual({ value: null });
    expect(await store.getUserField('scopes-carol', U_PER.name)).toBeUndefined();
    for (const browser of [a, b, c]) await browser.post('/logout');
  });

  it('process data is per x-process-id value and needs a session', async () => {
    const b = new Browser(t.url);
    const noSession = await b.post(`/set/${P_MEM.name}`, { value: 'x' }, { headers: { 'x-process-id': 'tab-1' } });
    expect(noSession.status).toBe(401);
    expect(noSession.body).toMatchObject({
      code: 'unauthenticated',
      message: `'${P_MEM.name}' is process-scoped data and needs a session`,
    });
    expect(noSession.setCookies).toEqual([]);

    expect((await b.post('/login', { user: 'scopes-erin' })).status).toBe(201);
    const noHeader = await b.post(`/set/${P_MEM.name}`, { value: 'x' });
    expect(noHeader.status).toBe(400);
    expect(noHeader.body.message).toBe(`'${P_MEM.name}' is process-scoped data and needs the x-process-id header`);

    expect((await b.post(`/set/${P_MEM.name}`, { value: 'one' }, { headers: { 'x-process-id': 'tab-1' } })).status).toBe(201);
    expect((await b.post(`/set/${P_MEM.name}`, { value: 'two' }, { headers: { 'x-process-id': 'tab-2' } })).status).toBe(201);
    expect((await b.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-1' } })).body).toEqual({ value: 'one' });
    expect((await b.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-2' } })).body).toEqual({ value: 'two' });
    expect((await b.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-3' } })).body).toEqual({ value: null });
    expect((await b.get(`/get/${P_MEM.name}`)).body).toEqual({ value: null });
    expect((await b.get('/deco', { headers: { 'x-process-id': 'tab-2' } })).body).toMatchObject({ pMem: 'two' });

    // Another browser of the same user with the same tab id has its own process data.
    const other = new Browser(t.url);
    expect((await other.post('/login', { user: 'scopes-erin' })).status).toBe(201);
    expect((await other.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-1' } })).body).toEqual({ value: null });

    // remove() drops one process's value only.
    expect((await b.post(`/remove/${P_MEM.name}`, undefined, { headers: { 'x-process-id': 'tab-1' } })).status).toBe(201);
    expect((await b.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-1' } })).body).toEqual({ value: null });
    expect((await b.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-2' } })).body).toEqual({ value: 'two' });

    // Process data goes with its session, on logout and on login.
    expect((await b.post('/logout')).status).toBe(201);
    expect((await b.post('/login', { user: 'scopes-erin' })).status).toBe(201);
    expect((await b.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-2' } })).body).toEqual({ value: null });

    // An anonymous session (browser data) is enough for process data.
    const anonymous = new Browser(t.url);
    expect((await anonymous.post(`/set/${B_MEM.name}`, { value: 'b' })).status).toBe(201);
    expect((await anonymous.post(`/set/${P_MEM.name}`, { value: 'anon-tab' }, { headers: { 'x-process-id': 'tab-1' } })).status).toBe(201);
    expect((await anonymous.get(`/get/${P_MEM.name}`, { headers: { 'x-process-id': 'tab-1' } })).body).toEqual({ value: 'anon-tab' });
    await b.post('/logout');
    await other.post('/logout');
  });

  it('persisted values go to the store as text; in-memory values stay as the very objects set', async () => {
    const b = new Browser(t.url);
    expect((await b.post('/login', { user: 'scopes-frank' })).status).toBe(201);
    expect((await b.post('/set-map')).status).toBe(201);
    // The in-memory value is the Map itself; the persisted one went through JSON (a Map serializes to {}).
    expect((await b.get('/kinds')).body).toEqual({ memIsMap: true, memEntry: 'v', perIsMap: false, per: {} });
    const record = (await store.get(await handleOf('scopes-frank')))!;
    expect(record.data).toEqual({ [`s:${S_PER.name}`]: '{}' });
    expect(Object.keys(record.data).some((field) => field.includes(S_MEM.name))).toBe(false);
    await b.post('/logout');
  });

  it('@SessionData and SessionService.get agree, and remove() deletes the value from the store', async () => {
    const b = new Browser(t.url);
    expect((await b.post(`/set/${B_PER.name}`, { value: 'bp' })).status).toBe(201);
    expect((await b.post('/login', { user: 'scopes-gina' })).status).toBe(201);
    expect((await b.post(`/set/${S_MEM.name}`, { value: 'sm' })).status).toBe(201);
    expect((await b.post(`/set/${S_PER.name}`, { value: 'sp' })).status).toBe(201);
    expect((await b.post(`/set/${U_PER.name}`, { value: 'up' })).status).toBe(201);
    expect((await b.get('/deco')).body).toEqual({ sMem: 'sm', sPer: 'sp', bPer: 'bp', uPer: 'up', pMem: null });
    expect((await b.get('/all')).body).toMatchObject({ [S_MEM.name]: 'sm', [S_PER.name]: 'sp', [B_PER.name]: 'bp', [U_PER.name]: 'up' });

    const handle = await handleOf('scopes-gina');
    expect((await store.get(handle))!.data).toEqual({ [`s:${S_PER.name}`]: '"sp"', [`b:${B_PER.name}`]: '"bp"' });
    for (const key of [S_MEM, S_PER, B_PER]) expect((await b.post(`/remove/${key.name}`)).status).toBe(201);
    expect((await b.get('/deco')).body).toEqual({ sMem: null, sPer: null, bPer: null, uPer: 'up', pMem: null });
    expect((await store.get(handle))!.data).toEqual({});
    // Removing what is not there is fine.
    expect((await b.post(`/remove/${S_PER.name}`)).status).toBe(201);
    // The session itself is untouched.
    expect((await b.get('/me')).body).toEqual({ user: 'scopes-gina' });
    await b.post(`/remove/${U_PER.name}`);
    await b.post('/logout');
  });

  it('a corrupt persisted value reads as undefined, and the session goes on', async () => {
    const b = new Browser(t.url);
    expect((await b.post('/login', { user: 'scopes-hal' })).status).toBe(201);
    expect((await b.post(`/set/${S_PER.name}`, { value: 'fine' })).status).toBe(201);
    expect((await b.post(`/set/${U_PER.name}`, { value: 'fine' })).status).toBe(201);
    const handle = await handleOf('scopes-hal');
    expect(await store.setField(handle, `s:${S_PER.name}`, '{not json')).toBe(true);
    await store.setUserField('scopes-hal', U_PER.name, '[broken');

    const read = await b.get('/all');
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ ...EMPTY, user: 'scopes-hal' });
    expect((await b.get('/deco')).body).toEqual({ sMem: null, sPer: null, bPer: null, uPer: null, pMem: null });
    expect((await b.get('/me')).body).toEqual({ user: 'scopes-hal' });
    // It can be overwritten.
    expect((await b.post(`/set/${S_PER.name}`, { value: 'again' })).status).toBe(201);
    expect((await b.get(`/get/${S_PER.name}`)).body).toEqual({ value: 'again' });
    await b.post(`/remove/${U_PER.name}`);
    await b.post('/logout');
  });

  it('two parallel requests of one session that write different keys both win', async () => {
    const b = new Browser(t.url);
    expect((await b.post(`/set/${PAR[3]!.name}`, { value: 'start' })).status).toBe(201);
    expect((await b.post('/login', { user: 'scopes-ivy' })).status).toBe(201);
    for (let i = 0; i < 40; i++) {
      const replies = await Promise.all(PAR.map((key) => b.post(`/set/${key.name}`, { value: `${key.name}#${i}` })));
      expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201]);
      const reads = await Promise.all(PAR.map((key) => b.get(`/get/${key.name}`)));
      expect(reads.map((r) => r.body.value)).toEqual(PAR.map((key) => `${key.name}#${i}`));
    }
    const record = (await store.get(await handleOf('scopes-ivy')))!;
    expect(record.data).toEqual({
      [`s:${PAR[0]!.name}`]: JSON.stringify(`${PAR[0]!.name}#39`),
      [`s:${PAR[1]!.name}`]: JSON.stringify(`${PAR[1]!.name}#39`),
      [`b:${PAR[3]!.name}`]: JSON.stringify(`${PAR[3]!.name}#39`),
    });
    await b.post('/logout');
  });
});
