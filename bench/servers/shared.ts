import { pathToFileURL } from 'node:url';
import type { SessionStore } from 'nestjs-connected';
import { ABSOLUTE_TIMEOUT_MS } from '../support/records.js';

/** The same secret length and cookie settings for every variant (plain HTTP, so not Secure). */
export const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvw'; // 48 characters
export const COOKIE_NAME = 'sid';
export const COOKIE = {
  path: '/',
  httpOnly: true,
  secure: false,
  sameSite: 'lax' as const,
  /** 30 days: nestjs-connected's default absolute timeout, which is its cookie's Max-Age. */
  maxAge: ABSOLUTE_TIMEOUT_MS,
};

/** The known cost the calibration variants add to the ceiling's `GET /read` and `POST /write`, in µs of busy-waiting. */
export const CALIBRATION_SPIN_US = 4;

/** The user a login without `?user=` connects. */
export const DEFAULT_USER = 'bench-user';

export type Framework = 'express' | 'fastify';
export type Library =
  'ceiling' | 'ceiling-without-etags' | 'async-context' | 'calibration' | 'express-session' | 'fastify-session' | 'nestjs-connected';
export type StoreKind = 'none' | 'memory' | 'redis';

export interface VariantSpec {
  readonly id: string;
  readonly framework: Framework;
  readonly library: Library;
  readonly store: StoreKind;
  /** Row name in the report. */
  readonly label: string;
}

/** The HTTP variants, in report order (each framework's ceiling first). */
export const VARIANTS: readonly VariantSpec[] = [
  { id: 'express-ceiling', framework: 'express', library: 'ceiling', store: 'none', label: 'no session (ceiling)' },
  {
    id: 'express-async-context',
    framework: 'express',
    library: 'async-context',
    store: 'none',
    label: 'no session + AsyncLocalStorage (reference)',
  },
  {
    // What Express's default ETag costs every answer (a SHA-1 of the body, sent as a second chunk), which the library
    // skips on its no-store answers: the ceiling the library's Express rows would have without that.
    id: 'express-ceiling-without-etags',
    framework: 'express',
    library: 'ceiling-without-etags',
    store: 'none',
    label: "no session, `app.set('etag', false)` (reference)",
  },
  {
    id: 'express-calibration',
    framework: 'express',
    library: 'calibration',
    store: 'none',
    label: `no session + ${CALIBRATION_SPIN_US} µs busy-wait (calibration)`,
  },
  {
    id: 'express-session-memory',
    framework: 'express',
    library: 'express-session',
    store: 'memory',
    label: 'express-session + MemoryStore',
  },
  {
    id: 'express-session-redis',
    framework: 'express',
    library: 'express-session',
    store: 'redis',
    label: 'express-session + connect-redis',
  },
  {
    id: 'express-connected-memory',
    framework: 'express',
    library: 'nestjs-connected',
    store: 'memory',
    label: 'nestjs-connected + MemoryStore',
  },
  {
    id: 'express-connected-redis',
    framework: 'express',
    library: 'nestjs-connected',
    store: 'redis',
    label: 'nestjs-connected + RedisStore',
  },
  { id: 'fastify-ceiling', framework: 'fastify', library: 'ceiling', store: 'none', label: 'no session (ceiling)' },
  {
    id: 'fastify-async-context',
    framework: 'fastify',
    library: 'async-context',
    store: 'none',
    label: 'no session + AsyncLocalStorage (reference)',
  },
  {
    id: 'fastify-calibration',
    framework: 'fastify',
    library: 'calibration',
    store: 'none',
    label: `no session + ${CALIBRATION_SPIN_US} µs busy-wait (calibration)`,
  },
  {
    id: 'fastify-session-memory',
    framework: 'fastify',
    library: 'fastify-session',
    store: 'memory',
    label: '@fastify/session (memory store)',
  },
  {
    id: 'fastify-connected-memory',
    framework: 'fastify',
    library: 'nestjs-connected',
    store: 'memory',
    label: 'nestjs-connected + MemoryStore',
  },
  {
    id: 'fastify-connected-redis',
    framework: 'fastify',
    library: 'nestjs-connected',
    store: 'redis',
    label: 'nestjs-connected + RedisStore',
  },
];

export function variantById(id: string | undefined): VariantSpec {
  const variant = VARIANTS.find((candidate) => candidate.id === id);
  if (variant === undefined) throw new Error(`unknown BENCH_VARIANT '${id}' (${VARIANTS.map((v) => v.id).join(', ')})`);
  return variant;
}

/** An import specifier from the environment: a file path becomes a file URL, a package name stays as it is. */
export function importSpecifier(specifier: string): string {
  return specifier.startsWith('/') || specifier.startsWith('.') ? pathToFileURL(specifier).href : specifier;
}

/** What the harness needs of `nestjs-connected/redis` (imported at run time: the entry may not exist yet). */
export interface RedisStoreModule {
  RedisStore: new (options: { url: string; prefix?: string } & Record<string, unknown>) => SessionStore;
}

/**
 * Extra `RedisStore` options for every store the benchmark creates (servers and the invalidation window), as JSON in
 * BENCH_REDIS_STORE_OPTIONS (e.g. `{"nearCache":true}`); `{}` by default, so that the store's defaults are measured.
 */
export function redisStoreOptions(): Record<string, unknown> {
  const raw = process.env['BENCH_REDIS_STORE_OPTIONS'];
  if (raw === undefined || raw.trim() === '') return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('BENCH_REDIS_STORE_OPTIONS must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

export async function loadRedisStore(specifier: string): Promise<RedisStoreModule> {
  const loaded = (await import(importSpecifier(specifier))) as Partial<RedisStoreModule>;
  if (typeof loaded.RedisStore !== 'function') throw new Error(`'${specifier}' has no RedisStore export`);
  return loaded as RedisStoreModule;
}

/** Required environment variable. */
export function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}
