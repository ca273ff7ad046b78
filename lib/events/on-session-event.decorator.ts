import { SetMetadata } from '@nestjs/common';
import type { SessionEventType } from './session-event.js';

export const ON_SESSION_EVENT = Symbol('nestjs-connected:on-session-event');

/**
 * Runs the decorated provider method for every event of `type`, awaited before the request goes on (an Os_session
 * `on_*` hook). A throwing hook fails that request; it never crashes the process.
 */
export function OnSessionEvent(type: SessionEventType): MethodDecorator {
  return SetMetadata(ON_SESSION_EVENT, type);
}
