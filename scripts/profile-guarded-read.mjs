/**
 * Profiles the guarded read of a built nestjs-connected (MemoryStore, or RedisStore) against the same Nest app without the library
 * (the ceiling), on Express and Fastify: server CPU per request, an optional CPU profile of the measured window, and
 * the live server's memory per connected session. Not part of the test suite; docs/ARCHITECTURE.md ("Per-request
 * cost") says what it found.
 *
 *   npm run build   # or: npx tsc -p tsconfig.build.json --outDir .build/some-dir
 *   PATH="$(node scripts/node-line.mjs 24):$PATH" node scripts/profile-guarded-read.mjs [options]
 *
 * Options:
 *   --lib <dir>          the built library (default dist)
 *   --mode <mode>        cpu, memory, both (default) or inject (the apps in this process without sockets: injectMode),
 *                        or hit (MemoryStore.peek against a RedisStore near cache hit, no HTTP; --store redis: hitMode),
 *                        or alloc (bytes allocated per request by function, each variant against the first: allocMode)
 *   --adapters <list>    express,fastify
 *   --route <name>       me (default: `@Connected()` + `@CurrentUser()`), read (the bench's `@SessionData(COUNTER)`)
 *                        or plain (`@Connected()` and no parameter, as the ceiling's routes)
 *   --store <kind>       memory (default) or redis: a RedisStore (its defaults) on a redis-server this script starts
 *                        on a free loopback port and stops by its pid; cpu mode then prints redis-server's CPU too
 *   --variants <list>    ceiling,connected, and async-context: the ceiling with an AsyncLocalStorage slot per request,
 *                        the floor of any per-request context (async-context-listener: the slot opened around the
 *                        HTTP server's request listener instead of in the framework); in inject mode with --store
 *                        redis, connected-redis: `connected` on the RedisStore (and `connected` stays on a
 *                        MemoryStore), side by side; in inject mode, `connected@<dir>` is the library built in <dir>,
 *                        in the same process; with --store redis, `connected-memory` is `connected` on a MemoryStore
 *                        In cpu mode, `connected@<dir>` is one more `connected` server on the library built in <dir>
 *                        (a copy of dist that profile-guarded-read/cut-builds.mjs edits, say): each round's difference
 *                        to `connected` is printed, so two builds meet the same load (ARCHITECTURE, "Per-request cost");
 *                        alloc mode and --perf name its functions `lib/...` as any build's, so they pair
 *                        Calibration: `ceiling-spin:<µs>` is the ceiling busy-waiting that long in `/read`,
 *                        `ceiling-alloc:<n>` the ceiling allocating n small objects there; a known cost, to see what
 *                        the harness (or the profiler) makes of it; `ceiling-without-etags`, on Express, the ceiling with
 *                        `app.set('etag', false)`: what Express's ETag (a SHA-1 of each body) costs the ceiling,
 *                        which the library skips on its no-store answers
 *   --sessions 1000 --seconds 8 --warmup 3 --rounds 3 --connections 10   the load of cpu mode
 *   --writes <s>         cpu mode: after the warm-up, that many seconds of `POST /write` (the session's counter + 1,
 *                        a `persist` value) on each connected server, then the warm-up again: the read as the bench
 *                        measures it on Node 24, after its write cells
 *   --pin true           each server on the last CPU, this driver (and its load) on the others, as the bench
 *   --logins 10000       memory mode: sessions logged in, then read once each
 *   --profile <dir>      a .cpuprofile of the last round, and its top self-time entries printed (wall time: the
 *                        samples of a thread off its CPU inside a system call count, see docs/ARCHITECTURE.md)
 *   --perf <dir>         `perf record -e cpu-clock` (CPU time only) of each server in the last round, run with
 *                        --perf-basic-prof: µs per request by binary, and the symbols that differ most from the
 *                        first variant (`--top`). Needs perf (Debian: linux-perf) and root or perf_event_paranoid <= 1
 *                        (PERF_GRAPH=1 records call graphs too: `perf script` on the files then says who calls what)
 *   --snapshots <dir>    memory mode: heap snapshots before, after the logins, after the reads
 *   --top 25             alloc mode and --perf: how many functions to list
 *   --node-flags="<f>"   more Node flags for the servers (--trace-deopt, --trace-gc-nvp, --max-semi-space-size=8)
 *
 * Each server is a child process of this script (`--serve`) under the same Node binary; the apps and what a server
 * answers over IPC are in profile-guarded-read/app.mjs, the other modes and summaries in the folder's other files.
 * Load: autocannon, 10 connections on 127.0.0.1, each cycling through the logged-in cookies. CPU rounds alternate the
 * variants, so all see the same machine load; the figure is each one's median round.
 */
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { allocMode } from './profile-guarded-read/allocations.mjs';
import { buildApp, listenToParent } from './profile-guarded-read/app.mjs';
import { hitMode } from './profile-guarded-read/hit.mjs';
import { get, load, loginMany, pin } from './profile-guarded-read/http.mjs';
import { printPerf, startPerf } from './profile-guarded-read/perf.mjs';
import { injectMode } from './profile-guarded-read/inject.mjs';
import { startRedis } from './profile-guarded-read/redis.mjs';
import { summarise } from './profile-guarded-read/summary.mjs';

const { values: options } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    lib: { type: 'string', default: 'dist' },
    mode: { type: 'string', default: 'both' },
    adapters: { type: 'string', default: 'express,fastify' },
    variant: { type: 'string', default: 'connected' },
    variants: { type: 'string', default: 'ceiling,connected' },
    adapter: { type: 'string', default: 'express' },
    route: { type: 'string', default: 'me' },
    store: { type: 'string', default: 'memory' },
    'redis-url': { type: 'string' },
    sessions: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    pin: { type: 'string', default: 'true' },
    logins: { type: 'string', default: '10000' },
    profile: { type: 'string' },
    snapshots: { type: 'string' },
    'node-flags': { type: 'string' },
    perf: { type: 'string' },
    top: { type: 'string', default: '25' },
    writes: { type: 'string', default: '0' },
  },
});

/** The redis-server of `--store redis`, started by main(). */
let redis;

if (options.serve) await serve();
else await main();

// ---------------------------------------------------------------------------------------------------------------
// The server (child process)
async function serve() {
  const app = await buildApp(options.adapter, options.variant, options.lib, options['redis-url']);
  await app.listen(0, '127.0.0.1');
  await listenToParent(app);
}

// ---------------------------------------------------------------------------------------------------------------
// The driver

/** The built library a variant runs: `connected@<dir>` names its own, the others `--lib`'s. */
function libraryOf(variant) {
  return variant.split('@')[1] ?? options.lib;
}

function startServer(adapter, variant) {
  const args = ['--serve', '--adapter', adapter, '--variant', variant.split('@')[0], '--lib', libraryOf(variant)];
  if (redis !== undefined) args.push('--redis-url', redis.url);
  const child = fork(new URL(import.meta.url).pathname, args, {
    execArgv: [
      '--expose-gc',
      ...(options.perf === undefined ? [] : ['--perf-basic-prof']),
      ...(options['node-flags'] === undefined ? [] : options['node-flags'].split(' ')),
    ],
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  child.on('message', (message) => {
    const done = waiting.get(message.cmd);
    if (done !== undefined) {
      waiting.delete(message.cmd);
      done(message);
    }
  });
  const exited = new Promise((done) => child.on('exit', done));
  const stop = () => {
    child.send({ cmd: 'exit' });
    return exited;
  };
  const ask = (cmd, extra = {}) =>
    new Promise((done) => {
      waiting.set(cmd, done);
      child.send({ cmd, ...extra });
    });
  const ready = new Promise((done, fail) => {
    // Pinned once it is up, when all of its threads exist (later ones inherit the main thread's CPUs).
    waiting.set('ready', (message) => {
      pin(child.pid, 'server', options.pin === 'true');
      done(message);
    });
    child.on('exit', (code) => fail(new Error(`server ${adapter} ${variant} exited with ${code}`)));
  });
  return { child, ask, ready, stop };
}

function cpuMicros(before, after) {
  return after.user - before.user + (after.system - before.system);
}

/** A variant's server, up, with its users logged in (`--sessions`) and the route warmed up (`--warmup`). */
async function preparedServer(adapter, variant) {
  const server = startServer(adapter, variant);
  const { port } = await server.ready;
  const guarded = variant.startsWith('connected');
  const cookies = guarded ? await loginMany(port, Number(options.sessions), 'user-') : [];
  if (guarded && (await get(port, `/${options.route}`, cookies[0])) !== 200) throw new Error('guarded read refused');
  await load(port, cookies, Number(options.warmup), options.route, Number(options.connections));
  if (guarded && Number(options.writes) > 0) {
    await load(port, cookies, Number(options.writes), 'write', Number(options.connections), 'POST');
    await load(port, cookies, Number(options.warmup), options.route, Number(options.connections));
  }
  return { server, port, cookies };
}

async function cpuMode(adapters) {
  const variants = options.variants.split(',');
  const seconds = Number(options.seconds);
  const rounds = Number(options.rounds);
  // The profiled round is not counted, so another must be; and each profiler would be measured by the other.
  if ((options.profile !== undefined || options.perf !== undefined) && rounds < 2)
    throw new Error('--profile and --perf need --rounds 2 or more');
  if (options.profile !== undefined && options.perf !== undefined) throw new Error('--profile or --perf, not both');
  const rows = [];
  for (const adapter of adapters) {
    const servers = {};
    for (const variant of variants) {
      const { server, port, cookies } = await preparedServer(adapter, variant);
      servers[variant] = { server, port, cookies, micros: 0, requests: 0, perRound: [], redisPerRound: [] };
    }
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const entry = servers[variant];
        const last = round === rounds - 1;
        const profiled = options.profile !== undefined && last;
        if (profiled) await entry.server.ask('profile-start');
        const name = `${adapter}-${variant}-${options.route}`.replaceAll('/', '_'); // connected@.build/x: one file
        const stopPerf = options.perf !== undefined && last ? await startPerf(entry.server.child.pid, options.perf, name) : undefined;
        const before = (await entry.server.ask('cpu')).usage;
        const redisBefore = redis?.cpu();
        const requests = await load(entry.port, entry.cookies, seconds / rounds, options.route, Number(options.connections));
        const after = (await entry.server.ask('cpu')).usage;
        if (stopPerf !== undefined) {
          entry.perf = await stopPerf();
          continue; // perf's own cost is not counted
        }
        const redisMicros = redis === undefined ? 0 : redis.cpu() - redisBefore;
        if (profiled) {
          mkdirSync(options.profile, { recursive: true });
          const file = resolve(options.profile, `${name}.cpuprofile`);
          await entry.server.ask('profile-stop', { file });
          entry.profile = file;
          continue; // the profiler's own cost is not counted
        }
        entry.micros += cpuMicros(before, after);
        entry.requests += requests;
        entry.perRound.push(cpuMicros(before, after) / requests);
        entry.redisPerRound.push(redisMicros / requests);
      }
    }
    // The median round: the machine's other load comes and goes, and a round it hit is an outlier, not a trend.
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const ceiling = median(servers.ceiling.perRound);
    const connected = median(servers.connected.perRound);
    rows.push({
      adapter,
      ceiling,
      connected,
      ratio: ceiling / connected,
      rounds: { ceiling: servers.ceiling.perRound, connected: servers.connected.perRound },
    });
    console.log(
      `cpu ${adapter.padEnd(8)} /${options.route}: ceiling ${ceiling.toFixed(1)} µs/req, nestjs-connected ${connected.toFixed(1)} µs/req, ` +
        `ratio ${(ceiling / connected).toFixed(2)} (+${(connected - ceiling).toFixed(1)} µs)  rounds ${servers.connected.perRound.map((v) => v.toFixed(1)).join(' ')} / ${servers.ceiling.perRound.map((v) => v.toFixed(1)).join(' ')}`,
    );
    if (redis !== undefined && servers.connected !== undefined) {
      console.log(`    ${adapter} redis-server CPU per request: ${median(servers.connected.redisPerRound).toFixed(1)} µs (median round)`);
    }
    for (const variant of variants.filter(
      (v) => v.startsWith('connected@') || v.startsWith('ceiling-') || v.startsWith('connected-memory') || v === 'async-context-listener',
    )) {
      const rounds = servers[variant].perRound;
      const paired = (base) => median(rounds.map((value, i) => value - base[i])).toFixed(2);
      console.log(
        `    ${adapter} ${variant}: ${median(rounds).toFixed(1)} µs/req; adds ${paired(servers.ceiling.perRound)} µs to the ceiling, ` +
          `${paired(servers.connected.perRound)} µs to connected (medians of the rounds' differences)`,
      );
    }
    if (servers['async-context'] !== undefined) {
      const floor = median(servers['async-context'].perRound);
      console.log(
        `    ${adapter} ceiling + AsyncLocalStorage slot only: ${floor.toFixed(1)} µs/req, ratio ${(ceiling / floor).toFixed(2)}`,
      );
    }
    if (options.perf !== undefined) printPerf(adapter, variants, servers, { median, top: Number(options.top), libraryOf });
    for (const variant of variants) {
      if (servers[variant].profile !== undefined) await summarise(servers[variant].profile);
      await servers[variant].server.stop();
    }
  }
  return rows;
}

async function memoryMode(adapters) {
  const count = Number(options.logins);
  const rows = [];
  for (const adapter of adapters) {
    const server = startServer(adapter, 'connected');
    const { port } = await server.ready;
    // Warm-up: everything a login and a read touch is loaded and compiled before the first reading.
    const warm = await loginMany(port, 200, 'warm-');
    for (const cookie of warm) await get(port, `/${options.route}`, cookie);
    const base = (await server.ask('mem')).bytes;
    const snapshot = async (name) => {
      if (options.snapshots === undefined) return;
      mkdirSync(options.snapshots, { recursive: true });
      await server.ask('snapshot', { file: resolve(options.snapshots, `${adapter}-${name}.heapsnapshot`) });
    };
    await snapshot('base');
    const cookies = await loginMany(port, count, 'user-');
    const afterLogins = (await server.ask('mem')).bytes;
    await snapshot('logins');
    for (let i = 0; i < count; i += 16) {
      const statuses = await Promise.all(cookies.slice(i, i + 16).map((cookie) => get(port, `/${options.route}`, cookie)));
      if (statuses.some((status) => status !== 200)) throw new Error('guarded read refused');
    }
    const afterRequests = (await server.ask('mem')).bytes;
    await snapshot('requests');
    const row = { adapter, logins: (afterLogins - base) / count, requests: (afterRequests - base) / count };
    rows.push(row);
    console.log(
      `memory ${adapter.padEnd(8)} ${count} logins: ${row.logins.toFixed(0)} B/session after the logins, ${row.requests.toFixed(0)} B/session after one /${options.route} each`,
    );
    await server.stop();
  }
  return rows;
}
async function main() {
  const adapters = options.adapters.split(',');
  pin(process.pid, 'driver', options.pin === 'true');
  console.log(`node ${process.version}, lib ${options.lib}, store ${options.store}, pinned ${options.pin}`);
  if (options.store === 'redis') redis = await startRedis();
  else if (options.store !== 'memory') throw new Error(`--store: memory or redis, not ${options.store}`);
  try {
    if (options.mode === 'cpu' || options.mode === 'both') await cpuMode(adapters);
    if (options.mode === 'memory' || options.mode === 'both') await memoryMode(adapters);
    if (options.mode === 'alloc') await allocMode(adapters, { options, preparedServer, load, libraryOf });
    if (options.mode === 'inject') await injectMode(adapters, { ...options, redisUrl: redis?.url, libraryOf });
    if (options.mode === 'hit') await hitMode(options, redis?.url);
  } finally {
    await redis?.stop();
  }
}
