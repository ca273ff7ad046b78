import 'reflect-metadata';
import { type INestApplication, type ModuleMetadata, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { MemoryStore, SessionModule, type SessionPolicy } from '../../lib/index.js';

export type AdapterName = 'express' | 'fastify';
export const ADAPTERS: AdapterName[] = ['express', 'fastify'];

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

/** A listening app on 127.0.0.1 with a real HTTP server, on the named adapter. */
export interface TestApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

export interface AppOptions {
  adapter: AdapterName;
  policy?: Partial<SessionPolicy>;
  controllers?: Type[];
  providers?: ModuleMetadata['providers'];
  imports?: ModuleMetadata['imports'];
  /** The imports bring their own SessionModule (the sample app): don't add one. */
  standalone?: boolean;
  /** Express `trust proxy` / Fastify `trustProxy`. */
  trustProxy?: boolean;
  /** Runs before `init()`: where a WebSocket adapter is installed. */
  configure?: (app: INestApplication) => void;
}

export async function startApp(options: AppOptions): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [...(options.standalone ? [] : [SessionModule.forRoot({ secret: SECRET, ...options.policy })]), ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const adapter = options.adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(options.trustProxy ? { trustProxy: true } : {});
  const app = moduleRef.createNestApplication(adapter, { logger: false });
  if (options.adapter === 'express' && options.trustProxy) {
    (app.getHttpAdapter().getInstance() as { set(k: string, v: unknown): void }).set('trust proxy', true);
  }
  options.configure?.(app);
  await app.init();
  if (options.adapter === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

/** An app and the MemoryStore behind it, for specs that look into the store. */
export interface StoreApp {
  t: TestApp;
  store: MemoryStore;
}

/** {@link startApp} on the MemoryStore of `options.policy.store`, or on a new one. */
export async function startWithStore(options: AppOptions): Promise<StoreApp> {
  const store = (options.policy?.store as MemoryStore | undefined) ?? new MemoryStore();
  const t = await startApp({ ...options, policy: { ...options.policy, store } });
  return { t, store };
}

/**
 * For a describe block: starts an app before its tests and closes it after them. The object returned is filled in
 * by `beforeAll`: read `s.t` and `s.store` inside the tests, not while the block is being declared.
 */
export function startForBlock(start: () => Promise<StoreApp>): StoreApp {
  const started = {} as StoreApp;
  beforeAll(async () => {
    Object.assign(started, await start());
  });
  afterAll(() => started.t?.close());
  return started;
}

export { NestFactory };
