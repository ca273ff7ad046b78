import { hash, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url: 43 characters. */
export const SESSION_ID_LENGTH = 43;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A fresh session id. It only ever travels in the cookie. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** True for a string shaped like an id this library issues. */
export function isSessionIdShape(id: string): boolean {
  return id.length === SESSION_ID_LENGTH && BASE64URL.test(id);
}

/**
 * The key a session is stored under: SHA-256 of its id, so that a dump of the store opens no session.
 * It doubles as the opaque `handle` of `listSessions()`.
 */
export function storeKeyOf(id: string): string {
  // The one-shot hash: a third of the time of a Hash object on Node 24, paid on every login and verified-cookie miss.
  return hash('sha256', id, 'base64url');
}
