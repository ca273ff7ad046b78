import { createHash } from 'node:crypto';
import type { SessionRecord } from 'nestjs-connected';

/**
 * Session records shaped as the library writes them at login (lib/session/session-opener.ts `create()`), for
 * filling stores directly: the memory measurement, the growth tests and the prefilled server.
 */

export const USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const CLIENT_IP = '127.0.0.1';
/** The library's defaults: idle timeout 3600 s, absolute timeout 30 days (also the cookie's Max-Age everywhere). */
export const IDLE_TIMEOUT_MS = 3_600_000;
export const ABSOLUTE_TIMEOUT_MS = 30 * 24 * 3_600_000;
/** Users the filled sessions belong to. */
export const FILL_USERS = 10_000;

/**
 * A fresh flat copy of a string. The library stores strings that come from each request (the User-Agent header,
 * the client address, the user id), never one shared constant: the copies make the measured heap honest.
 */
export function fresh(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** Store key number `i`: a 43-character base64url SHA-256, as the library derives from a session id. */
export function storeKey(i: number, salt = 'fill'): string {
  return createHash('sha256').update(`${salt}:${i}`).digest('base64url');
}

/** The user of filled session number `i` (a new string each time, as a login's user id would be). */
export function fillUser(i: number, users = FILL_USERS): string {
  return `user-${i % users}`;
}

/**
 * A connected session's record as `SessionOpener.create()` builds it: the same properties in the same order
 * (object shapes matter to the heap), `data` empty, a fresh copy of the address and of a browser's User-Agent.
 */
export function loginRecord(userId: string, now = Date.now(), epoch = 0, expiresAt?: number): SessionRecord {
  const absoluteExpiresAt = now + ABSOLUTE_TIMEOUT_MS;
  const record: SessionRecord = {
    epoch,
    createdAt: now,
    lastSeenAt: now,
    idleExpiresAt: expiresAt ?? Math.min(now + IDLE_TIMEOUT_MS, absoluteExpiresAt),
    absoluteExpiresAt,
    data: {},
  };
  record.userId = userId;
  record.ip = fresh(CLIENT_IP);
  record.userAgent = fresh(USER_AGENT);
  return record;
}

/** The limits the library passes to `create()` under the default policy (anonymous.maxSessions 10,000). */
export const LOGIN_LIMITS = { maxAnonymous: 10_000 };

/** What a MemoryStore needs to hold `count` sessions without evicting (its default cap is 1,000,000). */
export function memoryStoreOptions(count: number): { maxSessions?: number } {
  return count > 1_000_000 ? { maxSessions: count } : {};
}
