// The in-process mode of scripts/profile-guarded-read.mjs (see injectMode).
import { buildApp } from './app.mjs';

/**
 * The same apps in this process, driven without sockets (light-my-request, as Fastify's `inject`), in short batches
 * that alternate between the variants: what the machine's other load does to one batch it does to its neighbours,
 * so the difference between the variants (the library's own cost) is far steadier than over the network.
 */
export async function injectMode(adapters, options) {
  const { default: inject } = await import('light-my-request');
  const variants = options.variants.split(',');
  const batch = 500;
  const rounds = Number(options.rounds) * 10;
  for (const adapter of adapters) {
    const apps = {};
    for (const variant of variants) {
      // `connected@<dir>`: the library built in <dir>, in this same process beside the others.
      const base = variant.split('@')[0];
      const app = await buildApp(adapter, base, options.libraryOf(variant), base === 'connected-redis' ? options.redisUrl : undefined);
      const instance = app.getHttpAdapter().getInstance();
      if (adapter === 'fastify') await instance.ready();
      const dispatch = adapter === 'fastify' ? (request) => instance.inject(request) : (request) => inject(instance, request);
      let cookies = [undefined];
      if (variant.startsWith('connected')) {
        cookies = [];
        for (let i = 0; i < Number(options.sessions); i++) {
          const reply = await dispatch({ method: 'POST', url: `/login?user=user-${i}` });
          const set = reply.headers['set-cookie'];
          cookies.push((Array.isArray(set) ? set : [set]).map((line) => line.split(';')[0]).join('; '));
        }
      }
      apps[variant] = { app, dispatch, cookies, next: 0, perRound: [] };
    }
    const run = async (entry, count) => {
      for (let i = 0; i < count; i++) {
        const cookie = entry.cookies[entry.next++ % entry.cookies.length];
        const reply = await entry.dispatch({ method: 'GET', url: `/${options.route}`, headers: cookie ? { cookie } : {} });
        if (reply.statusCode !== 200) throw new Error(`${reply.statusCode} ${reply.payload}`);
      }
    };
    for (const variant of variants) await run(apps[variant], 20 * batch); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const before = process.cpuUsage();
        await run(apps[variant], batch);
        apps[variant].perRound.push(cpuMicros(before, process.cpuUsage()) / batch);
      }
    }
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    // The median of each round's difference: both batches of a round ran under the same conditions.
    const added =
      apps.connected && apps.ceiling ? median(apps.connected.perRound.map((value, i) => value - apps.ceiling.perRound[i])) : Number.NaN;
    const line = variants.map((variant) => `${variant} ${median(apps[variant].perRound).toFixed(1)}`).join(', ');
    console.log(
      `inject ${adapter.padEnd(8)} /${options.route}: µs/req (median of ${rounds} batches of ${batch}) ${line}; library adds ${added.toFixed(2)} µs`,
    );
    if (apps['connected-redis'] !== undefined && apps.connected !== undefined) {
      const redis = median(apps['connected-redis'].perRound.map((value, i) => value - apps.connected.perRound[i]));
      const ratio = median(apps.connected.perRound) / median(apps['connected-redis'].perRound);
      console.log(`    RedisStore over MemoryStore: adds ${redis.toFixed(2)} µs (ratio of the medians ${ratio.toFixed(3)})`);
    }
    for (const variant of variants.filter((v) => v.startsWith('connected@') && apps.connected !== undefined)) {
      const difference = median(apps[variant].perRound.map((value, i) => value - apps.connected.perRound[i]));
      console.log(`    ${variant}: ${difference.toFixed(2)} µs to connected (median of the batches' differences)`);
    }
    if (apps['async-context'] !== undefined) {
      const slot = median(apps['async-context'].perRound.map((value, i) => value - apps.ceiling.perRound[i]));
      console.log(`    of which the AsyncLocalStorage slot alone: ${slot.toFixed(2)} µs`);
    }
    for (const variant of variants) await apps[variant].app.close();
  }
}

function cpuMicros(before, after) {
  return after.user - before.user + (after.system - before.system);
}
