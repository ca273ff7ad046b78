import type { ExecutionContext } from '@nestjs/common';
import type { RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';

/** The request context the guard attached, on HTTP (the request) or WebSocket (the client). */
export function contextOf(execution: ExecutionContext): RequestContext | undefined {
  switch (execution.getType()) {
    case 'http':
      return SessionContext.of(execution.switchToHttp().getRequest());
    case 'ws':
      return SessionContext.of(execution.switchToWs().getClient());
    default:
      return undefined;
  }
}
