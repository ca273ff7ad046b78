import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { ScriptedClient } from './redis-scripts.js';

/** An ioredis client: standalone or Cluster. */
export type AnyClient = Redis | Cluster;

/** The client RedisStore sends its commands on, with the store's scripts defined on it. */
export type StoreClient = ScriptedClient & AnyClient;

/** Keeps reconnecting, never giving up, at most a second apart. */
const retryStrategy = (attempts: number) => Math.min(attempts * 100, 1000);

/** An error Redis answered with (WRONGTYPE, a script error): the server is there, so this is not an outage. */
export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/** Redis's answer to a command on a key of another type (someone else wrote it). */
export function isWrongType(error: unknown): boolean {
  return isReplyError(error) && error.message.startsWith('WRONGTYPE');
}

/** `promise`, or a rejection once a limit passed: how the store bounds its own waits. */
export type Bound = <T>(promise: Promise<T>) => Promise<T>;

/** The client a store given a `url` creates and owns. */
export function createClient(url: string): Redis {
  const options: RedisOptions = {
    lazyConnect: true,
    // Never queue while disconnected: a call fails at once and the library answers 503.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy,
    // The commands issued within one turn of the event loop (the requests that arrived together) leave in one
    // write, which Redis reads at once: many commands per socket read instead of about one. Each command waits for
    // the turn to end (a setImmediate) first. Outages are unchanged: with no offline queue a command fails at
    // once while the connection is down, pipelined or not.
    enableAutoPipelining: true,
    // No ioredis commandTimeout: it arms a timer per command, while `storeTimeout` already bounds every call made
    // for a request and the store bounds its own background commands.
  };
  return new Redis(url, options);
}

/** The pub/sub connection: a duplicate of `client`, always reconnecting, which the store closes itself. */
export function duplicateForPubSub(client: AnyClient): AnyClient {
  if (client.isCluster) {
    return (client as Cluster).duplicate([], { lazyConnect: true, clusterRetryStrategy: retryStrategy });
  }
  const options: Partial<RedisOptions> = { lazyConnect: true, enableOfflineQueue: false, autoResubscribe: false, retryStrategy };
  return (client as Redis).duplicate(options);
}

/**
 * Connects a client of yours only if it is lazy and never was; the one the store owns whenever it is not connected
 * (again, after a close).
 */
export async function connectClient(client: AnyClient, owned: boolean): Promise<void> {
  if (client.status === 'wait' || (owned && !hasSocket(client))) await client.connect();
}

/** Whether `client` has a socket open or opening (between two reconnection attempts it has none). */
export function hasSocket(client: AnyClient): boolean {
  return ['connecting', 'connect', 'ready'].includes(client.status);
}

/**
 * QUIT within `bound`, said only when `answering` (a failing Redis would not answer); a client that cannot say
 * goodbye is just disconnected.
 */
export async function quitClient(client: AnyClient, bound: Bound, answering: boolean): Promise<void> {
  if (client.status === 'ready' && answering) await bound(client.quit()).catch(() => undefined);
  if (client.status === 'end' || client.status === 'wait') return;
  // With a socket open, wait until it is really closed, so that an open() right after can connect again.
  // Between two reconnection attempts there is none: disconnect() only cancels the next attempt.
  const ended = hasSocket(client) ? new Promise<void>((resolve) => client.once('end', () => resolve())) : undefined;
  client.disconnect();
  if (ended !== undefined) await bound(ended).catch(() => undefined);
}
