import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { SessionKey } from '../stores/session-key.js';
import { SessionContext } from '../context/session-context.js';

/** The value of a typed key in the current session (undefined when absent). */
export const SessionData = createParamDecorator((key: SessionKey<unknown>, _execution: ExecutionContext): unknown => {
  if (!(key instanceof SessionKey)) throw new TypeError('@SessionData(key) needs a SessionKey');
  const context = SessionContext.current();
  if (context === undefined) {
    throw new Error('@SessionData: no session context; is SessionModule imported?');
  }
  return context.data.read(key, context);
});
