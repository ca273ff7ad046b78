import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { cachedOn, commandsOf, eventually, freshPrefix, NO_LIMIT } from '../support/near-cache-fixture.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-server.js';
import { makeRecord, newKey } from './store-contract.js';

/**
 * The near cache of RedisStore on a Redis Cluster of three masters: each master's connection is tracked towards a
 * target connection of its own on that master. Two stores, each with its own Cluster client, play two servers.
 */

const log = captureNestLogs();
let cluster: RedisCluster | undefined;
let nodes: Redis[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  nodes = cluster.nodes.map((node) => new Redis(node.url, { maxRetriesPerRequest: 1 }));
}, 30_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const node of nodes) node.disconnect();
  await cluster?.stop();
});

/** A store on a Cluster client of its own, named so that `CLIENT LIST` on each node tells its connections apart. */
async function openStore(name: string, prefix: string, options: Partial<ClusterOptions> = {}): Promise<RedisStore> {
  const client = new Cluster(
    cluster!.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1, connectionName: name }, ...options },
  );
  cleanups.push(() => client.disconnect());
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  const store = new RedisStore({ client, prefix });
  cleanups.push(() => store.close());
  await store.open();
  return store;
}

/** The `redir` (the target's id) of each connection named `name` that is tracked, on `node`. */
async function redirectsOf(node: Redis, name: string): Promise<string[]> {
  const list = (await node.client('LIST')) as string;
  return list
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])))
    .filter((client) => client.name === name && client.redir !== undefined && client.redir !== '-1')
    .map((client) => client.redir!);
}

describe('RedisStore near cache on a Redis Cluster', () => {
  it('serves a second read without a command on any node, and drops copies on writes and removals of another server', async () => {
    const prefix = freshPrefix();
    const a = await openStore('cluster-a', prefix);
    const b = await openStore('cluster-b', prefix);
    const [key, other] = [newKey(), newKey()];
    await a.create(key, makeRecord({ userId: 'ivan' }), NO_LIMIT);
    await a.create(other, makeRecord(), NO_LIMIT);
    await cachedOn(b, key);
    await cachedOn(b, other);
    expect(
      await commandsOf(nodes, async () => {
        for (let i = 0; i < 10; i++) expect((await b.get(key))?.userId).toBe('ivan');
      }),
    ).toEqual({});

    expect(await a.setField(key, 's:n', '1')).toBe(true);
    await eventually('B to drop its copy', () => b.cached(key) === undefined, 5_000);
    expect((await b.get(key))?.data['s:n']).toBe('1');
    await a.destroy(other);
    await eventually('B to drop the destroyed session', () => b.cached(other) === undefined, 5_000);
    expect(await b.get(other)).toBeUndefined();
    // Every master's data connection of B is tracked, each towards a target on its own node.
    for (const node of nodes) expect(await redirectsOf(node, 'cluster-b')).toHaveLength(1);
    expect(log.matching('Near cache')).toEqual([]);
  }, 30_000);

  it('bypasses the cache while a master’s invalidation connection is down; a write made meanwhile is never hidden', async () => {
    const prefix = freshPrefix();
    const a = await openStore('cluster-c', prefix);
    const b = await openStore('cluster-d', prefix);
    const key = newKey();
    await a.create(key, makeRecord({ data: { 'b:v': 'before' } }), NO_LIMIT);
    await cachedOn(b, key);
    for (const node of nodes) for (const redir of await redirectsOf(node, 'cluster-d')) await node.client('KILL', 'ID', redir);
    await eventually('B to stop trusting its copies', () => b.cached(key) === undefined);
    expect(await a.setField(key, 'b:v', 'during')).toBe(true);
    expect((await b.get(key))?.data['b:v']).toBe('during');
    expect((await cachedOn(b, key)).data['b:v']).toBe('during');
    expect(await a.setField(key, 'b:v', 'after')).toBe(true);
    await eventually('B to drop its copy again', () => b.cached(key) === undefined, 5_000);
    expect((await b.get(key))?.data['b:v']).toBe('after');
  }, 30_000);

  it('is bypassed on a Cluster client that reads from replicas', async () => {
    const store = await openStore('cluster-e', freshPrefix(), { scaleReads: 'all' });
    const key = newKey();
    await store.create(key, makeRecord(), NO_LIMIT);
    await store.get(key);
    const reads = await commandsOf(nodes, async () => {
      for (let i = 0; i < 5; i++) expect(await store.get(key)).toBeDefined();
    });
    expect(reads.hgetall).toBe(5);
    expect(store.cached(key)).toBeUndefined();
    for (const node of nodes) expect(await redirectsOf(node, 'cluster-e')).toEqual([]);
  }, 30_000);
});
