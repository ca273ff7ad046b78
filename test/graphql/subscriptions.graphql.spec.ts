import { SESSION_CLOSE_CODE } from 'nestjs-connected/graphql';
import { MemoryStore, type SessionEvent, type SessionInfo } from '../../lib/index.js';
import { SECRET } from '../support/app.js';
import { idOf, signWith } from '../support/auth-helpers.js';
import { Browser } from '../support/browser.js';
import {
  groups,
  startGraphqlApp,
  startRedisGraphqlApp,
  TICKS,
  type GraphqlApp,
  type GraphqlAppOptions,
  type TickPayload,
} from '../support/graphql-ws-app.js';
import {
  describeEnd,
  GqlPool,
  within,
  type Closed,
  type GqlConnection,
  type GqlOpenOptions,
  type Result,
  type TestSubscription,
} from '../support/graphql-ws-client.js';
import { registryOf } from '../support/clients-helpers.js';
import { EventRecorder, FaultyStore, waitUntil } from '../support/lifecycle-helpers.js';
import { freshPrefix, sameBrowserOn } from '../support/redis-apps.js';
import { redisForFile } from '../support/store-kinds.js';
import { reportMeasurement } from '../support/measurement.js';

// The app (test/support/graphql-ws-app.ts): Apollo on Express, `subscriptions: sessionSubscriptions(options)`.
// REST: POST /login {user}, POST /logout, GET /me (@Connected), GET /sessions, POST /revoke {handle},
// POST /disconnect-all (@Connected), POST /disconnect-user {user}.
// GraphQL subscriptions on one PubSub topic: ticks (@Connected; filter and resolve read the user), adminTicks
// (@Connected allow admin, deny banned), maybeTicks (@Connected optional), publicTicks (no guard).
const TICKS_OP = 'subscription { ticks { n subscribedAs resolvedAs } }';
const ADMIN_TICKS_OP = 'subscription { adminTicks { n resolvedAs } }';
const MAYBE_TICKS_OP = 'subscription { maybeTicks { n subscribedAs resolvedAs } }';
const PUBLIC_TICKS_OP = 'subscription { publicTicks { n resolvedAs } }';

const OTHER_SECRET = 'another-secret-that-is-long-enough-abcdefghij';

/** The bound the issue sets on a logout's reach: the subscription's connection is closed within 100 ms. */
const LOGOUT_CLOSE_MS = 100;
/** The bound on a revocation made on another server (through the store's notices). */
const CROSS_SERVER_CLOSE_MS = 1000;
/** "Nothing hangs": a refusal or a close must come well within this (generous, not a speed claim). */
const NOTHING_HANGS_MS = 5000;

describe('GraphQL subscriptions over graphql-ws (Apollo on Express)', () => {
  const pool = new GqlPool();
  /** The apps of the running block, which must hold nothing of a test once its connections closed. */
  const running: GraphqlApp[] = [];

  afterEach(async () => {
    await pool.disposeAll();
    for (const app of running) {
      // Nothing leaks: every subscription iterator of a closed connection was returned (graphql-ws calls return()),
      // and every connection left the registry of its session's clients.
      await waitUntil(() => app.pubsub.listeners(TICKS) === 0, NOTHING_HANGS_MS, 'every subscription iterator to be released');
      await waitUntil(() => registryOf(app.t.app).count() === 0, NOTHING_HANGS_MS, 'every connection to leave the client registry');
    }
  });

  /** An app of a describe block, and every session event it emitted since it started. */
  interface Block {
    readonly app: GraphqlApp;
    readonly events: EventRecorder;
  }

  /** Starts an app (and its event recorder) for a describe block; it is closed after the block. */
  function appForBlock(options: () => GraphqlAppOptions = () => ({})): Block {
    const holder = {} as { app: GraphqlApp; events: EventRecorder };
    beforeAll(async () => {
      holder.app = await startGraphqlApp(options());
      holder.events = new EventRecorder(holder.app.t.app);
      running.push(holder.app);
    });
    afterAll(async () => {
      holder.events?.stop();
      running.splice(running.indexOf(holder.app), 1);
      await holder.app?.t.close();
    });
    return holder;
  }

  /** A mark in the block's events: what came after it is read by {@link connectedSince} and {@link eventSince}. */
  const markOf = (block: Block): number => block.events.events.length;

  const connectedSince = (block: Block, mark: number): SessionEvent[] =>
    block.events.events.slice(mark).filter((event) => event.type === 'client-connected');

  /**
   * The connections that became clients of a session since `mark` are exactly those of `users`, in that order: a
   * refused connection never became one. Waits (a generous bound) until that many client-connected events came.
   */
  async function expectClientsSince(block: Block, mark: number, users: string[]): Promise<void> {
    await waitUntil(() => connectedSince(block, mark).length >= users.length, NOTHING_HANGS_MS, `${users.length} client-connected events`);
    expect(connectedSince(block, mark).map((event) => event.userId)).toEqual(users);
  }

  /** The first event since `mark` that matches (waiting for it, within a generous bound). */
  async function eventSince(block: Block, mark: number, match: (event: SessionEvent) => boolean): Promise<SessionEvent> {
    let found: SessionEvent | undefined;
    await waitUntil(
      () => (found = block.events.events.slice(mark).find(match)) !== undefined,
      NOTHING_HANGS_MS,
      'the awaited session event',
    );
    return found!;
  }

  async function login(app: GraphqlApp, user: string): Promise<Browser> {
    const browser = new Browser(app.t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    return browser;
  }

  async function expectStillConnected(browser: Browser, user: string): Promise<void> {
    const me = await browser.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user });
  }

  /** The handle (`SessionInfo.handle`, the `session` of events) of the browser's own session. */
  async function handleOfBrowser(browser: Browser): Promise<string> {
    const listed = (await browser.get('/sessions')).body as SessionInfo[];
    const current = listed.filter((session) => session.current);
    expect(current).toHaveLength(1);
    return current[0]!.handle;
  }

  function connect(app: GraphqlApp, options: GqlOpenOptions = {}): GqlConnection {
    return pool.connect(app.wsUrl, options);
  }

  /** A connection that the server acknowledged (connection_ack). */
  async function admitted(app: GraphqlApp, options: GqlOpenOptions = {}): Promise<GqlConnection> {
    const connection = connect(app, options);
    const settled = await within(connection.settled, NOTHING_HANGS_MS, 'connection_ack or close');
    expect(settled).toBe('acked');
    return connection;
  }

  /** The close of a connection the server refused: it never sent connection_ack. */
  async function refusedWith(connection: GqlConnection, code: number, reason: string): Promise<Closed> {
    const settled = await within(connection.settled, NOTHING_HANGS_MS, 'the refusal of the connection');
    expect(settled).toEqual({ code, reason, at: expect.any(Number) });
    expect(connection.ackedAt).toBeUndefined();
    return settled as Closed;
  }

  /** Opens a connection and expects it refused with `code` and `reason`. */
  async function expectRefused(app: GraphqlApp, options: GqlOpenOptions, code: number, reason: string): Promise<Closed> {
    return refusedWith(connect(app, options), code, reason);
  }

  /**
   * Starts `query` on `connection` and waits until its resolver listens to the topic (the PubSub gained an
   * iterator), so that a publish from now on reaches it.
   */
  async function live(app: GraphqlApp, connection: GqlConnection, query: string): Promise<TestSubscription> {
    const before = app.pubsub.listeners(TICKS);
    const subscription = connection.subscribe(query);
    await waitUntil(
      () => app.pubsub.listeners(TICKS) > before || subscription.outcome !== undefined,
      NOTHING_HANGS_MS,
      'the subscription to listen',
    );
    if (subscription.outcome !== undefined) {
      throw new Error(
        `the subscription ended at once: ${JSON.stringify(describeEnd(subscription.outcome))} ${JSON.stringify(subscription.results)}`,
      );
    }
    return subscription;
  }

  function publish(app: GraphqlApp, payload: TickPayload): void {
    app.pubsub.publish(TICKS, payload);
  }

  /** The refusal of one operation: graphql-ws sends the subscribe resolver's error as a `next` with errors, then `complete`. */
  async function expectOperationRefused(
    subscription: TestSubscription,
    code: 'UNAUTHENTICATED' | 'FORBIDDEN',
    field: string,
  ): Promise<void> {
    const end = await subscription.endedWithin(NOTHING_HANGS_MS);
    expect({ end: describeEnd(end), results: subscription.results }).toEqual({
      end: { kind: 'complete' },
      results: [
        expect.objectContaining({
          errors: [expect.objectContaining({ message: expect.any(String), path: [field], extensions: expect.objectContaining({ code }) })],
        }),
      ],
    });
  }

  /** The tick a `ticks` (or `maybeTicks`) subscriber of `user` receives. */
  const tick = (n: number, user: string | null): Result => ({
    data: { ticks: { n, subscribedAs: user, resolvedAs: user } },
  });

  /** The connection was closed by the server with `code` and `reason` within `ms`; its running operation got the close. */
  async function expectClosedBySession(
    connection: GqlConnection,
    subscription: TestSubscription | undefined,
    reason: 'session_closed' | 'session_expired',
    ms = NOTHING_HANGS_MS,
  ): Promise<Closed> {
    const closed = await connection.closedWithin(ms);
    expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason });
    if (subscription !== undefined) {
      const end = await subscription.endedWithin(NOTHING_HANGS_MS);
      expect(describeEnd(end)).toEqual({ kind: 'error', close: { code: 4401, reason } });
    }
    return closed;
  }

  /** The connection is open and its `ticks` subscription receives the next tick. */
  async function expectServing(app: GraphqlApp, connection: GqlConnection, subscription: TestSubscription, user: string, n: number) {
    expect(connection.close).toBeUndefined();
    publish(app, { n, for: user });
    expect(await subscription.next()).toEqual(tick(n, user));
  }

  describe('with the default options', () => {
    const store = new MemoryStore();
    const block = appForBlock(() => ({ policy: { store, groups } }));

    it('exports the close code of a closed session, 4401', () => {
      expect(SESSION_CLOSE_CODE).toBe(4401);
    });

    it('admits a connection with a session cookie: @CurrentUser() in the subscribe function, the user in filter and resolve', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const bob = await login(app, 'bob');
      const annWs = await admitted(app, { cookie: ann.cookieHeader() });
      const bobWs = await admitted(app, { cookie: bob.cookieHeader() });
      const annTicks = await live(app, annWs, TICKS_OP);
      const bobTicks = await live(app, bobWs, TICKS_OP);

      publish(app, { n: 1 });
      expect(await annTicks.next()).toEqual(tick(1, 'ann'));
      expect(await bobTicks.next()).toEqual(tick(1, 'bob'));
      // The filter reads the subscriber's user: a tick for bob only is not delivered to ann (3 comes after it for both).
      publish(app, { n: 2, for: 'bob' });
      publish(app, { n: 3 });
      expect(await bobTicks.next()).toEqual(tick(2, 'bob'));
      expect(await bobTicks.next()).toEqual(tick(3, 'bob'));
      expect(await annTicks.next()).toEqual(tick(3, 'ann'));
      expect(annTicks.rest()).toEqual([]);
    });

    it('checks the cookie when connection_init arrives: a connection without one is upgraded, then closed 4401 unauthenticated with no ack', async () => {
      const { app } = block;
      const mark = markOf(block);
      const raw = pool.raw(app.wsUrl);
      await within(raw.opened, NOTHING_HANGS_MS, 'the upgrade');
      raw.send(JSON.stringify({ type: 'connection_init' }));
      const closed = await raw.closedWithin(NOTHING_HANGS_MS);
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason: 'unauthenticated' });
      expect(raw.messages).toEqual([]);

      // The graphql-ws client sees the same close, and an operation started on it gets the close as its error.
      const connection = connect(app);
      const subscription = connection.subscribe(TICKS_OP);
      await refusedWith(connection, 4401, 'unauthenticated');
      expect(describeEnd(await subscription.endedWithin())).toEqual({ kind: 'error', close: { code: 4401, reason: 'unauthenticated' } });
      expect(subscription.results).toEqual([]);

      const probe = await login(app, 'probe');
      await admitted(app, { cookie: probe.cookieHeader() });
      await expectClientsSince(block, mark, ['probe']);
    });

    it('refuses a forged, unknown or garbage cookie with 4401 unauthenticated; the real session and the server go on, with no client for the refused', async () => {
      const { app } = block;
      const victim = await login(app, 'victim');
      const sessions = store.size;
      const mark = markOf(block);
      const cookies = [
        `sid=${signWith(OTHER_SECRET, idOf(victim.jar.get('sid')!))}`,
        `sid=${signWith(OTHER_SECRET)}`,
        `sid=${signWith(SECRET)}`,
        'sid=garbage',
        'sid=%E0%A4%A; sid',
        'sid=\u00e9\u00ff\u00fe; other=\u00a0',
        ';;; = ;=;',
        `sid=${'x'.repeat(4000)}`,
      ];
      for (const cookie of cookies) await expectRefused(app, { cookie }, 4401, 'unauthenticated');
      expect(store.size).toBe(sessions);
      await expectStillConnected(victim, 'victim');

      const victimWs = await admitted(app, { cookie: victim.cookieHeader() });
      await expectServing(app, victimWs, await live(app, victimWs, TICKS_OP), 'victim', 1);
      await expectClientsSince(block, mark, ['victim']);
    });

    it('refuses a foreign Origin with 4403 origin_not_allowed even with a valid cookie; its own origin and no Origin pass', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const cookie = ann.cookieHeader();
      const mark = markOf(block);
      for (const origin of ['http://evil.example', 'http://127.0.0.1:1', 'null']) {
        await expectRefused(app, { cookie, origin }, 4403, 'origin_not_allowed');
      }
      await expectStillConnected(ann, 'ann');
      const same = await admitted(app, { cookie, origin: app.t.url });
      await expectServing(app, same, await live(app, same, TICKS_OP), 'ann', 1);
      const none = await admitted(app, { cookie });
      await expectServing(app, none, await live(app, none, TICKS_OP), 'ann', 2);
      await expectClientsSince(block, mark, ['ann', 'ann']);
    });

    it('@Connected({ allow, deny }) on a subscription: FORBIDDEN for the wrong groups, and the connection serves the next operation', async () => {
      const { app } = block;
      for (const user of ['ann', 'mallory']) {
        const browser = await login(app, user);
        const connection = await admitted(app, { cookie: browser.cookieHeader() });
        const listeners = app.pubsub.listeners(TICKS);
        await expectOperationRefused(connection.subscribe(ADMIN_TICKS_OP), 'FORBIDDEN', 'adminTicks');
        expect(connection.isOpen).toBe(true);
        // The refused resolver never ran: no iterator was made for it.
        expect(app.pubsub.listeners(TICKS)).toBe(listeners);
        const ticks = await live(app, connection, TICKS_OP);
        await expectServing(app, connection, ticks, user, 1);
        await expectStillConnected(browser, user);
      }
      const root = await login(app, 'root');
      const rootWs = await admitted(app, { cookie: root.cookieHeader() });
      const adminTicks = await live(app, rootWs, ADMIN_TICKS_OP);
      publish(app, { n: 7 });
      expect(await adminTicks.next()).toEqual({ data: { adminTicks: { n: 7, resolvedAs: 'root' } } });
    });

    it('a connection is a client of its session: client-connected and client-disconnected with transport ws, the session and the user', async () => {
      const { app } = block;
      const eve = await login(app, 'eve');
      const handle = await handleOfBrowser(eve);
      const mark = markOf(block);
      const connection = await admitted(app, { cookie: eve.cookieHeader() });
      const connected = await eventSince(block, mark, (event) => event.type === 'client-connected' && event.userId === 'eve');
      expect(connected).toMatchObject({ type: 'client-connected', transport: 'ws', session: handle, userId: 'eve' });

      await connection.dispose();
      const disconnected = await eventSince(
        block,
        mark,
        (event) => event.type === 'client-disconnected' && event.process === connected.process,
      );
      expect(disconnected).toMatchObject({ type: 'client-disconnected', transport: 'ws', session: handle, userId: 'eve' });
      await expectStillConnected(eve, 'eve');
    });

    it(`logout in one request closes the session's connection with 4401 session_closed within ${LOGOUT_CLOSE_MS} ms; other sessions go on`, async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const bob = await login(app, 'bob');
      const cookie = ann.cookieHeader();
      const annWs = await admitted(app, { cookie });
      const annTicks = await live(app, annWs, TICKS_OP);
      const bobWs = await admitted(app, { cookie: bob.cookieHeader() });
      const bobTicks = await live(app, bobWs, TICKS_OP);

      const sent = performance.now();
      expect((await ann.post('/logout')).status).toBe(201);
      const answered = performance.now();
      const closed = await expectClosedBySession(annWs, annTicks, 'session_closed', NOTHING_HANGS_MS);
      const afterAnswer = Math.round(closed.at - answered);
      reportMeasurement(
        `graphql-ws: logout closed the connection ${afterAnswer} ms after the logout's answer ` +
          `(${Math.round(closed.at - sent)} ms after it was sent)`,
      );
      expect({ msAfterLogoutAnswer: afterAnswer, within: afterAnswer <= LOGOUT_CLOSE_MS }).toEqual({
        msAfterLogoutAnswer: afterAnswer,
        within: true,
      });

      expect((await ann.get('/me')).status).toBe(401);
      await expectServing(app, bobWs, bobTicks, 'bob', 1);
      await expectStillConnected(bob, 'bob');
      // The closed session's cookie cannot open a connection again.
      await expectRefused(app, { cookie }, 4401, 'unauthenticated');
    });

    it('disconnectAll() closes every connection of the user, in every browser, with session_closed', async () => {
      const { app } = block;
      const annA = await login(app, 'ann');
      const annB = await login(app, 'ann');
      const bob = await login(app, 'bob');
      const a = await admitted(app, { cookie: annA.cookieHeader() });
      const aTicks = await live(app, a, TICKS_OP);
      const b = await admitted(app, { cookie: annB.cookieHeader() });
      const bTicks = await live(app, b, TICKS_OP);
      const c = await admitted(app, { cookie: bob.cookieHeader() });
      const cTicks = await live(app, c, TICKS_OP);

      const reply = await annA.post('/disconnect-all');
      expect(reply.status).toBe(201);
      expect(reply.body.closed).toBeGreaterThanOrEqual(2);
      await expectClosedBySession(a, aTicks, 'session_closed');
      await expectClosedBySession(b, bTicks, 'session_closed');
      expect((await annB.get('/me')).status).toBe(401);
      await expectServing(app, c, cTicks, 'bob', 1);
    });

    it('disconnectAll({ userId }) from outside any session closes the user’s connections', async () => {
      const { app } = block;
      const zoe = await login(app, 'zoe');
      const bob = await login(app, 'bob');
      const z1 = await admitted(app, { cookie: zoe.cookieHeader() });
      const z1Ticks = await live(app, z1, TICKS_OP);
      const z2 = await admitted(app, { cookie: zoe.cookieHeader() });
      const c = await admitted(app, { cookie: bob.cookieHeader() });
      const cTicks = await live(app, c, TICKS_OP);

      expect((await new Browser(app.t.url).post('/disconnect-user', { user: 'zoe' })).body).toEqual({ closed: 1 });
      await expectClosedBySession(z1, z1Ticks, 'session_closed');
      await expectClosedBySession(z2, undefined, 'session_closed');
      await expectServing(app, c, cTicks, 'bob', 1);
    });

    it('revoke(handle) closes the connections of that session only', async () => {
      const { app } = block;
      const annA = await login(app, 'ann');
      const annB = await login(app, 'ann');
      const a = await admitted(app, { cookie: annA.cookieHeader() });
      const aTicks = await live(app, a, TICKS_OP);
      const b = await admitted(app, { cookie: annB.cookieHeader() });
      const bTicks = await live(app, b, TICKS_OP);

      const target = await handleOfBrowser(annB);
      expect((await annA.post('/revoke', { handle: target })).status).toBe(201);
      await expectClosedBySession(b, bTicks, 'session_closed');
      expect((await annB.get('/me')).status).toBe(401);
      await expectServing(app, a, aTicks, 'ann', 1);
      await expectStillConnected(annA, 'ann');
    });

    it.each([
      ['text that is no JSON', 'not json {'],
      ['a connection_init whose payload is a string', JSON.stringify({ type: 'connection_init', payload: 'x' })],
      ['a connection_init whose payload is a number', JSON.stringify({ type: 'connection_init', payload: 42 })],
      ['a connection_init whose payload is a list', JSON.stringify({ type: 'connection_init', payload: [] })],
      ['a message of no known type', JSON.stringify({ type: 'nonsense' })],
      ['a message without a type', JSON.stringify({ payload: {} })],
    ])('%s gets graphql-ws’s own close (4400 Invalid message received), and the server stays healthy', async (_, text) => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const mark = markOf(block);
      const raw = pool.raw(app.wsUrl, { cookie: ann.cookieHeader() });
      await within(raw.opened, NOTHING_HANGS_MS, 'the upgrade');
      raw.send(text);
      const closed = await raw.closedWithin(NOTHING_HANGS_MS);
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4400, reason: 'Invalid message received' });
      expect(raw.messages).toEqual([]);

      await expectStillConnected(ann, 'ann');
      const next = await admitted(app, { cookie: ann.cookieHeader() });
      await expectServing(app, next, await live(app, next, TICKS_OP), 'ann', 1);
      await expectClientsSince(block, mark, ['ann']);
    });

    it.each([
      ['an object process id', { process: {} }],
      ['a long process id', { process: 'p'.repeat(5000) }],
      ['a __proto__ key', JSON.parse('{"__proto__": {"polluted": true}, "process": "tab-1"}') as unknown],
      ['null', null],
    ])('a well-formed connection_init with an odd payload (%s) is checked like any other and acknowledged', async (_, payload) => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const mark = markOf(block);
      const raw = pool.raw(app.wsUrl, { cookie: ann.cookieHeader() });
      await within(raw.opened, NOTHING_HANGS_MS, 'the upgrade');
      raw.send(JSON.stringify({ type: 'connection_init', payload }));
      const answer = await within(
        Promise.race([raw.closed, new Promise<void>((resolve) => raw.socket.once('message', () => resolve()))]),
        NOTHING_HANGS_MS,
        'an answer to connection_init',
      );
      expect({ closed: answer, messages: raw.parsed() }).toEqual({ closed: undefined, messages: [{ type: 'connection_ack' }] });
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      await expectClientsSince(block, mark, ['ann']);
      expect(connectedSince(block, mark)[0]!.transport).toBe('ws');
      await expectStillConnected(ann, 'ann');
    });

    it('an operation before connection_init, and a second connection_init, get graphql-ws’s own closes; a joined client leaves', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const mark = markOf(block);
      const early = pool.raw(app.wsUrl, { cookie: ann.cookieHeader() });
      await within(early.opened, NOTHING_HANGS_MS, 'the upgrade');
      early.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: TICKS_OP } }));
      const earlyClosed = await early.closedWithin(NOTHING_HANGS_MS);
      expect({ code: earlyClosed.code, reason: earlyClosed.reason }).toEqual({ code: 4401, reason: 'Unauthorized' });
      expect(early.messages).toEqual([]);
      expect(app.pubsub.listeners(TICKS)).toBe(0);

      const twice = pool.raw(app.wsUrl, { cookie: ann.cookieHeader() });
      await within(twice.opened, NOTHING_HANGS_MS, 'the upgrade');
      twice.send(JSON.stringify({ type: 'connection_init' }));
      await waitUntil(() => twice.messages.length > 0, NOTHING_HANGS_MS, 'connection_ack');
      expect(twice.parsed()).toEqual([{ type: 'connection_ack' }]);
      twice.send(JSON.stringify({ type: 'connection_init' }));
      const twiceClosed = await twice.closedWithin(NOTHING_HANGS_MS);
      expect({ code: twiceClosed.code, reason: twiceClosed.reason }).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
      // Only the second socket ever became a client, and it left when it closed.
      await expectClientsSince(block, mark, ['ann']);
      const { process } = connectedSince(block, mark)[0]!;
      const left = await eventSince(block, mark, (event) => event.type === 'client-disconnected' && event.process === process);
      expect(left).toMatchObject({ userId: 'ann', transport: 'ws' });
      await expectStillConnected(ann, 'ann');
    });
  });

  describe('an idle timeout of 1 second', () => {
    const block = appForBlock(() => ({ policy: { idleTimeout: 1 } }));

    it('closes an idle connection with 4401 session_expired, and the expired cookie is refused with 4401 unauthenticated', async () => {
      const { app } = block;
      const loginAt = Date.now();
      const loggedInAt = performance.now();
      const ann = await login(app, 'ann');
      const cookie = ann.cookieHeader();
      const connection = await admitted(app, { cookie });
      const ticks = await live(app, connection, TICKS_OP);
      // Expiry is 1 s after the last activity; the timer closes idle connections within about a second of it.
      const closed = await expectClosedBySession(connection, ticks, 'session_expired', loginAt + 1000 + 2500 - Date.now());
      expect(Date.now()).toBeGreaterThanOrEqual(loginAt + 1000);
      reportMeasurement(`graphql-ws: an idle connection (idleTimeout 1 s) was closed ${Math.round(closed.at - loggedInAt)} ms after login`);
      expect((await ann.get('/me')).status).toBe(401);
      await expectRefused(app, { cookie }, 4401, 'unauthenticated');
    });
  });

  describe('allowAnonymous', () => {
    const store = new MemoryStore();
    const block = appForBlock(() => ({ policy: { store }, subscriptions: { allowAnonymous: true } }));

    it.each([
      ['without a cookie', {}],
      ['with a garbage cookie', { cookie: 'sid=garbage' }],
      ['with a cookie signed by another secret', { cookie: `sid=${signWith(OTHER_SECRET)}` }],
    ] as Array<[string, GqlOpenOptions]>)(
      'admits a connection %s: @Connected gets UNAUTHENTICATED and the connection stays open for public operations',
      async (_, options) => {
        const { app } = block;
        const connection = await admitted(app, options);
        await expectOperationRefused(connection.subscribe(TICKS_OP), 'UNAUTHENTICATED', 'ticks');
        expect(connection.isOpen).toBe(true);
        const maybe = await live(app, connection, MAYBE_TICKS_OP);
        const open = await live(app, connection, PUBLIC_TICKS_OP);
        publish(app, { n: 1 });
        expect(await maybe.next()).toEqual({ data: { maybeTicks: { n: 1, subscribedAs: null, resolvedAs: null } } });
        expect(await open.next()).toEqual({ data: { publicTicks: { n: 1, resolvedAs: null } } });
        expect(store.size).toBe(0);
      },
    );

    it('still knows the user of a connection with a session', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const connection = await admitted(app, { cookie: ann.cookieHeader() });
      const maybe = await live(app, connection, MAYBE_TICKS_OP);
      const ticks = await live(app, connection, TICKS_OP);
      publish(app, { n: 1 });
      expect(await maybe.next()).toEqual({ data: { maybeTicks: { n: 1, subscribedAs: 'ann', resolvedAs: 'ann' } } });
      expect(await ticks.next()).toEqual(tick(1, 'ann'));
    });

    it('still refuses a foreign origin with 4403 origin_not_allowed', async () => {
      await expectRefused(block.app, { origin: 'http://evil.example' }, 4403, 'origin_not_allowed');
    });
  });

  describe('allowedOrigins', () => {
    const block = appForBlock(() => ({ subscriptions: { allowedOrigins: ['http://app.example'] } }));

    it('admits a listed origin and refuses every other one with 4403 origin_not_allowed, the host’s own included', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const cookie = ann.cookieHeader();
      const mark = markOf(block);
      const listed = await admitted(app, { cookie, origin: 'http://app.example' });
      await expectServing(app, listed, await live(app, listed, TICKS_OP), 'ann', 1);
      for (const origin of [app.t.url, 'http://evil.example', 'https://app.example']) {
        await expectRefused(app, { cookie, origin }, 4403, 'origin_not_allowed');
      }
      const none = await admitted(app, { cookie });
      await expectServing(app, none, await live(app, none, TICKS_OP), 'ann', 2);
      await expectStillConnected(ann, 'ann');
      await expectClientsSince(block, mark, ['ann', 'ann']);
    });
  });

  describe('allow and deny groups at connection_init', () => {
    const store = new MemoryStore();
    const block = appForBlock(() => ({ policy: { store, groups }, subscriptions: { allow: ['admin'], deny: ['banned'] } }));

    it('refuses users outside allow, or inside deny, with 4403 forbidden; their sessions stay; no client for them', async () => {
      const { app } = block;
      const mark = markOf(block);
      for (const user of ['ann', 'mallory']) {
        const browser = await login(app, user);
        await expectRefused(app, { cookie: browser.cookieHeader() }, 4403, 'forbidden');
        await expectStillConnected(browser, user);
      }
      expect(store.size).toBe(2);
      const root = await login(app, 'root');
      const rootWs = await admitted(app, { cookie: root.cookieHeader() });
      await expectServing(app, rootWs, await live(app, rootWs, TICKS_OP), 'root', 1);
      await expectClientsSince(block, mark, ['root']);
    });

    it('refuses a connection without a session as 4401 unauthenticated, not forbidden', async () => {
      await expectRefused(block.app, {}, 4401, 'unauthenticated');
    });
  });

  describe('maxClientsPerSession: 2', () => {
    const block = appForBlock(() => ({ subscriptions: { maxClientsPerSession: 2 } }));

    it('refuses a third connection of one session with 4429 too_many_clients; other sessions are not counted; a closed one frees its place', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const bob = await login(app, 'bob');
      const cookie = ann.cookieHeader();
      const mark = markOf(block);
      const first = await admitted(app, { cookie });
      const second = await admitted(app, { cookie });
      await expectRefused(app, { cookie }, 4429, 'too_many_clients');
      await admitted(app, { cookie: bob.cookieHeader() });
      await admitted(app, { cookie: bob.cookieHeader() });
      await expectServing(app, second, await live(app, second, TICKS_OP), 'ann', 1);
      await expectStillConnected(ann, 'ann');
      await expectClientsSince(block, mark, ['ann', 'ann', 'bob', 'bob']);

      await first.dispose();
      // The registry lets the closed connection go when the server sees the close: the next one may come at once,
      // or after a few tries while the close is on its way.
      await waitUntil(
        async () => {
          const next = connect(app, { cookie });
          return (await within(next.settled, NOTHING_HANGS_MS, 'connection_ack or close')) === 'acked';
        },
        NOTHING_HANGS_MS,
        'a third connection to be admitted once the first closed',
      );
    });
  });

  describe('a sick session store (storeTimeout 200 ms)', () => {
    const store = new FaultyStore();
    const block = appForBlock(() => ({ policy: { store, storeTimeout: 200 } }));
    afterEach(() => {
      store.mode = 'ok';
    });

    it.each(['reject', 'hang'] as const)(
      'refuses with 4503 store_unavailable quickly when the store calls %s, and loses nothing',
      async (mode) => {
        const { app } = block;
        const ann = await login(app, 'ann');
        const mark = markOf(block);
        store.mode = mode;
        const started = performance.now();
        const closed = await expectRefused(app, { cookie: ann.cookieHeader() }, 4503, 'store_unavailable');
        reportMeasurement(
          `graphql-ws: a store that calls '${mode}' was refused ${Math.round(closed.at - started)} ms after the connection started`,
        );
        store.mode = 'ok';
        await expectStillConnected(ann, 'ann');
        const connection = await admitted(app, { cookie: ann.cookieHeader() });
        await expectServing(app, connection, await live(app, connection, TICKS_OP), 'ann', 1);
        await expectClientsSince(block, mark, ['ann']);
      },
    );

    it('refuses a connection without a cookie as 4401 unauthenticated, without asking the store', async () => {
      store.mode = 'reject';
      const before = store.calls['get'] ?? 0;
      await expectRefused(block.app, {}, 4401, 'unauthenticated');
      expect(store.calls['get'] ?? 0).toBe(before);
    });
  });

  describe('bindIp, with a clientIp option', () => {
    const store = new MemoryStore();
    const block = appForBlock(() => ({
      policy: { store, bindIp: true },
      // The tests pretend to come from elsewhere with an x-test-ip header; without it, the TCP peer address.
      subscriptions: { clientIp: (request) => (request.headers['x-test-ip'] as string | undefined) ?? request.socket.remoteAddress },
    }));

    it('admits the address that logged in; another address is refused 4401 unauthenticated and ends the session and its connections', async () => {
      const { app } = block;
      const ann = await login(app, 'ann');
      const cookie = ann.cookieHeader();
      const mark = markOf(block);
      const first = await admitted(app, { cookie });
      const ticks = await live(app, first, TICKS_OP);
      await expectServing(app, first, ticks, 'ann', 1);
      await expectRefused(app, { cookie, headers: { 'x-test-ip': '203.0.113.9' } }, 4401, 'unauthenticated');
      await expectClosedBySession(first, ticks, 'session_closed');
      expect((await ann.get('/me')).status).toBe(401);
      expect(store.size).toBe(0);
      const bob = await login(app, 'bob');
      await admitted(app, { cookie: bob.cookieHeader() });
      await expectClientsSince(block, mark, ['ann', 'bob']);
    });
  });

  describe('on Redis', () => {
    // Declared outside the block of the apps: its afterAll stops the server after the apps closed.
    const redis = redisForFile();

    describe('two instances on one Redis prefix', () => {
      let a: GraphqlApp;
      let b: GraphqlApp;
      beforeAll(async () => {
        const prefix = freshPrefix();
        a = await startRedisGraphqlApp(redis.url, prefix);
        b = await startRedisGraphqlApp(redis.url, prefix);
        running.push(a, b);
      });
      afterAll(async () => {
        running.splice(running.indexOf(a), 2);
        await Promise.all([a?.t.close(), b?.t.close()]);
      });

      async function crossServerClose(what: string, close: (ann: Browser) => Promise<void>): Promise<void> {
        const ann = await login(a, 'ann');
        const bob = await login(a, 'bob');
        const annWs = await admitted(a, { cookie: ann.cookieHeader() });
        const annTicks = await live(a, annWs, TICKS_OP);
        const bobWs = await admitted(a, { cookie: bob.cookieHeader() });
        const bobTicks = await live(a, bobWs, TICKS_OP);
        // Instance B sees the session that instance A issued.
        await expectStillConnected(sameBrowserOn(ann, b.t.url), 'ann');

        await close(ann);
        const returned = performance.now();
        const closed = await expectClosedBySession(annWs, annTicks, 'session_closed', NOTHING_HANGS_MS);
        const delay = Math.round(closed.at - returned);
        reportMeasurement(
          `graphql-ws on Redis: ${what} on instance B closed the connection on instance A ${delay} ms after B's call returned`,
        );
        expect({ what, msAfterBsCallReturned: delay, within: delay < CROSS_SERVER_CLOSE_MS }).toEqual({
          what,
          msAfterBsCallReturned: delay,
          within: true,
        });
        expect((await ann.get('/me')).status).toBe(401);
        await expectServing(a, bobWs, bobTicks, 'bob', 1);
      }

      it(`revoke(handle) on instance B closes the subscription's connection on instance A with 4401 session_closed within ${CROSS_SERVER_CLOSE_MS} ms`, async () => {
        await crossServerClose('revoke(handle)', async (ann) => {
          const handle = await handleOfBrowser(ann);
          // Another session of ann, on B, revokes the one on A.
          const other = await login(b, 'ann');
          expect((await other.post('/revoke', { handle })).status).toBe(201);
        });
      });

      it(`a logout on instance B, with the same cookie, closes the subscription's connection on instance A within ${CROSS_SERVER_CLOSE_MS} ms`, async () => {
        await crossServerClose('logout', async (ann) => {
          expect((await sameBrowserOn(ann, b.t.url).post('/logout')).status).toBe(201);
        });
      });

      it(`disconnectAll({ userId }) on instance B closes the subscription's connection on instance A within ${CROSS_SERVER_CLOSE_MS} ms`, async () => {
        await crossServerClose('disconnectAll({ userId })', async () => {
          const reply = await new Browser(b.t.url).post('/disconnect-user', { user: 'ann' });
          expect(reply.status).toBe(201);
          expect(reply.body.closed).toBeGreaterThanOrEqual(1);
        });
      });
    });
  });
});
