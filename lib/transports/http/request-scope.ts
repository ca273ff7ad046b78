import type { HttpServer } from '@nestjs/common';
import type { SessionContext } from '../../context/session-context.js';

type Next = (error?: unknown) => void;

interface ExpressLike {
  use(handler: (request: unknown, response: unknown, next: Next) => void): unknown;
}

interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: unknown, reply: unknown, done: Next) => void): unknown;
}

/**
 * Opens every request's AsyncLocalStorage slot in the framework itself (Express `app.use`, Fastify `onRequest`),
 * ahead of the routes: a Nest middleware on every route would do the same through path matching and wrappers that
 * cost about a tenth of a small request's time. Returns false for other platforms, which get the Nest middleware.
 *
 * Called while Nest registers middleware, which is after the body parsers and before the routes.
 */
export function installRequestScope(adapter: HttpServer | undefined, context: SessionContext): boolean {
  switch (adapter?.getType()) {
    case 'express':
      (adapter.getInstance() as ExpressLike).use((_request, _response, next) => context.open(next));
      return true;
    case 'fastify':
      (adapter.getInstance() as FastifyLike).addHook('onRequest', (_request, _reply, done) => context.open(done));
      return true;
    default:
      return false;
  }
}
