/**
 * One Node.js line's run of the benchmark, under the Node that runs this file (every child process uses the same
 * binary): HTTP variants side by side with their server and redis-server CPU, the near cache's invalidation window,
 * memory per session (store API and live server), growth with the number of sessions, WebSockets. bench/lines.ts
 * starts one per line with BENCH_LINE_OUT, where this run writes its JSON; without it, the run writes
 * bench/results.json, bench/RESULTS.md and bench/ratio-chart.svg for its line alone. See bench/README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { growthSection } from './growth.js';
import { liveMemorySection } from './live-memory.js';
import { memorySection } from './memory.js';
import { writeReport } from './report.js';
import { httpSection, type RedisContext } from './http.js';
import { loadRedisStore } from './servers/shared.js';
import { socketSection } from './sockets.js';
import { BENCH_DIR, describe, ROOT_DIR, stopAll } from './support/children.js';
import { benchCommand, benchEnv, isHeadline, readConfig, type BenchConfig } from './support/config.js';
import { redisServerVersion, startRedis } from './support/redis.js';
import { machine } from './support/machine.js';
import { pinSelf } from './support/pinning.js';
import type { BenchRun, Results } from './support/results.js';
import { windowSection } from './window.js';

const log = (line: string) => console.log(line);

const message = describe;

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
  pinSelf();
  const results: Results = {
    run: {
      date: new Date().toISOString(),
      command: benchCommand(),
      env: benchEnv(),
      machine: machine(),
      versions: versions(),
      line: process.versions.node.split('.')[0]!,
      headline: isHeadline(),
    },
    config: { ...config },
    failures: [],
  };
  log(`bench   ${results.run.machine.cpu}, ${results.run.machine.cores} cores, Node ${process.version}`);
  log(
    `bench   sections ${config.sections.join(', ')}; warm-up ${config.warmup} s, measure ${config.seconds} s in ${config.rounds} interleaved slices, ${config.connections} connections`,
  );

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
    if (config.sections.includes('http') || config.sections.includes('window')) redis = await prepareRedis(config);
    if (config.sections.includes('http')) {
      await section('http', async () => {
        results.http = await httpSection(config, redis, log);
      });
    }
    if (config.sections.includes('window')) {
      await section('window', async () => {
        const pending = redis.unavailable ?? redis.storeUnavailable;
        if (pending !== undefined || redis.server === undefined) results.window = { pending: pending ?? 'no redis-server' };
        else results.window = await windowSection(config, redis.server, log);
      });
    }
    await redis.server?.stop();
    redis.server = undefined;
    if (config.sections.includes('memory')) {
      await section('memory', async () => {
        results.memory = await memorySection(config, log);
      });
    }
    if (config.sections.includes('live-memory')) {
      await section('live-memory', async () => {
        results.liveMemory = await liveMemorySection(config, log);
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
  const out = process.env['BENCH_LINE_OUT'];
  if (out !== undefined && out !== '') {
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`bench   Node ${process.version} done in ${results.run.durationSeconds} s`);
  } else {
    const { date, command, env, machine, durationSeconds } = results.run;
    const document: BenchRun = { run: { date, command, env, machine, durationSeconds, lines: [results.run.line!] }, lines: [results] };
    writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(document, null, 2)}\n`);
    writeReport(document, BENCH_DIR);
    log(`bench   done in ${results.run.durationSeconds} s: bench/RESULTS.md, bench/results.json, bench/ratio-chart.svg`);
  }
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
