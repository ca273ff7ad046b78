import 'reflect-metadata';
import { type INestApplication, type ModuleMetadata, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { SessionModule, type SessionPolicy } from '../../lib/index.js';

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
}

export async function startApp(options: AppOptions): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ...(options.standalone ? [] : [SessionModule.forRoot({ secret: SECRET, ...options.policy })]),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const adapter =
    options.adapter === 'express'
      ? new ExpressAdapter()
      : new FastifyAdapter(options.trustProxy ? { trustProxy: true } : {});
  const app = moduleRef.createNestApplication(adapter, { logger: false });
  if (options.adapter === 'express' && options.trustProxy) {
    (app.getHttpAdapter().getInstance() as { set(k: string, v: unknown): void }).set('trust proxy', true);
  }
  await app.init();
  if (options.adapter === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

export { NestFactory };
