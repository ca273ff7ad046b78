import { Body, Controller, Post } from '@nestjs/common';
import { Connected, MemoryStore, SessionKey, SessionService, type SessionRecord } from '../../lib/index.js';
import { ADAPTERS, startWithStore, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';
import { deferred, type Deferred } from '../support/lifecycle-helpers.js';
import { NoteController } from '../support/note.controller.js';
import { PASSWORD, ReauthController } from '../support/reauth-app.js';
import { SessionsController } from '../support/sessions.controller.js';

/**
 * `reauthenticate()` when something else happens half-way (issue 13): the step that ends the old id (`destroy` with
 * `movedTo`) is held at a gate while the test writes to the old session, closes it, or makes the store fail.
 */
/** Every value an `onDelete` of {@link HANDLE} received: a value dropped with its session must be here once. */
const deleted: string[] = [];
/** An in-memory session value whose end is seen: a handle to something outside the store. */
const HANDLE = new SessionKey<string>('reauth-race.handle', { onDelete: (value) => void deleted.push(value) });

/** `POST /handle {value}` (@Connected): sets {@link HANDLE}. */
@Controller()
class HandleController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Post('handle')
  async set(@Body() body: { value: string }) {
    await this.sessions.set(HANDLE, body.value);
    return { ok: true };
  }
}

class GatedDestroyStore extends MemoryStore {
  /** While set, a `destroy` that moves a session waits for it (after telling `reached`). */
  gate: Deferred | undefined;
  reached: Deferred = deferred();
  /** The next moving `destroy` rejects, as a sick store would. */
  failNext = false;

  override async destroy(key: string, movedTo?: string): Promise<SessionRecord | undefined> {
    if (movedTo !== undefined) {
      if (this.failNext) {
        this.failNext = false;
        throw new Error('injected fault in destroy');
      }
      const gate = this.gate;
      if (gate !== undefined) {
        this.reached.resolve();
        await gate.promise;
      }
    }
    return super.destroy(key, movedTo);
  }

  hold(): Deferred {
    this.reached = deferred();
    return (this.gate = deferred());
  }

  release(): void {
    this.gate?.resolve();
    this.gate = undefined;
  }
}

describe.each(ADAPTERS)('reauthenticate() racing other requests on %s', (adapter) => {
  let t: TestApp;
  let store: GatedDestroyStore;

  beforeAll(async () => {
    ({ t } = await startWithStore({
      adapter,
      controllers: [LoginController, ReauthController, NoteController, CartController, SessionsController, HandleController],
      policy: { store: (store = new GatedDestroyStore()) },
    }));
  });
  afterAll(() => t?.close());
  afterEach(() => store.release());

  let users = 0;
  async function login(): Promise<{ browser: Browser; user: string; copy: () => Browser }> {
    const user = `race-${adapter}-${++users}`;
    const browser = new Browser(t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    // Another tab of the same browser that still sends the cookie of before the re-authentication.
    const copy = () => {
      const other = new Browser(t.url);
      other.jar.set('sid', browser.jar.get('sid')!);
      return other;
    };
    return { browser, user, copy };
  }

  it('carries over what another request wrote to the old session while it was renewed', async () => {
    const { browser, copy } = await login();
    expect((await browser.post('/note', { note: 'before' })).status).toBe(201);
    expect((await browser.post('/cart', { item: 'tea' })).status).toBe(201);
    store.hold();
    const renewing = browser.post('/reauthenticate', { password: PASSWORD });
    await store.reached.promise;
    const tab = copy();
    expect((await tab.post('/note', { note: 'written meanwhile' })).status).toBe(201);
    expect((await tab.post('/cart', { item: 'coffee' })).status).toBe(201);
    store.release();
    expect((await renewing).status).toBe(201);
    expect((await browser.get('/me')).body).toMatchObject({ note: 'written meanwhile' });
    expect((await browser.get('/cart')).body).toEqual({ cart: 'coffee' });
  });

  it('answers 401 "The session was closed" when the session was logged out meanwhile, and leaves no session behind', async () => {
    const { browser, user, copy } = await login();
    const value = `handle-${user}`;
    expect((await browser.post('/handle', { value })).status).toBe(201);
    const sizeBefore = store.size;
    store.hold();
    const renewing = browser.post('/reauthenticate', { password: PASSWORD });
    await store.reached.promise;
    expect((await copy().post('/logout')).status).toBe(201);
    store.release();
    const refused = await renewing;
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'unauthenticated', message: 'The session was closed' });
    expect(refused.setCookies).toEqual([]);
    expect((await browser.get('/me')).status).toBe(401);
    expect(await store.listUser(user)).toEqual([]);
    expect(store.size).toBe(sizeBefore - 1);
    // The in-memory value had moved to the new session, which never came to be: it ends once, here.
    expect(deleted.filter((entry) => entry === value)).toEqual([value]);
  });

  it('lets one of two re-authentications racing each other (a double click) win, and never erases its cookie', async () => {
    const { browser, copy } = await login();
    expect((await browser.post('/note', { note: 'mine' })).status).toBe(201);
    const second = copy();
    store.hold();
    const first = browser.post('/reauthenticate', { password: PASSWORD });
    await store.reached.promise;
    // The second one reads the session before the first ends the old id, and finds it gone when it tries.
    store.reached = deferred();
    const late = second.post('/reauthenticate', { password: PASSWORD });
    await store.reached.promise;
    store.release();
    const [won, lost] = [await first, await late];
    expect(won.status).toBe(201);
    expect(lost.status).toBe(401);
    expect(lost.body).toMatchObject({ message: 'The session was closed' });
    expect(lost.setCookies).toEqual([]);
    expect((await browser.get('/me')).body).toMatchObject({ note: 'mine' });
    expect((await browser.get('/sessions')).body).toHaveLength(1);
  });

  it('keeps the session as it was when the store fails half-way: 503, the old cookie still works, nothing doubled', async () => {
    const { browser, user } = await login();
    expect((await browser.post('/note', { note: 'safe' })).status).toBe(201);
    const [before] = await store.listUser(user);
    store.failNext = true;
    const failed = await browser.post('/reauthenticate', { password: PASSWORD });
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ code: 'store_unavailable' });
    expect(failed.setCookies.filter((cookie) => cookie.name === 'sid')).toEqual([]);
    expect((await browser.get('/me')).body).toMatchObject({ note: 'safe' });
    expect((await store.listUser(user)).map(([key]) => key)).toEqual([before![0]]);
    expect((await browser.post('/reauthenticate', { password: PASSWORD })).status).toBe(201);
    expect((await browser.get('/me')).body).toMatchObject({ note: 'safe' });
  });
});
