/**
 * One HTTP variant of the benchmark as its own process: `BENCH_VARIANT` names it (servers/shared.ts `VARIANTS`).
 * Listens on 127.0.0.1, on a port the kernel picks, and prints `BENCH_READY {"port":…}`. Routes: `POST /login`
 * (`?user=` the user id), `GET /read`, `POST /write`.
 *
 * Answers `cpu` and `heap` queries on its stdin (support/children.ts `answerQueries`).
 *
 * Environment: BENCH_VARIANT; BENCH_REDIS_URL, BENCH_REDIS_STORE_MODULE and BENCH_REDIS_STORE_OPTIONS for the Redis
 * variants; BENCH_PREFILL=N (nestjs-connected + MemoryStore only) stores N extra connected sessions through the
 * store's `create()` before listening, for the growth test.
 */
import 'reflect-metadata';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { MemoryStore, type SessionStore } from 'nestjs-connected';
import { announce, answerQueries, exitWithParent, READY } from '../support/children.js';
import { fillUser, LOGIN_LIMITS, loginRecord, memoryStoreOptions, storeKey } from '../support/records.js';
import { installAsyncContext } from './async-context.js';
import { CalibrationModule } from './calibration.js';
import { CeilingModule } from './ceiling.js';
import { connectedModule } from './connected.js';
import { ExpressSessionModule, installExpressSession } from './express-session.js';
import { FastifySessionModule, installFastifySession } from './fastify-session.js';
import { env, loadRedisStore, redisStoreOptions, variantById, type VariantSpec } from './shared.js';

/** Fills `store` with `count` connected sessions over 10,000 users, as logins would have; resolves the time taken. */
async function prefill(store: MemoryStore, count: number): Promise<number> {
  const started = performance.now();
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    await store.create(storeKey(i, 'prefill'), loginRecord(fillUser(i), now), LOGIN_LIMITS);
  }
  return performance.now() - started;
}

async function sessionStore(variant: VariantSpec, prefilled: number): Promise<SessionStore> {
  if (variant.store === 'redis') {
    const { RedisStore } = await loadRedisStore(env('BENCH_REDIS_STORE_MODULE'));
    return new RedisStore({ ...redisStoreOptions(), url: env('BENCH_REDIS_URL'), prefix: 'bench-nc:' });
  }
  // Room for the prefill, the logins of the benchmark and a margin: the default cap (1,000,000) must not evict.
  return new MemoryStore(memoryStoreOptions(prefilled + 20_000));
}

async function main(): Promise<void> {
  const variant = variantById(process.env['BENCH_VARIANT']);
  const prefilled = Number(process.env['BENCH_PREFILL'] ?? 0);
  if (prefilled > 0 && !(variant.library === 'nestjs-connected' && variant.store === 'memory')) {
    throw new Error('BENCH_PREFILL applies to the nestjs-connected + MemoryStore variants only');
  }

  let module: Type | DynamicModule;
  let store: SessionStore | undefined;
  switch (variant.library) {
    case 'ceiling':
    case 'ceiling-without-etags':
    case 'async-context':
      module = CeilingModule;
      break;
    case 'calibration':
      module = CalibrationModule;
      break;
    case 'express-session':
      module = ExpressSessionModule;
      break;
    case 'fastify-session':
      module = FastifySessionModule;
      break;
    case 'nestjs-connected':
      store = await sessionStore(variant, prefilled);
      module = connectedModule(store);
      break;
  }

  let app: INestApplication;
  let closeExtra = async () => {};
  if (variant.framework === 'express') {
    const express = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { logger: false });
    if (variant.library === 'ceiling-without-etags') express.set('etag', false);
    if (variant.library === 'express-session') {
      closeExtra = await installExpressSession(express, variant.store === 'redis' ? env('BENCH_REDIS_URL') : undefined);
    }
    app = express;
  } else {
    const fastify = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), { logger: false });
    if (variant.library === 'fastify-session') await installFastifySession(fastify);
    app = fastify;
  }
  if (variant.library === 'async-context') installAsyncContext(app, variant.framework);
  exitWithParent(async () => {
    await app.close();
    await closeExtra();
  });
  answerQueries();

  let prefillMs = 0;
  if (prefilled > 0) prefillMs = await prefill(store as MemoryStore, prefilled);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const stored = store instanceof MemoryStore ? store.size : undefined;
  announce(READY, { variant: variant.id, port: address.port, pid: process.pid, prefilled, prefillMs, stored });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
