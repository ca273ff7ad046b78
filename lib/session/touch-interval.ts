import type { ResolvedSessionPolicy } from '../session-policy.js';
import type { SessionRecord } from '../stores/session-record.js';

/** The shortest touch interval of a timeout of a minute or more: a minute's timeout is still touched every second. */
const MIN_INTERVAL_MS = 1000;
/** The longest: however long the idle timeout, activity is at most a minute old in the store. */
const MAX_INTERVAL_MS = 60_000;

/**
 * How often a session's activity is written to the store, given its idle timeout: a sixtieth of it, between one
 * second and one minute, and never more than a tenth of it. Each touch is a store write (on Redis a script, and the
 * near cache's copy read again), so a long timeout is touched rarely: one hour → once a minute, ten minutes → every
 * ten seconds, a minute or less → every second. The interval is also how late activity may be: `lastSeenAt` is up to
 * one interval old, and a session lapses up to one interval before a full idle timeout since its last request (at
 * most a sixtieth of the timeout, or a minute). A short timeout keeps ten touches per timeout at least, so that
 * requests well within it never let a session lapse.
 */
export function touchIntervalMs(idleTimeoutMs: number): number {
  return Math.min(idleTimeoutMs / 10, Math.max(MIN_INTERVAL_MS, Math.min(idleTimeoutMs / 60, MAX_INTERVAL_MS)));
}

/** The idle timeout a record lives under: the anonymous one without a user. */
export function idleTimeoutOf(policy: ResolvedSessionPolicy, record: SessionRecord): number {
  return record.userId === undefined ? policy.anonymousIdleTimeoutMs : policy.idleTimeoutMs;
}
