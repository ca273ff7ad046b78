import type { RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';

/** The current request's or message's context, whichever transport opened it (parameter decorators have no DI). */
export function contextOf(): RequestContext | undefined {
  return SessionContext.current();
}
