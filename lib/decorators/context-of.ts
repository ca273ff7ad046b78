import type { ExecutionContext } from '@nestjs/common';
import type { RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';

/** The request context the guard attached: on the HTTP request, or the current WebSocket message's. */
export function contextOf(execution: ExecutionContext): RequestContext | undefined {
  switch (execution.getType()) {
    case 'http':
      return SessionContext.of(execution.switchToHttp().getRequest());
    case 'ws':
      // A socket carries many messages at once: each has its own context, in AsyncLocalStorage.
      return SessionContext.current();
    default:
      return undefined;
  }
}
