import { Body, Controller, Get, Post } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Connected, CurrentUser, MemoryStore, SessionService, type SessionRecord } from '../../lib/index.js';
import { ADAPTERS, startWithStore, type AdapterName, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { EventRecorder, waitUntil } from '../support/lifecycle-helpers.js';
import { LiveGateway, NOTE } from '../support/live.gateway.js';
import { openSocket, sessionSockets, SOCKET_KINDS, type OpenOptions, type SocketKind, type TestSocket } from '../support/sockets.js';

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
// LiveGateway: whoami, admin (allow admin, deny banned), maybe, public, note, set-note, tab, logout, boom, boom-async.

/** The groups `policy.groups` answers; a test may change them between messages. */
const GROUPS: Record<string, readonly string[]> = {};
function resetGroups(): void {
  for (const user of Object.keys(GROUPS)) delete GROUPS[user];
  Object.assign(GROUPS, { root: ['admin'], mallory: ['admin', 'banned'] });
}

/** What the `grant` handler did: a refused message must leave no trace here. */
const granted: Array<{ user: string; note: string }> = [];

/** A second gateway on the same server, whose handler has side effects. */
@WebSocketGateway()
class GrantGateway {
  constructor(private readonly sessions: SessionService) {}

  /** `grant {note}` (allow admin, deny banned): records the call and sets the session's NOTE → `{ ok: true }`. */
  @Connected({ allow: ['admin'], deny: ['banned'] })
  @SubscribeMessage('grant')
  async grant(@CurrentUser() user: string, @MessageBody() body: { note: string }) {
    granted.push({ user, note: body.note });
    await this.sessions.set(NOTE, body.note);
    return { event: 'grant', data: { ok: true } };
  }
}

/** LiveGateway's NOTE over HTTP: `GET /live-note` (@Connected) → `{ user, note }`, `POST /live-note {note}` sets it. */
@Controller('live-note')
class LiveNoteController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get()
  async read(@CurrentUser() user: string) {
    return { user, note: (await this.sessions.get(NOTE)) ?? null };
  }

  @Connected()
  @Post()
  async write(@Body() body: { note: string }) {
    await this.sessions.set(NOTE, body.note);
    return { ok: true };
  }
}

/**
 * A MemoryStore that hands out copies, as a store over the network (Redis) does: a socket then sees a write made by
 * another request only when it reads its session again. (The plain MemoryStore shares its records.)
 */
class CopyingStore extends MemoryStore {
  override async get(key: string): Promise<SessionRecord | undefined> {
    const record = await super.get(key);
    return record === undefined ? undefined : structuredClone(record);
  }
}

const STORES = [
  ['the memory store', () => new MemoryStore()],
  ['a store that hands out copies', () => new CopyingStore()],
] as const;

const FORBIDDEN = { event: 'exception', data: { status: 'error', code: 'forbidden', message: 'Permission denied' } };
const UNAUTHENTICATED = { event: 'exception', data: { status: 'error', code: 'unauthenticated', message: 'Not connected' } };

describe.each(ADAPTERS)('socket messages on %s', (adapter: AdapterName) => {
  describe.each(SOCKET_KINDS)('%s', (kind: SocketKind) => {
    /** Sockets a test opened; each is closed after the test. */
    const opened: TestSocket[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((socket) => socket.close()));
      granted.length = 0;
      resetGroups();
    });

    async function connect(url: string, options?: OpenOptions): Promise<TestSocket> {
      const socket = await openSocket(kind, url, options);
      opened.push(socket);
      return socket;
    }

    async function login(t: TestApp, user: string): Promise<Browser> {
      const browser = new Browser(t.url);
      expect((await browser.post('/login', { user })).status).toBe(201);
      return browser;
    }

    /** A logged-in browser and a socket on its session. */
    async function userSocket(t: TestApp, user: string): Promise<{ browser: Browser; socket: TestSocket }> {
      const browser = await login(t, user);
      return { browser, socket: await connect(t.url, { cookie: browser.cookieHeader() }) };
    }

    describe.each(STORES)('on %s', (_, makeStore) => {
      let t: TestApp;
      beforeAll(async () => {
        resetGroups();
        ({ t } = await startWithStore({
          adapter,
          controllers: [AuthController, LiveNoteController],
          providers: [LiveGateway, GrantGateway],
          policy: { store: makeStore(), groups: (user) => GROUPS[user] ?? [] },
          configure: sessionSockets(kind),
        }));
      });
      afterAll(() => t.close());

      it('gives handlers the user (@CurrentUser) and the session data (@SessionData)', async () => {
        const browser = await login(t, 'ann');
        expect((await browser.post('/live-note', { note: 'before the socket' })).status).toBe(201);
        const socket = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        expect(await socket.request('note')).toEqual({ event: 'note', data: { note: 'before the socket' } });
        expect(await socket.request('maybe')).toEqual({ event: 'maybe', data: { user: 'ann' } });
        expect(await socket.request('public')).toEqual({ event: 'public', data: { user: 'ann' } });
      });

      it('sees each socket’s own session, not another one’s', async () => {
        const ann = await userSocket(t, 'ann');
        const bob = await userSocket(t, 'bob');
        await ann.socket.request('set-note', { note: 'ann’s' });
        expect(await bob.socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'bob' } });
        expect(await bob.socket.request('note')).toEqual({ event: 'note', data: { note: null } });
        expect(await ann.socket.request('note')).toEqual({ event: 'note', data: { note: 'ann’s' } });
      });

      it('makes a value set inside a message visible over HTTP at once, and to the other sockets of the session', async () => {
        const { browser, socket } = await userSocket(t, 'ann');
        const other = await connect(t.url, { cookie: browser.cookieHeader() });
        expect(await other.request('note')).toEqual({ event: 'note', data: { note: null } });
        expect(await socket.request('set-note', { note: 'from the socket' })).toEqual({ event: 'set-note', data: { ok: true } });
        expect((await browser.get('/live-note')).body).toEqual({ user: 'ann', note: 'from the socket' });
        expect(await socket.request('note')).toEqual({ event: 'note', data: { note: 'from the socket' } });
        await waitUntil(
          async () => (await other.request('note')).data.note === 'from the socket',
          2500,
          'the other socket of the session to see the note',
        );
      });

      it('makes a value set over HTTP visible to an open socket within about a second (the per-message re-read)', async () => {
        const { browser, socket } = await userSocket(t, 'ann');
        expect(await socket.request('note')).toEqual({ event: 'note', data: { note: null } });
        expect((await browser.post('/live-note', { note: 'from HTTP' })).status).toBe(201);
        await waitUntil(async () => (await socket.request('note')).data.note === 'from HTTP', 2500, 'the socket to see the note');
        expect(socket.isOpen).toBe(true);
      });

      it('lets an allowed user through allow/deny and refuses the others with forbidden (deny wins)', async () => {
        const root = await userSocket(t, 'root');
        const ann = await userSocket(t, 'ann');
        const mallory = await userSocket(t, 'mallory');
        expect(await root.socket.request('admin')).toEqual({ event: 'admin', data: { ok: true } });
        expect(await ann.socket.request('admin')).toEqual(FORBIDDEN);
        expect(await mallory.socket.request('admin')).toEqual(FORBIDDEN);
        // Refused users are still connected: the refusal is the message's, not the session's.
        expect(await ann.socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        expect((await mallory.browser.get('/me')).status).toBe(200);
      });

      it('runs no handler for a refused message, and keeps the socket open', async () => {
        const ann = await userSocket(t, 'ann');
        const mallory = await userSocket(t, 'mallory');
        expect(await ann.socket.request('grant', { note: 'stolen' })).toEqual(FORBIDDEN);
        expect(await mallory.socket.request('grant', { note: 'stolen' })).toEqual(FORBIDDEN);
        expect(granted).toEqual([]);
        expect((await ann.browser.get('/live-note')).body).toEqual({ user: 'ann', note: null });
        expect((await mallory.browser.get('/live-note')).body).toEqual({ user: 'mallory', note: null });
        expect(ann.socket.isOpen).toBe(true);
        expect(await ann.socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        expect(await mallory.socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'mallory' } });

        const root = await userSocket(t, 'root');
        expect(await root.socket.request('grant', { note: 'granted' })).toEqual({ event: 'grant', data: { ok: true } });
        expect(granted).toEqual([{ user: 'root', note: 'granted' }]);
        expect((await root.browser.get('/live-note')).body).toEqual({ user: 'root', note: 'granted' });
      });

      it('asks for the groups again on every message', async () => {
        const ann = await userSocket(t, 'ann');
        expect(await ann.socket.request('admin')).toEqual(FORBIDDEN);
        GROUPS['ann'] = ['admin'];
        expect(await ann.socket.request('admin')).toEqual({ event: 'admin', data: { ok: true } });
        GROUPS['ann'] = ['admin', 'banned'];
        expect(await ann.socket.request('admin')).toEqual(FORBIDDEN);
      });

      it('keeps process-scoped values per socket', async () => {
        const { browser, socket } = await userSocket(t, 'ann');
        const other = await connect(t.url, { cookie: browser.cookieHeader() });
        expect((await socket.request('tab')).data).toEqual({ count: 1 });
        expect((await socket.request('tab')).data).toEqual({ count: 2 });
        expect((await other.request('tab')).data).toEqual({ count: 1 });
      });

      it.each(['boom', 'boom-async'])('answers a throwing handler (%s) with an exception event and keeps serving', async (event) => {
        const { browser, socket } = await userSocket(t, 'ann');
        const reply = await socket.request(event);
        expect(reply.event).toBe('exception');
        expect(reply.data).toMatchObject({ status: 'error', message: 'Internal server error' });
        expect(reply.data.code).toBeUndefined();
        expect(socket.isOpen).toBe(true);
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
        expect((await browser.get('/me')).body).toEqual({ user: 'ann' });
        const publicReply = await new Browser(t.url).get('/public');
        expect(publicReply.status).toBe(200);
        // Other sockets are served too.
        const other = await userSocket(t, 'bob');
        expect(await other.socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'bob' } });
      });

      it('counts a socket served by two gateways as one client of its session', async () => {
        const events = new EventRecorder(t.app);
        try {
          // A user of its own: sockets of earlier tests may still be leaving.
          const { socket } = await userSocket(t, 'solo');
          const of = (type: string) => events.events.filter((event) => event.type === type && event.userId === 'solo');
          expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'solo' } });
          await waitUntil(() => of('client-connected').length > 0, 5000, 'client-connected');
          await socket.close();
          await waitUntil(() => of('client-disconnected').length > 0, 5000, 'client-disconnected');
          // A duplicate would be queued right behind the first one: one more round trip lets it through.
          expect((await new Browser(t.url).get('/public')).status).toBe(200);
          expect(of('client-connected')).toHaveLength(1);
          expect(of('client-disconnected')).toHaveLength(1);
        } finally {
          events.stop();
        }
      });
    });

    describe('on an anonymous socket (allowAnonymous)', () => {
      let t: TestApp;
      beforeAll(async () => {
        ({ t } = await startWithStore({
          adapter,
          controllers: [AuthController],
          providers: [LiveGateway, GrantGateway],
          configure: sessionSockets(kind, { allowAnonymous: true }),
        }));
      });
      afterAll(() => t.close());

      it('refuses guarded messages as unauthenticated without running them, and serves the others', async () => {
        const socket = await connect(t.url);
        expect(await socket.request('whoami')).toEqual(UNAUTHENTICATED);
        expect(await socket.request('grant', { note: 'anonymous' })).toEqual(UNAUTHENTICATED);
        expect(await socket.request('set-note', { note: 'anonymous' })).toEqual(UNAUTHENTICATED);
        expect(granted).toEqual([]);
        expect(await socket.request('maybe')).toEqual({ event: 'maybe', data: { user: null } });
        expect(await socket.request('public')).toEqual({ event: 'public', data: { user: null } });
        expect(socket.isOpen).toBe(true);
      });
    });
  });
});
