import { Controller, Get, Post } from '@nestjs/common';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connected, CurrentUser, MemoryStore, SessionKey, SessionService } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { NOT_CONNECTED, sessionCookieOf } from '../support/auth-helpers.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';

const NOTE = new SessionKey<{ text: string }>('snapshot.note', { persist: true });
const CART = new SessionKey<string[]>('snapshot.cart', { scope: 'browser', persist: true });
const PREFS = new SessionKey<string>('snapshot.prefs', { scope: 'user', persist: true });
const HANDLE = new SessionKey<string>('snapshot.handle');

@Controller()
class SnapshotController {
  constructor(private readonly sessions: SessionService) {}

  @Post('cart')
  async cart() {
    await this.sessions.set(CART, ['apple', 'pear']);
    return { ok: true };
  }

  @Connected()
  @Post('fill')
  async fill() {
    await this.sessions.set(NOTE, { text: 'survives restarts' });
    await this.sessions.set(PREFS, 'dark');
    await this.sessions.set(HANDLE, 'memory only');
    return { ok: true };
  }

  @Connected()
  @Get('me')
  async me(@CurrentUser() user: string) {
    return {
      user,
      note: (await this.sessions.get(NOTE)) ?? null,
      cart: (await this.sessions.get(CART)) ?? null,
      prefs: (await this.sessions.get(PREFS)) ?? null,
      handle: (await this.sessions.get(HANDLE)) ?? null,
    };
  }
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

describe.each(ADAPTERS)('MemoryStore snapshot across restarts on %s', (adapter) => {
  let dir: string;
  const apps: TestApp[] = [];

  async function start(store: MemoryStore): Promise<TestApp> {
    // LoginController: POST /login {user}, POST /logout, GET /public → {user | null}.
    const t = await startApp({ adapter, controllers: [LoginController, SnapshotController], policy: { store } });
    apps.push(t);
    return t;
  }

  async function stop(t: TestApp): Promise<void> {
    apps.splice(apps.indexOf(t), 1);
    await t.close();
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `nestjs-connected-snapshot-${adapter}-`));
  });
  afterEach(async () => {
    // An app left open by a failed test.
    for (const t of apps.splice(0)) await t.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a new app on the same file accepts the same cookie and reads the persisted values', async () => {
    const file = join(dir, 'sessions.json');
    const first = await start(new MemoryStore({ snapshotFile: file }));
    const b = new Browser(first.url);
    expect((await b.post('/cart')).status).toBe(201);
    expect((await b.post('/login', { user: 'snap-ann' })).status).toBe(201);
    expect((await b.post('/fill')).status).toBe(201);
    const before = await b.get('/me');
    expect(before.body).toEqual({
      user: 'snap-ann',
      note: { text: 'survives restarts' },
      cart: ['apple', 'pear'],
      prefs: 'dark',
      handle: 'memory only',
    });
    const cookie = sessionCookieOf(b)!;
    expect(await exists(file)).toBe(false);
    await stop(first);

    // Written on shutdown, readable by the owner only, with no session id or cookie in it.
    expect(await exists(file)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('survives restarts');
    expect(text).not.toContain(cookie.id);
    expect(text).not.toContain(cookie.value);
    expect(text).not.toContain('memory only');

    const second = await start(new MemoryStore({ snapshotFile: file }));
    // Read at start-up, then deleted.
    expect(await exists(file)).toBe(false);
    const again = new Browser(second.url);
    again.jar.set('sid', cookie.value);
    const after = await again.get('/me');
    expect(after.status).toBe(200);
    // Persisted values came back; the in-memory one stayed with the old process.
    expect(after.body).toEqual({
      user: 'snap-ann',
      note: { text: 'survives restarts' },
      cart: ['apple', 'pear'],
      prefs: 'dark',
      handle: null,
    });
    expect(after.setCookies).toEqual([]);
    await stop(second);

    // The control: without the file, the same cookie names nothing.
    await rm(file, { force: true });
    const third = await start(new MemoryStore({ snapshotFile: file }));
    const stranger = new Browser(third.url);
    stranger.jar.set('sid', cookie.value);
    const refused = await stranger.get('/me');
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual(NOT_CONNECTED);
    await stop(third);
  });

  it('a corrupt snapshot file does not stop the app from starting', async () => {
    for (const [name, content] of [
      ['garbage.json', '{ this is not json'],
      ['wrong-shape.json', JSON.stringify({ version: 1, sessions: 'nope', users: {} })],
      [
        'bad-records.json',
        '{"version":1,"sessions":[["k",{"__proto__":{"userId":"x"},"epoch":-1}],"x",null,' +
          '["k2",{"userId":"","epoch":0,"createdAt":1,"lastSeenAt":1,"idleExpiresAt":9e15,"absoluteExpiresAt":9e15,"data":{"__proto__":"1"}}]],' +
          '"users":[["__proto__",{"epoch":1,"fields":[]}],["u",null],5]}',
      ],
    ] as const) {
      const file = join(dir, name);
      await writeFile(file, content, { mode: 0o600 });
      const t = await start(new MemoryStore({ snapshotFile: file }));
      const b = new Browser(t.url);
      const open = await b.get('/public');
      expect(open.status).toBe(200);
      expect(open.body).toEqual({ user: null });
      // And it works as usual.
      expect((await b.post('/login', { user: `snap-${name}` })).status).toBe(201);
      expect((await b.post('/fill')).status).toBe(201);
      expect((await b.get('/me')).body).toMatchObject({ user: `snap-${name}`, note: { text: 'survives restarts' } });
      await stop(t);
    }
  });
});
