import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { contextOf } from '../decorators/context-of.js';
import { SessionContext } from './session-context.js';

/**
 * Installed globally by `SessionModule`: runs the handler (and the interceptors after this one) inside the
 * request's AsyncLocalStorage context, so that `SessionService` works anywhere in it without the request.
 */
@Injectable()
export class SessionContextInterceptor implements NestInterceptor {
  constructor(private readonly context: SessionContext) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const context = contextOf(execution);
    if (context === undefined) return next.handle();
    return new Observable((subscriber) => this.context.run(context, () => next.handle().subscribe(subscriber)));
  }
}
