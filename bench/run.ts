/**
 * The benchmark, in one run (`npm run bench`): HTTP variants side by side, memory per session, growth with the
 * number of sessions, WebSockets; then bench/results.json, bench/RESULTS.md and bench/ratio-chart.svg.
 * See bench/README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { join, relative } from 'node:path';
import { growthSection } from './growth.js';
import { memorySection } from './memory.js';
import { writeReport } from './report.js';
import { loadRedisStore, VARIANTS, type VariantSpec } from './servers/shared.js';
import { socketSection } from './sockets.js';
import { BENCH_DIR, describe, ROOT_DIR, stopAll } from './support/children.js';
import { benchEnv, readConfig, type BenchConfig } from './support/config.js';
import { checkAnswers, login, probe } from './support/http.js';
import { measure } from './support/load.js';
import { redisServerVersion, startRedis, type RedisServer } from './support/redis.js';
import type { Cell, CellName, Machine, Results, VariantResult } from './support/results.js';
import { startHttpServer } from './support/servers.js';

const log = (line: string) => console.log(line);

const message = describe;

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) return `${pretty} (${osType()} ${release()})`;
  } catch {
    // Not Linux.
  }
  return `${osType()} ${release()}`;
}

function machine(): Machine {
  const list = cpus();
  return { cpu: list[0]?.model.trim() ?? 'unknown', cores: list.length, ramBytes: totalmem(), os: osName(), node: process.version };
}

function packageVersion(name: string): string {
  try {
    const file = name === 'nestjs-connected' ? join(ROOT_DIR, 'package.json') : join(ROOT_DIR, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function versions(): Record<string, string> {
  const names = [
    'nestjs-connected',
    '@nestjs/core',
    '@nestjs/platform-express',
    '@nestjs/platform-fastify',
    'express',
    'fastify',
    'express-session',
    'connect-redis',
    'redis',
    '@fastify/session',
    '@fastify/cookie',
    'ioredis',
    'socket.io',
    'socket.io-client',
    'autocannon',
  ];
  const found: Record<string, string> = {};
  for (const name of names) found[name] = packageVersion(name);
  found['redis-server'] = redisServerVersion() ?? 'not installed';
  return found;
}

const CELLS: Array<{ name: CellName; method: 'GET' | 'POST'; path: string; many: boolean }> = [
  { name: 'read-1', method: 'GET', path: '/read', many: false },
  { name: 'write-1', method: 'POST', path: '/write', many: false },
  { name: 'read-many', method: 'GET', path: '/read', many: true },
  { name: 'write-many', method: 'POST', path: '/write', many: true },
];

interface RedisContext {
  server?: RedisServer;
  /** Why Redis variants cannot run, if they cannot. */
  unavailable?: string;
  /** Why the nestjs-connected Redis variants cannot run (RedisStore not importable), if they cannot. */
  storeUnavailable?: string;
}

async function benchVariant(spec: VariantSpec, config: BenchConfig, redis: RedisContext): Promise<VariantResult> {
  const result: VariantResult = { id: spec.id, framework: spec.framework, label: spec.label, status: 'ok', problems: [], cells: [] };
  if (spec.store === 'redis') {
    const reason = redis.unavailable ?? (spec.library === 'nestjs-connected' ? redis.storeUnavailable : undefined);
    if (reason !== undefined) {
      log(`http    ${spec.id.padEnd(26)} pending: ${reason}`);
      return { ...result, status: 'pending', reason };
    }
    await redis.server!.flush();
  }
  const env: Record<string, string> = {};
  if (redis.server !== undefined) env['BENCH_REDIS_URL'] = redis.server.url;
  env['BENCH_REDIS_STORE_MODULE'] = config.redisStoreModule;
  let server;
  try {
    server = await startHttpServer(spec.id, env);
  } catch (error) {
    log(`http    ${spec.id.padEnd(26)} FAILED to start: ${message(error).split('\n')[0]}`);
    return { ...result, status: 'failed', reason: message(error) };
  }
  try {
    const guarded = spec.library !== 'ceiling' && spec.library !== 'async-context';
    const single = await login(server.url, 1, { prefix: 'solo', expectCookie: guarded });
    const many = await login(server.url, config.sessions, { prefix: 'user', expectCookie: guarded });
    result.problems = await checkAnswers(server.url, single[0]!, guarded);
    for (const problem of result.problems) log(`http    ${spec.id.padEnd(26)} CHECK FAILED: ${problem}`);
    for (const cell of CELLS) {
      const cookies = cell.many ? many : single;
      const measured = await measure({
        url: server.url,
        method: cell.method,
        path: cell.path,
        cookies,
        connections: config.connections,
        warmupSeconds: config.warmup,
        seconds: config.seconds,
      });
      const done: Cell = { name: cell.name, method: cell.method, path: cell.path, sessions: cookies.length, result: measured };
      result.cells.push(done);
      log(
        `http    ${spec.id.padEnd(26)} ${cell.name.padEnd(10)} ${measured.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
          `p50 ${measured.p50.toFixed(2).padStart(6)} ms  p99 ${measured.p99.toFixed(2).padStart(6)} ms` +
          (measured.non2xx + measured.errors > 0 ? `  NON-2XX ${measured.non2xx} ERRORS ${measured.errors}` : ''),
      );
    }
    if (guarded) {
      // The write cell over many sessions reached every cookie, the last one included.
      for (const cookie of [many[0]!, many[many.length - 1]!]) {
        const read = await probe(`${server.url}/read`, { headers: { cookie } });
        const counter = Number(/"counter":(\d+)/.exec(read.body)?.[1] ?? 0);
        if (read.status !== 200 || !(counter > 0)) {
          const problem = `after write-many, a session reads ${read.status} ${read.body.slice(0, 80)}`;
          result.problems.push(problem);
          log(`http    ${spec.id.padEnd(26)} CHECK FAILED: ${problem}`);
        }
      }
    }
  } catch (error) {
    result.status = 'failed';
    result.reason = message(error);
    log(`http    ${spec.id.padEnd(26)} FAILED: ${message(error).split('\n')[0]}`);
  } finally {
    await server.stop();
  }
  return result;
}

/** The variants of BENCH_VARIANTS with their frameworks' ceilings, or all of them. */
function selectedVariants(config: BenchConfig): VariantSpec[] {
  const wanted = config.variants;
  if (wanted === undefined) return [...VARIANTS];
  for (const id of wanted) if (!VARIANTS.some((v) => v.id === id)) throw new Error(`BENCH_VARIANTS: unknown variant '${id}'`);
  const frameworks = new Set(VARIANTS.filter((v) => wanted.includes(v.id)).map((v) => v.framework));
  return VARIANTS.filter((v) => wanted.includes(v.id) || (v.library === 'ceiling' && frameworks.has(v.framework)));
}

/** Each cell's req/s over its framework's ceiling's, in this run. */
function addRatios(variants: VariantResult[]): void {
  for (const variant of variants) {
    const ceiling = variants.find((v) => v.framework === variant.framework && v.id.endsWith('-ceiling'));
    for (const cell of variant.cells) {
      const base = ceiling?.cells.find((c) => c.name === cell.name)?.result.requestsPerSecond;
      if (base !== undefined && base > 0) cell.ratio = cell.result.requestsPerSecond / base;
    }
  }
}

async function prepareRedis(config: BenchConfig): Promise<RedisContext> {
  const context: RedisContext = {};
  try {
    await loadRedisStore(config.redisStoreModule);
  } catch (error) {
    context.storeUnavailable = `RedisStore cannot be imported from '${config.redisStoreModule}' (${message(error).split('\n')[0]})`;
  }
  if (redisServerVersion() === undefined) {
    context.unavailable = 'redis-server is not installed (node scripts/ensure-redis.mjs installs it)';
    return context;
  }
  try {
    context.server = await startRedis();
    log(`redis   redis-server ${context.server.version} on port ${context.server.port} (pid ${context.server.pid})`);
  } catch (error) {
    context.unavailable = `redis-server did not start: ${message(error).split('\n')[0]}`;
  }
  return context;
}

async function main(): Promise<void> {
  const started = Date.now();
  const config = readConfig();
  const results: Results = {
    run: {
      date: new Date().toISOString(),
      command:
        process.env['npm_lifecycle_event'] === 'bench'
          ? 'npm run bench'
          : `node ${[relative(process.cwd(), process.argv[1] ?? ''), ...process.argv.slice(2)].join(' ')}`,
      env: benchEnv(),
      machine: machine(),
      versions: versions(),
    },
    config: { ...config },
    failures: [],
  };
  log(`bench   ${results.run.machine.cpu}, ${results.run.machine.cores} cores, Node ${process.version}`);
  log(`bench   sections ${config.sections.join(', ')}; warm-up ${config.warmup} s, measure ${config.seconds} s, ${config.connections} connections`);

  const section = async (name: string, task: () => Promise<void>) => {
    try {
      await task();
    } catch (error) {
      results.failures.push({ section: name, error: message(error) });
      log(`${name.padEnd(7)} FAILED: ${message(error)}`);
    }
  };

  let redis: RedisContext = {};
  try {
    if (config.sections.includes('http')) {
      redis = await prepareRedis(config);
      await section('http', async () => {
        const variants: VariantResult[] = [];
        for (const spec of selectedVariants(config)) variants.push(await benchVariant(spec, config, redis));
        addRatios(variants);
        results.http = { connections: config.connections, warmupSeconds: config.warmup, seconds: config.seconds, sessions: config.sessions, variants };
      });
      await redis.server?.stop();
      redis.server = undefined;
    }
    if (config.sections.includes('memory')) {
      await section('memory', async () => {
        results.memory = await memorySection(config, log);
      });
    }
    if (config.sections.includes('growth')) {
      await section('growth', async () => {
        results.growth = await growthSection(config, log);
      });
    }
    if (config.sections.includes('sockets')) {
      await section('sockets', async () => {
        results.sockets = await socketSection(config, log);
      });
    }
  } finally {
    await redis.server?.stop();
    await stopAll();
  }

  results.run.durationSeconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results, BENCH_DIR);
  log(`bench   done in ${results.run.durationSeconds} s: bench/RESULTS.md, bench/results.json, bench/ratio-chart.svg`);
  const flagged = (results.http?.variants ?? []).filter(
    (v) => v.status === 'failed' || v.problems.length > 0 || v.cells.some((c) => c.result.non2xx > 0 || c.result.errors > 0),
  );
  if (flagged.length > 0) log(`bench   FLAGGED (misconfigured or failing): ${flagged.map((v) => v.id).join(', ')}`);
  if (results.failures.length > 0) process.exitCode = 1;
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  await stopAll();
  process.exit(1);
});
