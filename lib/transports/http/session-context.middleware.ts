import { Injectable, type NestMiddleware } from '@nestjs/common';
import { HttpRequestScope } from './http-request-scope.js';

/**
 * The request scope as a Nest middleware, for HTTP platforms other than Express and Fastify (which get it from the
 * framework itself, see {@link HttpRequestScope.install}).
 */
@Injectable()
export class SessionContextMiddleware implements NestMiddleware {
  constructor(private readonly scope: HttpRequestScope) {}

  use(request: unknown, response: unknown, next: (error?: unknown) => void): void {
    this.scope.open(request, response, next);
  }
}
