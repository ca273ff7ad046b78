import { Injectable, type Type } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Field, GraphQLModule, Int, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { sessionSubscriptions } from 'nestjs-connected/graphql';
import { Connected, CurrentUser, SessionService, type SessionPolicy } from '../../lib/index.js';
import type { SessionSocketOptions } from '../../lib/transports/socket/session-socket.options.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { startApp, type TestApp } from './app.js';
import { AuthController } from './auth.controller.js';
import { RevocationController } from './revocation.controller.js';
import { SessionsController } from './sessions.controller.js';

/** The one topic every test subscription listens to. */
export const TICKS = 'ticks';

/** What the tests publish: a number, and optionally the one user whose `ticks` subscriptions may see it (filter). */
export interface TickPayload {
  n: number;
  for?: string;
  /** Filled in by the subscribe function of `ticks` and `maybeTicks`: the user the subscription was opened as. */
  subscribedAs?: string | null;
}

/**
 * A minimal PubSub (graphql-subscriptions is not installed): `publish` hands a payload to every live iterator of
 * the topic; an iterator leaves the topic when `return()` is called (graphql-ws does that when the operation or its
 * connection ends), so `listeners(topic)` tells whether a closed connection released its subscriptions.
 */
@Injectable()
export class TestPubSub {
  private readonly topics = new Map<string, Set<(payload: unknown) => void>>();

  /** Delivers `payload` to every iterator of `topic`; returns how many there were. */
  publish(topic: string, payload: unknown): number {
    const listeners = [...(this.topics.get(topic) ?? [])];
    for (const listener of listeners) listener(payload);
    return listeners.length;
  }

  /** How many iterators are listening to `topic` now. */
  listeners(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  iterator<T>(topic: string, map: (payload: T) => T = (payload) => payload): AsyncIterableIterator<T> {
    const queue: T[] = [];
    const waiting: Array<(result: IteratorResult<T>) => void> = [];
    let done = false;
    const listener = (payload: unknown) => {
      const value = map(payload as T);
      const waiter = waiting.shift();
      if (waiter !== undefined) waiter({ value, done: false });
      else queue.push(value);
    };
    let set = this.topics.get(topic);
    if (set === undefined) this.topics.set(topic, (set = new Set()));
    set.add(listener);
    const finish = (): IteratorResult<T> => {
      if (!done) {
        done = true;
        set.delete(listener);
        queue.length = 0;
        for (const waiter of waiting.splice(0)) waiter({ value: undefined, done: true });
      }
      return { value: undefined, done: true };
    };
    return {
      next: () => {
        if (done) return Promise.resolve({ value: undefined, done: true });
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return: () => Promise.resolve(finish()),
      throw: (error: unknown) => {
        finish();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

@ObjectType()
export class Tick {
  @Field(() => Int)
  n!: number;

  /** The user that `@CurrentUser()` gave the subscribe function (null when there was none). */
  @Field(() => String, { nullable: true })
  subscribedAs!: string | null;

  /** The user `SessionService.currentUserId()` names inside the subscription's `resolve` (null when none). */
  @Field(() => String, { nullable: true })
  resolvedAs!: string | null;
}

/** Payload to Tick, with the user that SessionService sees while the event is resolved for one subscriber. */
function resolveTick(this: LiveResolver, payload: TickPayload): Tick {
  return { n: payload.n, subscribedAs: payload.subscribedAs ?? null, resolvedAs: this.sessions.currentUserId() ?? null };
}

/**
 * The resolver the GraphQL specs share (topic {@link TICKS}):
 * - `hello` (query, no guard): a schema needs a query
 * - `ticks` (@Connected): `@CurrentUser()` in the subscribe function; `filter` lets a payload with `for` through to
 *   that user only (read with `SessionService.currentUserId()`); `resolve` adds that user again (`resolvedAs`)
 * - `adminTicks` (@Connected allow admin, deny banned), `maybeTicks` (@Connected optional), `publicTicks` (no guard)
 */
@Resolver()
export class LiveResolver {
  constructor(
    readonly sessions: SessionService,
    private readonly pubsub: TestPubSub,
  ) {}

  @Query(() => String)
  hello(): string {
    return 'hello';
  }

  @Connected()
  @Subscription(() => Tick, {
    filter(this: LiveResolver, payload: TickPayload) {
      return payload.for === undefined || payload.for === this.sessions.currentUserId();
    },
    resolve: resolveTick,
  })
  ticks(@CurrentUser() user: string) {
    return this.pubsub.iterator<TickPayload>(TICKS, (payload) => ({ ...payload, subscribedAs: user }));
  }

  @Connected({ allow: ['admin'], deny: ['banned'] })
  @Subscription(() => Tick, { resolve: resolveTick })
  adminTicks() {
    return this.pubsub.iterator<TickPayload>(TICKS);
  }

  @Connected({ optional: true })
  @Subscription(() => Tick, { resolve: resolveTick })
  maybeTicks(@CurrentUser() user: string | undefined) {
    return this.pubsub.iterator<TickPayload>(TICKS, (payload) => ({ ...payload, subscribedAs: user ?? null }));
  }

  @Subscription(() => Tick, { resolve: resolveTick })
  publicTicks() {
    return this.pubsub.iterator<TickPayload>(TICKS);
  }
}

/** Group membership for the `allow` / `deny` tests: root is an admin, mallory an admin but banned. */
const GROUPS: Record<string, readonly string[]> = { root: ['admin'], mallory: ['admin', 'banned'] };
export const groups = (user: string): readonly string[] => GROUPS[user] ?? [];

/**
 * The REST routes of a GraphQL test app:
 * - AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}
 * - SessionsController: GET /sessions (@Connected) → listSessions, POST /revoke {handle}
 * - RevocationController: POST /disconnect-all (@Connected), POST /disconnect-user {user} (no guard)
 */
export const GRAPHQL_APP_CONTROLLERS = [AuthController, SessionsController, RevocationController];

export interface GraphqlApp {
  t: TestApp;
  pubsub: TestPubSub;
  /** ws://127.0.0.1:port/graphql */
  wsUrl: string;
}

export interface GraphqlAppOptions {
  policy?: Partial<SessionPolicy>;
  /** The options given to `sessionSubscriptions()`. */
  subscriptions?: SessionSocketOptions;
  /** Controllers beside the {@link GRAPHQL_APP_CONTROLLERS}. */
  controllers?: Type[];
}

/**
 * An Express app with Apollo (`autoSchemaFile: true`), subscriptions over graphql-ws configured by
 * `sessionSubscriptions(options.subscriptions)`, the {@link LiveResolver} and the {@link GRAPHQL_APP_CONTROLLERS}.
 */
export async function startGraphqlApp(options: GraphqlAppOptions = {}): Promise<GraphqlApp> {
  const t = await startApp({
    adapter: 'express',
    policy: options.policy ?? {},
    controllers: [...GRAPHQL_APP_CONTROLLERS, ...(options.controllers ?? [])],
    providers: [TestPubSub, LiveResolver],
    imports: [
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        autoSchemaFile: true,
        subscriptions: sessionSubscriptions(options.subscriptions ?? {}),
      }),
    ],
  });
  return { t, pubsub: t.app.get(TestPubSub), wsUrl: `${t.url.replace(/^http/, 'ws')}/graphql` };
}

/** {@link startGraphqlApp} on a RedisStore of its own connections, on `prefix` (two apps on one prefix share sessions). */
export async function startRedisGraphqlApp(
  redisUrl: string,
  prefix: string,
  options: GraphqlAppOptions = {},
): Promise<GraphqlApp & { store: RedisStore }> {
  const store = new RedisStore({ url: redisUrl, prefix });
  const app = await startGraphqlApp({ ...options, policy: { ...options.policy, store } });
  return { ...app, store };
}
