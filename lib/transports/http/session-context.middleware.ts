import { Injectable, type NestMiddleware } from '@nestjs/common';
import { SessionContext } from '../../context/session-context.js';

/**
 * Mounted on every route by `SessionModule`: opens the request's AsyncLocalStorage slot, so that the guard's
 * context is visible to everything after it (pipes, interceptors, the handler, the providers it calls) without
 * REQUEST scope and without an interceptor on every route.
 */
@Injectable()
export class SessionContextMiddleware implements NestMiddleware {
  constructor(private readonly context: SessionContext) {}

  use(_request: unknown, _response: unknown, next: (error?: unknown) => void): void {
    this.context.open(next);
  }
}
