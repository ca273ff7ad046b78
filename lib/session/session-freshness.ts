import { authenticatedAtOf, type SessionRecord } from '../stores/session-record.js';

/**
 * `@Connected({ fresh })`: whether the session's user proved who they are (login, `reauthenticate()`) at most
 * `seconds` ago. Older records without `authenticatedAt` count from their creation, which was their login. An
 * impersonated session never is: its user proved nothing, and its actor's password must not unlock the user's
 * sensitive actions (changing the user's password, say).
 */
export function isFresh(record: SessionRecord, seconds: number, now = Date.now()): boolean {
  if (record.actorId !== undefined) return false;
  return now - authenticatedAtOf(record) <= seconds * 1000;
}
