import { authenticatedAtOf, type SessionRecord } from '../stores/session-record.js';

/**
 * `@Connected({ fresh })`: whether the session's user proved who they are (login, `reauthenticate()`) at most
 * `seconds` ago. Older records without `authenticatedAt` count from their creation, which was their login.
 */
export function isFresh(record: SessionRecord, seconds: number, now = Date.now()): boolean {
  return now - authenticatedAtOf(record) <= seconds * 1000;
}
