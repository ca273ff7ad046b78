import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { SessionContext } from '../context/session-context.js';

/** The connected user's id; undefined only under `@Connected({ optional: true })` or without `@Connected`. */
export const CurrentUser = createParamDecorator((_: unknown, _execution: ExecutionContext): string | undefined => {
  return SessionContext.current()?.session?.record.userId;
});
