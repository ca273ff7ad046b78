import { Mutation, Query, Resolver } from '@nestjs/graphql';
import { CsrfExempt, SessionService, type SessionPolicy } from '../../lib/index.js';
import { CROSS_SITE, SAME_SITE } from '../support/csrf-routes.js';
import { errorSummary, GQL_CASES, startGraphqlApp, type GqlApp, type GqlClient } from '../support/graphql-http.js';

/**
 * CSRF over GraphQL (issue 13): the HTTP request's rules, with the refusal as a GraphQL error (`FORBIDDEN`, a message
 * that says CSRF) at each refused root field, on Apollo (Express) and Mercurius (Fastify). A POST is an unsafe
 * request (mutations, and queries sent by POST); a GET query is safe.
 */
const CROSS_ORIGIN_ERROR = { code: 'FORBIDDEN', message: 'Cross-origin request refused (CSRF)' };
const TOKEN_ERROR = { code: 'FORBIDDEN', message: 'Missing or invalid CSRF token (CSRF)' };

/** The token of the caller's session (read by GET, which needs none), and a webhook-like exempt mutation. */
@Resolver()
class CsrfTokenResolver {
  static pings = 0;

  constructor(private readonly sessions: SessionService) {}

  @Query(() => String)
  csrfToken(): string {
    return this.sessions.csrfToken();
  }

  @CsrfExempt()
  @Mutation(() => Boolean)
  ping(): boolean {
    CsrfTokenResolver.pings += 1;
    return true;
  }
}

describe.each(GQL_CASES)('CSRF over GraphQL on %s (%s)', (driver, adapter) => {
  let counter = 0;
  const userName = (what: string) => `gql-csrf-${driver}-${what}-${++counter}`;

  function appForBlock(policy: Partial<SessionPolicy>): { app: GqlApp } {
    const holder = {} as { app: GqlApp };
    beforeAll(async () => {
      holder.app = await startGraphqlApp({ driver, adapter, policy, providers: [CsrfTokenResolver] });
    });
    afterAll(() => holder.app?.t.close());
    return holder;
  }

  /** A client logged in as alice (an admin in GQL_GROUPS: she may set the motd). */
  async function alice(app: GqlApp): Promise<GqlClient> {
    const client = app.client();
    await client.login('alice');
    return client;
  }

  describe('the origin check', () => {
    const s = appForBlock({});

    it.each([
      ['cross-site', CROSS_SITE],
      ['same-site', SAME_SITE],
      ['null-origin', { origin: 'null' }],
    ])('refuses a %s mutation with a FORBIDDEN CSRF error; it did not run and changed nothing', async (_, headers) => {
      const client = await alice(s.app);
      const motd = s.app.board.motd;
      const ran = s.app.board.ran['setMotd'];
      const reply = await client.run('mutation { setMotd(text: "pwned") }', undefined, { headers });
      expect({ status: reply.status, data: reply.data, errors: errorSummary(reply) }).toEqual({
        status: 200,
        data: { setMotd: null },
        errors: [{ path: 'setMotd', ...CROSS_ORIGIN_ERROR }],
      });
      expect(reply.setCookies).toEqual([]);
      expect(s.app.board.ran['setMotd']).toBe(ran);
      expect((await client.run('{ motd me }')).data).toEqual({ motd, me: 'alice' });
    });

    it('refuses a cross-site login mutation (login CSRF): no cookie, no session, the browser stays anonymous', async () => {
      const client = s.app.client();
      const mallory = userName('mallory');
      const reply = await client.run('mutation($user: String!) { login(user: $user) }', { user: mallory }, { headers: CROSS_SITE });
      expect(errorSummary(reply)).toEqual([{ path: 'login', ...CROSS_ORIGIN_ERROR }]);
      expect(reply.data ?? null).toBeNull();
      expect(reply.setCookies).toEqual([]);
      expect(client.jar.size).toBe(0);
      expect(await s.app.t.app.get(SessionService).listSessions(mallory)).toEqual([]);
    });

    it('runs a same-origin mutation, and one without either header', async () => {
      const client = await alice(s.app);
      const same = await client.run('mutation { setMotd(text: "same-origin") }', undefined, {
        headers: { 'sec-fetch-site': 'same-origin', origin: s.app.t.url },
      });
      expect({ data: same.data, errors: same.errors }).toEqual({ data: { setMotd: true }, errors: [] });
      expect((await client.run('mutation { setMotd(text: "no headers") }')).data).toEqual({ setMotd: true });
      expect(s.app.board.motd).toBe('no headers');
    });

    it('answers a cross-site GET query (safe), and refuses the same query sent by POST (unsafe)', async () => {
      const client = await alice(s.app);
      const get = await client.run('{ hello me }', undefined, { method: 'GET', headers: CROSS_SITE });
      expect({ status: get.status, data: get.data, errors: get.errors }).toEqual({
        status: 200,
        data: { hello: 'world', me: 'alice' },
        errors: [],
      });
      const post = await client.run('{ hello me }', undefined, { headers: CROSS_SITE });
      expect(errorSummary(post)).toEqual([
        { path: 'hello', ...CROSS_ORIGIN_ERROR },
        { path: 'me', ...CROSS_ORIGIN_ERROR },
      ]);
    });

    it('emits denied-request with reason csrf and transport http', async () => {
      const client = await alice(s.app);
      const events: unknown[] = [];
      const subscription = s.app.t.app.get(SessionService).sessionEvents$.subscribe((event) => {
        if (event.type === 'denied-request') events.push(event);
      });
      try {
        await client.run('mutation { setMotd(text: "x") }', undefined, { headers: CROSS_SITE });
      } finally {
        subscription.unsubscribe();
      }
      expect(events).toEqual([expect.objectContaining({ type: 'denied-request', reason: 'csrf', transport: 'http', userId: 'alice' })]);
    });

    it('@CsrfExempt on a resolver method lets a cross-site mutation run', async () => {
      const before = CsrfTokenResolver.pings;
      const reply = await (await alice(s.app)).run('mutation { ping }', undefined, { headers: CROSS_SITE });
      expect({ data: reply.data, errors: reply.errors }).toEqual({ data: { ping: true }, errors: [] });
      expect(CsrfTokenResolver.pings).toBe(before + 1);
    });
  });

  describe('the token (csrf.token: true)', () => {
    const s = appForBlock({ csrf: { token: true } });

    it('refuses a mutation of a session without its token; runs it with the token read by a GET query', async () => {
      const client = await alice(s.app);
      const ran = s.app.board.ran['setNote'] ?? 0;
      const refused = await client.run('mutation { setNote(note: "forged") }');
      expect({ data: refused.data, errors: errorSummary(refused) }).toEqual({
        data: { setNote: null },
        errors: [{ path: 'setNote', ...TOKEN_ERROR }],
      });
      expect(s.app.board.ran['setNote'] ?? 0).toBe(ran);
      const token = (await client.run('{ csrfToken }', undefined, { method: 'GET' })).data?.csrfToken;
      expect(token).toMatch(/^[A-Za-z0-9_-]{86}$/);
      const passed = await client.run('mutation { setNote(note: "mine") }', undefined, { headers: { 'x-csrf-token': token } });
      expect({ data: passed.data, errors: passed.errors }).toEqual({ data: { setNote: true }, errors: [] });
      expect((await client.run('{ note }', undefined, { method: 'GET' })).data).toEqual({ note: 'mine' });
    });
  });
});
