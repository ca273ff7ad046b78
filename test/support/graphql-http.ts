import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Controller, Get, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { Connected, CurrentUser, MemoryStore, type SessionPolicy, type SessionRecord } from '../../lib/index.js';
import { startApp, type AdapterName, type TestApp } from './app.js';
import { Browser, type SetCookie } from './browser.js';
import { GQL_GROUPS, GQL_RESOLVERS, GqlBoard } from './graphql-http-resolvers.js';

/** The GraphQL servers under test, each on the HTTP platform it runs on. */
export type GqlDriverName = 'apollo' | 'mercurius';
export const GQL_CASES: Array<[GqlDriverName, AdapterName]> = [
  ['apollo', 'express'],
  ['mercurius', 'fastify'],
];

/**
 * The GraphQL module as a user writes it: code first, no `context` option, guards on field resolvers. `batch` turns on
 * the driver's batched HTTP requests (an array of operations in one POST).
 */
export function graphqlModule(driver: GqlDriverName, options: { batch?: boolean } = {}): DynamicModule {
  const batch = options.batch === true;
  if (driver === 'apollo') {
    return GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      autoSchemaFile: true,
      fieldResolverEnhancers: ['guards'],
      graphiql: false,
      allowBatchedHttpRequests: batch,
    });
  }
  return GraphQLModule.forRoot<MercuriusDriverConfig>({
    driver: MercuriusDriver,
    autoSchemaFile: true,
    fieldResolverEnhancers: ['guards'],
    graphiql: false,
    allowBatchedQueries: batch,
  });
}

/** A REST route in the same app, to show that a policy (`denied`) is in force for HTTP handlers. */
@Controller('rest')
export class GqlRestController {
  @Connected()
  @Get('me')
  me(@CurrentUser() user: string) {
    return { user };
  }
}

export interface GqlAppOptions {
  driver: GqlDriverName;
  adapter: AdapterName;
  policy?: Partial<SessionPolicy>;
  providers?: ModuleMetadata['providers'];
  controllers?: Type[];
  /** Batched HTTP requests on (see {@link graphqlModule}). */
  batch?: boolean;
}

export interface GqlApp {
  t: TestApp;
  /** The app's shared data (motd) and the count of resolver runs by field. */
  board: GqlBoard;
  /** A new client (its own cookie jar) on this app. */
  client(): GqlClient;
}

/** A listening app with the spec's resolvers (and `policy.groups` from GQL_GROUPS unless the policy has its own). */
export async function startGraphqlApp(options: GqlAppOptions): Promise<GqlApp> {
  const t = await startApp({
    adapter: options.adapter,
    policy: { groups: (userId: string) => GQL_GROUPS[userId] ?? [], ...options.policy },
    imports: [graphqlModule(options.driver, { batch: options.batch })],
    providers: [GqlBoard, ...GQL_RESOLVERS, ...(options.providers ?? [])],
    controllers: [GqlRestController, ...(options.controllers ?? [])],
  });
  return { t, board: t.app.get(GqlBoard), client: () => new GqlClient(t.url) };
}

/** One GraphQL error as the server sent it. */
export interface GqlError {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** A GraphQL answer over HTTP: the status, headers and cookies, and the body's `data` and `errors`. */
export interface GqlReply {
  status: number;
  headers: Headers;
  text: string;
  data: Record<string, any> | null | undefined;
  errors: GqlError[];
  setCookies: SetCookie[];
}

/** A batched answer: one `{ data, errors }` per operation. */
export interface BatchReply {
  status: number;
  headers: Headers;
  results: Array<Pick<GqlReply, 'data' | 'errors'>>;
}

/**
 * A GraphQL client over real HTTP (Node's fetch, through the spec's Browser): POSTs `application/json` (which
 * Apollo's CSRF prevention asks for) to /graphql and keeps the cookies the server sets and expires, as a browser does.
 */
export class GqlClient {
  readonly browser: Browser;

  constructor(base: string) {
    this.browser = new Browser(base);
  }

  get jar(): Map<string, string> {
    return this.browser.jar;
  }

  /**
   * Runs `query`; `cookie` replaces the jar's Cookie header for this request (the jar still takes what is set),
   * `headers` are added to it, and `method: 'GET'` sends the query alone in the URL (with Apollo's preflight header).
   */
  async run(
    query: string,
    variables?: Record<string, unknown>,
    init: { cookie?: string; headers?: Record<string, string>; method?: 'GET' | 'POST' } = {},
  ): Promise<GqlReply> {
    const { method, ...rest } = init;
    const reply =
      method === 'GET'
        ? await this.browser.get(`/graphql?query=${encodeURIComponent(query)}`, {
            ...rest,
            headers: { 'apollo-require-preflight': 'true', ...rest.headers },
          })
        : await this.browser.post('/graphql', variables === undefined ? { query } : { query, variables }, rest);
    const body = (typeof reply.body === 'object' && reply.body !== null ? reply.body : {}) as { data?: any; errors?: GqlError[] };
    return {
      status: reply.status,
      headers: reply.headers,
      text: reply.text,
      data: body.data,
      errors: body.errors ?? [],
      setCookies: reply.setCookies,
    };
  }

  /** Runs several operations in one batched HTTP request; the answer is one result per operation, in order. */
  async runBatch(operations: Array<{ query: string; variables?: Record<string, unknown> }>): Promise<BatchReply> {
    const reply = await this.browser.post('/graphql', operations);
    if (!Array.isArray(reply.body)) throw new Error(`expected a batched answer, got ${reply.status}: ${reply.text}`);
    const results = (reply.body as Array<{ data?: any; errors?: GqlError[] }>).map((body) => ({
      data: body.data,
      errors: body.errors ?? [],
    }));
    return { status: reply.status, headers: reply.headers, results };
  }

  /** Logs in as `user` through the `login` mutation; throws with the whole answer when it did not work. */
  async login(user: string): Promise<GqlReply> {
    const reply = await this.run('mutation($user: String!) { login(user: $user) }', { user });
    if (reply.data?.login !== true || reply.errors.length > 0 || !this.jar.has('sid')) {
      throw new Error(
        `login as ${user} failed: ${reply.status} ${reply.text} set-cookie ${JSON.stringify(reply.setCookies.map((c) => c.raw))}`,
      );
    }
    return reply;
  }
}

/** The one error whose path is `path`, or a failure that shows every error of the reply. */
export function errorAt(reply: GqlReply, ...path: Array<string | number>): GqlError {
  const found = reply.errors.filter((error) => JSON.stringify(error.path) === JSON.stringify(path));
  if (found.length !== 1) {
    throw new Error(`expected one error at ${JSON.stringify(path)}, got: ${JSON.stringify(reply.errors)} (status ${reply.status})`);
  }
  return found[0]!;
}

/** The codes of a reply's errors, sorted with their paths, for whole-reply comparisons. */
export function errorSummary(reply: GqlReply): Array<{ path: string; code: string | undefined; message: string }> {
  return reply.errors
    .map((error) => ({ path: (error.path ?? []).join('.'), code: error.extensions?.code, message: error.message }))
    .sort((x, y) => x.path.localeCompare(y.path));
}

/** What each refusal looks like in `errors[]`. */
export const NOT_CONNECTED_ERROR = { code: 'UNAUTHENTICATED', message: 'Not connected' } as const;
export const PERMISSION_DENIED_ERROR = { code: 'FORBIDDEN', message: 'Permission denied' } as const;

/** Checks that `error` is the refusal `expected` (code in `extensions.code`, message). */
export function expectRefusal(error: GqlError, expected: { code: string; message: string | RegExp }): void {
  expect({ code: error.extensions?.code, message: error.message }).toEqual({
    code: expected.code,
    message: typeof expected.message === 'string' ? expected.message : expect.stringMatching(expected.message),
  });
}

/**
 * A real MemoryStore that counts its session reads (`get` and `peek`) by key; a `get` that the MemoryStore answers
 * through its own `peek` counts once. Writes (create, touch, fields) are not reads and are not counted.
 */
export class CountingMemoryStore extends MemoryStore {
  readonly reads = new Map<string, number>();
  private inGet = false;

  /** All reads, of every key. */
  get totalReads(): number {
    let total = 0;
    for (const count of this.reads.values()) total += count;
    return total;
  }

  resetReads(): void {
    this.reads.clear();
  }

  override get(key: string): Promise<SessionRecord | undefined> {
    this.count(key);
    this.inGet = true;
    try {
      return super.get(key);
    } finally {
      this.inGet = false;
    }
  }

  override peek(key: string): SessionRecord | undefined {
    if (!this.inGet) this.count(key);
    return super.peek(key);
  }

  private count(key: string): void {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
  }
}
