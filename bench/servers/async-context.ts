import type { INestApplication } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';

type Next = (error?: unknown) => void;

/**
 * The reference row "no session + AsyncLocalStorage": the ceiling's app with one AsyncLocalStorage slot opened per
 * request, where nestjs-connected opens its own (lib/context/request-scope.ts). On Node 20 an enabled
 * AsyncLocalStorage runs a hook for every promise in the process, whoever opened it (nestjs-cls and OpenTelemetry
 * too), so this row shows what any per-request context costs before a session is read.
 */
export function installAsyncContext(app: INestApplication, framework: 'express' | 'fastify'): void {
  const storage = new AsyncLocalStorage<{ context: unknown }>();
  const instance = app.getHttpAdapter().getInstance() as {
    use?: (handler: (request: unknown, response: unknown, next: Next) => void) => unknown;
    addHook?: (name: 'onRequest', hook: (request: unknown, reply: unknown, done: Next) => void) => unknown;
  };
  if (framework === 'express') instance.use!((_request, _response, next) => storage.run({ context: undefined }, next));
  else instance.addHook!('onRequest', (_request, _reply, done) => storage.run({ context: undefined }, done));
}
