import { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import type { StoreLimits } from '../../lib/stores/session-store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { reportMeasurement } from '../support/measurement.js';
import { keysUnder } from '../support/redis-apps.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../support/redis-server.js';
import { makeRecord, newKey, runStoreContract } from './store-contract.js';

/**
 * Auto-pipelining: the commands issued in one turn of the event loop leave in one write, so that Redis reads many
 * commands per socket read. On the client the store creates (`url`), and on clients passed in with
 * `enableAutoPipelining`, standalone and Cluster (the README's advice).
 */

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
const SESSIONS = 200;

captureNestLogs();

function freshPrefix(): string {
  return `ap${randomBytes(6).toString('hex')}:`;
}

interface Counts {
  /** Commands the clients sent (named in `INFO commandstats`; a script's inner commands are not among them). */
  sent: number;
  /** `total_reads_processed`: socket reads, over every connection (the INFO calls' own included). */
  reads: number;
}

/** The counts of one server now, for the commands named. */
async function counts(admin: Redis, names: readonly string[]): Promise<Counts> {
  // One INFO for both sections: one read of its own.
  const info = String(await admin.call('INFO', 'stats', 'commandstats'));
  const reads = Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1]);
  const sent = names.reduce((sum, name) => sum + Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0), 0);
  return { sent, reads };
}

/** The counts over `admins` (one server, or every node of a cluster) while `operation` runs. */
async function during(admins: Redis[], names: readonly string[], operation: () => Promise<unknown>): Promise<Counts> {
  const before = await Promise.all(admins.map((admin) => counts(admin, names)));
  await operation();
  const after = await Promise.all(admins.map((admin) => counts(admin, names)));
  return after.reduce(
    (sum, { sent, reads }, i) => ({ sent: sum.sent + sent - before[i].sent, reads: sum.reads + reads - before[i].reads }),
    { sent: 0, reads: 0 },
  );
}

/** 200 sessions created, read twice (the users' epochs cached the first time), then written once, all at once. */
async function burst(what: string, store: RedisStore, admins: Redis[]): Promise<{ gets: Counts; writes: Counts }> {
  const keys = Array.from({ length: SESSIONS }, () => newKey());
  await Promise.all(keys.map((key, i) => store.create(key, makeRecord({ userId: `user-${i % 20}` }), NO_LIMIT)));
  await Promise.all(keys.map((key) => store.get(key)));
  const gets = await during(admins, ['hgetall'], async () => {
    const records = await Promise.all(keys.map((key) => store.get(key)));
    expect(records.every((record) => record !== undefined)).toBe(true);
  });
  const writes = await during(admins, ['evalsha', 'eval'], async () => {
    const written = await Promise.all(keys.map((key) => store.setField(key, 's:n', '1')));
    expect(written.every(Boolean)).toBe(true);
  });
  for (const [name, { sent, reads }] of [
    ['gets', gets],
    ['field writes', writes],
  ] as const) {
    const ratio = (sent / Math.max(reads, 1)).toFixed(1);
    reportMeasurement(
      `redis pipelining: ${what}, ${SESSIONS} concurrent ${name}: ${sent} commands sent, ${reads} socket reads (${ratio} per read)`,
    );
  }
  await cpuPerCall(`${what}, rounds of ${SESSIONS} concurrent gets`, admins, () => Promise.all(keys.map((key) => store.get(key))));
  await cpuPerCall(`${what}, rounds of ${SESSIONS} concurrent field writes`, admins, () =>
    Promise.all(keys.map((key) => store.setField(key, 's:n', '2'))),
  );
  return { gets, writes };
}

const ROUNDS = 10;

/** redis-server CPU (user and system, from `INFO cpu`), in µs, summed over `admins`. */
async function serverCpu(admins: Redis[]): Promise<number> {
  const infos = await Promise.all(admins.map((admin) => admin.info('cpu')));
  const field = (info: string, name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return infos.reduce((sum, info) => sum + (field(info, 'used_cpu_user') + field(info, 'used_cpu_sys')) * 1e6, 0);
}

/** Reports the redis-server CPU per call of `round` (which makes SESSIONS calls), over ROUNDS rounds. */
async function cpuPerCall(what: string, admins: Redis[], round: () => Promise<unknown>): Promise<void> {
  const before = await serverCpu(admins);
  for (let i = 0; i < ROUNDS; i++) await round();
  const spent = (await serverCpu(admins)) - before;
  reportMeasurement(`redis-server CPU: ${what}: ${(spent / (ROUNDS * SESSIONS)).toFixed(1)} µs per call`);
}

describe('RedisStore: auto-pipelining on one server', () => {
  let server: RedisServer;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it('sends the commands of concurrent calls together on the client it creates', async () => {
    const store = new RedisStore({ url: server.url, prefix: freshPrefix() });
    await store.open();
    try {
      const { writes } = await burst('the client the store creates (url)', store, [admin]);
      // Issued in one turn, 200 scripts leave in one write: a few reads (that write, the INFO calls, perhaps a
      // sweep of the expiry schedule, whose 16 scripts may add to the count), never one per command.
      expect(writes.sent).toBeGreaterThanOrEqual(SESSIONS);
      expect(writes.reads * 10).toBeLessThanOrEqual(writes.sent);
    } finally {
      await store.close();
    }
  });

  it('pipelines on a client passed in only when it is created with enableAutoPipelining', async () => {
    for (const enableAutoPipelining of [false, true]) {
      const client = new Redis(server.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 1000,
        enableAutoPipelining,
      });
      const store = new RedisStore({ client, prefix: freshPrefix() });
      await store.open();
      try {
        const { writes } = await burst(`a client passed in, enableAutoPipelining: ${enableAutoPipelining}`, store, [admin]);
        expect(writes.sent).toBeGreaterThanOrEqual(SESSIONS);
        if (enableAutoPipelining) expect(writes.reads * 10).toBeLessThanOrEqual(writes.sent);
      } finally {
        await store.close();
        client.disconnect();
      }
    }
  });
});

/** The README's advice for a Cluster: auto-pipelining, no offline queue, one retry. */
describe('RedisStore on a Redis Cluster client with auto-pipelining', () => {
  let cluster: RedisCluster | undefined;
  let nodes: Redis[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    nodes = cluster.nodes.map((node) => new Redis(node.url, { maxRetriesPerRequest: 1 }));
  }, 30_000);

  afterAll(async () => {
    for (const node of nodes) node.disconnect();
    await cluster?.stop();
  });

  async function connect(): Promise<Cluster> {
    const client = new Cluster(
      cluster!.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      { enableAutoPipelining: true, enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 1000 } },
    );
    if (client.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('end', () => reject(new Error('cluster client ended')));
      });
    }
    return client;
  }

  it('serves concurrent calls on sessions spread over the nodes, in few reads', async () => {
    const client = await connect();
    const store = new RedisStore({ client, prefix: freshPrefix() });
    await store.open();
    try {
      const { writes } = await burst('a Cluster client of yours, enableAutoPipelining: true (3 masters)', store, nodes);
      expect(writes.sent).toBeGreaterThanOrEqual(SESSIONS);
      // One pipeline per node at most, in each burst.
      expect(writes.reads * 10).toBeLessThanOrEqual(writes.sent);
    } finally {
      await store.close();
      client.disconnect();
    }
  });

  runStoreContract(
    'RedisStore (Cluster, auto-pipelining)',
    async () => {
      const prefix = freshPrefix();
      const client = await connect();
      const store = new RedisStore({ client, prefix });
      await store.open();
      return {
        store,
        async cleanup() {
          await store.close();
          client.disconnect();
          for (const node of nodes) for (const key of await keysUnder(node, prefix)) await node.del(key);
        },
      };
    },
    { trimUser: true },
  );
});
