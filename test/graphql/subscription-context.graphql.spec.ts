import 'reflect-metadata';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Context, GraphQLModule, Query, Resolver, Subscription } from '@nestjs/graphql';
import { sessionSubscriptions } from 'nestjs-connected/graphql';
import { Connected, CurrentUser, SessionService } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { GqlConnection } from '../support/graphql-ws-client.js';

/** The context object of each operation, shared on purpose by every call of the context function below. */
const SHARED = { tenant: 'acme' };

@Resolver()
class ContextResolver {
  constructor(private readonly sessions: SessionService) {}

  @Query(() => String)
  hello(): string {
    return 'hello';
  }

  @Connected()
  @Subscription(() => String, { resolve: (value: string) => value })
  async *whoami(@CurrentUser() user: string, @Context('tenant') tenant: string): AsyncGenerator<string> {
    // Twice, so that the second value is resolved long after subscribe() returned.
    yield `${user}@${tenant}`;
    await new Promise((resolve) => setTimeout(resolve, 20));
    yield `${this.sessions.currentUserId() ?? 'nobody'}@${tenant}`;
  }
}

// A `context` option replaces graphql-ws's context; an object shared by every call is copied so that the operations
// of two users' connections still run with their own session.
describe('sessionSubscriptions({ context })', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({
      adapter: 'express',
      controllers: [AuthController],
      providers: [ContextResolver],
      imports: [
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          autoSchemaFile: true,
          subscriptions: sessionSubscriptions({ context: () => SHARED }),
        }),
      ],
    });
  });

  afterAll(() => t.close());

  async function cookieOf(user: string): Promise<string> {
    const response = await fetch(`${t.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    expect(response.status).toBe(201);
    return response.headers.getSetCookie()[0]!.split(';')[0]!;
  }

  it("gives the resolvers the application's context and each connection its own session", async () => {
    const wsUrl = `${t.url.replace(/^http/, 'ws')}/graphql`;
    const ann = new GqlConnection(wsUrl, { cookie: await cookieOf('ann') });
    const bob = new GqlConnection(wsUrl, { cookie: await cookieOf('bob') });
    try {
      const [forAnn, forBob] = [ann.subscribe('subscription { whoami }'), bob.subscribe('subscription { whoami }')];
      const annResults = [await forAnn.next(), await forAnn.next()];
      const bobResults = [await forBob.next(), await forBob.next()];
      expect(annResults.map((result) => result.data)).toEqual([{ whoami: 'ann@acme' }, { whoami: 'ann@acme' }]);
      expect(bobResults.map((result) => result.data)).toEqual([{ whoami: 'bob@acme' }, { whoami: 'bob@acme' }]);
      expect(SHARED).toEqual({ tenant: 'acme' });
    } finally {
      await Promise.all([ann.dispose(), bob.dispose()]);
    }
  });
});
