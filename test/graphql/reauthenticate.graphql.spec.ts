import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Connected, CurrentUser, MemoryStore, SessionService, type SessionInfo } from '../../lib/index.js';
import { Browser } from '../support/browser.js';
import { registryOf } from '../support/clients-helpers.js';
import { errorAt, expectRefusal, GQL_CASES, startGraphqlApp as startHttpGraphqlApp, type GqlApp } from '../support/graphql-http.js';
import { startGraphqlApp, TICKS, type GraphqlApp } from '../support/graphql-ws-app.js';
import { GqlPool, within } from '../support/graphql-ws-client.js';
import { sleep, waitUntil } from '../support/lifecycle-helpers.js';
import { FRESH_SECONDS, PASSWORD, ReauthController, STALE_AFTER_MS } from '../support/reauth-app.js';

/**
 * GraphQL and re-authentication (issue 13): a `@Connected({ fresh })` resolver refuses a stale login with
 * `extensions.code` `REAUTHENTICATE` (Apollo on Express, Mercurius on Fastify), a `reauthenticate()` mutation sets the
 * new cookie, and a graphql-ws connection of the session stays open through it, moved to the new id.
 */
const NOTHING_HANGS_MS = 5000;

/** `freshSecret` (@Connected fresh) → `secret of <user>`; `reauthenticate(password)` (@Connected) → true, or false. */
@Resolver()
class FreshResolver {
  constructor(private readonly sessions: SessionService) {}

  @Connected({ fresh: FRESH_SECONDS })
  @Query(() => String, { nullable: true })
  freshSecret(@CurrentUser() user: string): string {
    return `secret of ${user}`;
  }

  @Connected()
  @Mutation(() => Boolean)
  async reauthenticate(@Args('password') password: string): Promise<boolean> {
    if (password !== PASSWORD) return false;
    await this.sessions.reauthenticate();
    return true;
  }
}

describe.each(GQL_CASES)('fresh and reauthenticate() in GraphQL over HTTP on %s (%s)', (driver, adapter) => {
  let app: GqlApp;

  beforeAll(async () => {
    app = await startHttpGraphqlApp({ driver, adapter, providers: [FreshResolver], policy: { store: new MemoryStore() } });
  });
  afterAll(() => app?.t.close());

  it('refuses a stale login with REAUTHENTICATE, and a reauthenticate mutation makes it pass again with a new cookie', async () => {
    const client = app.client();
    await client.login(`gql-fresh-${driver}`);
    const user = `gql-fresh-${driver}`;
    expect((await client.run('{ freshSecret }')).data).toEqual({ freshSecret: `secret of ${user}` });
    await sleep(STALE_AFTER_MS);

    const stale = await client.run('{ freshSecret whoami }');
    expect(stale.status).toBe(200);
    expect(stale.data).toEqual({ freshSecret: null, whoami: user });
    expectRefusal(errorAt(stale, 'freshSecret'), { code: 'REAUTHENTICATE', message: 'Reauthentication required' });
    expect(stale.errors).toHaveLength(1);

    const oldCookie = client.jar.get('sid');
    const wrong = await client.run('mutation { reauthenticate(password: "guess") }');
    expect(wrong.data).toEqual({ reauthenticate: false });
    expect(wrong.setCookies).toEqual([]);

    const renewed = await client.run('mutation($password: String!) { reauthenticate(password: $password) }', { password: PASSWORD });
    expect(renewed.errors).toEqual([]);
    expect(renewed.data).toEqual({ reauthenticate: true });
    expect(renewed.setCookies.map((cookie) => cookie.name)).toEqual(['sid']);
    expect(client.jar.get('sid')).not.toBe(oldCookie);
    expect((await client.run('{ freshSecret }')).data).toEqual({ freshSecret: `secret of ${user}` });

    const stolen = await client.run('{ whoami }', undefined, { cookie: `sid=${oldCookie}` });
    expect(stolen.data).toEqual({ whoami: null });
  });
});

describe('reauthenticate() with a graphql-ws subscription connection (Apollo on Express)', () => {
  const pool = new GqlPool();
  let app: GraphqlApp;

  beforeAll(async () => {
    app = await startGraphqlApp({ policy: { store: new MemoryStore() }, controllers: [ReauthController] });
  });
  afterEach(() => pool.disposeAll());
  afterAll(() => app?.t.close());

  async function handleOf(browser: Browser): Promise<string> {
    const listed = (await browser.get('/sessions')).body as SessionInfo[];
    return listed.find((session) => session.current)!.handle;
  }

  it('keeps the connection and its subscription open, as a client of the session under its new id', async () => {
    const user = 'gql-ws-renewed';
    const browser = new Browser(app.t.url);
    expect((await browser.post('/login', { user })).status).toBe(201);
    const connection = pool.connect(app.wsUrl, { cookie: browser.cookieHeader() });
    expect(await within(connection.settled, NOTHING_HANGS_MS, 'connection_ack')).toBe('acked');
    const subscription = connection.subscribe('subscription { ticks { n resolvedAs } }');
    await waitUntil(() => app.pubsub.listeners(TICKS) === 1, NOTHING_HANGS_MS, 'the subscription to listen');
    app.pubsub.publish(TICKS, { n: 1 });
    expect(await subscription.next()).toEqual({ data: { ticks: { n: 1, resolvedAs: user } } });

    const oldHandle = await handleOf(browser);
    expect((await browser.post('/reauthenticate', { password: PASSWORD })).status).toBe(201);
    const newHandle = await handleOf(browser);
    expect(registryOf(app.t.app).count(newHandle)).toBe(1);
    expect(registryOf(app.t.app).count(oldHandle)).toBe(0);
    app.pubsub.publish(TICKS, { n: 2 });
    expect(await subscription.next()).toEqual({ data: { ticks: { n: 2, resolvedAs: user } } });
    expect(connection.isOpen).toBe(true);

    // Ending the new session ends the connection: it is that session's client now.
    expect((await browser.post('/logout')).status).toBe(201);
    const closed = await connection.closedWithin(NOTHING_HANGS_MS);
    expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason: 'session_closed' });
  });
});
