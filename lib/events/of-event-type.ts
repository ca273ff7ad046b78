import { filter, type OperatorFunction } from 'rxjs';
import type { SessionEvent, SessionEventOf, SessionEventType } from './session-event.js';

/** An RxJS operator that keeps the events of the given types and narrows their payload. */
export function ofEventType<K extends SessionEventType>(...types: K[]): OperatorFunction<SessionEvent, SessionEventOf<K>> {
  const wanted = new Set<SessionEventType>(types);
  return filter((event): event is SessionEventOf<K> => wanted.has(event.type));
}
