import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { deletesCookie, type Browser, type Reply, type SetCookie } from './browser.js';

/** A string shaped like a session id this library issues (32 random bytes, base64url), but never issued. */
export function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/** A cookie value `id.tag` signed as the library does, with any secret (an attacker's or a rotated one). */
export function signWith(secret: string, id: string = randomId()): string {
  return `${id}.${createHmac('sha256', secret).update(id).digest('base64url')}`;
}

/** The id part of a cookie value. */
export function idOf(cookieValue: string): string {
  return cookieValue.slice(0, cookieValue.indexOf('.'));
}

/** The session cookie in a browser's jar: its value (`id.tag`), its id and its tag; undefined when there is none. */
export function sessionCookieOf(browser: Browser, name = 'sid'): { value: string; id: string; tag: string } | undefined {
  const value = browser.jar.get(name);
  if (value === undefined) return undefined;
  const id = idOf(value);
  return { value, id, tag: value.slice(id.length + 1) };
}

/** True for a Set-Cookie that removes the cookie (Max-Age=0 or an Expires in the past) and carries no value. */
export function isExpiry(cookie: SetCookie): boolean {
  return cookie.value === '' && deletesCookie(cookie);
}

/** The Set-Cookie headers of a reply for one cookie name. */
export function cookiesNamed(reply: Pick<Reply, 'setCookies'>, name: string): SetCookie[] {
  return reply.setCookies.filter((cookie) => cookie.name === name);
}

/** True when a reply deletes the cookie `name` (Max-Age=0 or an Expires in the past), whatever else it sets. */
export function expiresCookie(reply: Pick<Reply, 'setCookies'>, name = 'sid'): boolean {
  return cookiesNamed(reply, name).some(deletesCookie);
}

/** The last Set-Cookie of a reply for one name (the one a browser ends up with), or throws. */
export function lastCookie(reply: Reply, name = 'sid'): SetCookie {
  const found = cookiesNamed(reply, name);
  const last = found[found.length - 1];
  if (last === undefined) {
    throw new Error(`expected a Set-Cookie for '${name}', got: ${JSON.stringify(reply.setCookies.map((c) => c.raw))}`);
  }
  return last;
}

/** The reply sets no cookie at all (no Set-Cookie header). */
export function expectNoSetCookie(reply: Reply): void {
  expect(reply.headers.get('set-cookie')).toBeNull();
  expect(reply.setCookies).toEqual([]);
}

/**
 * The reply sets no cookie but may expire the session cookie `name` (and nothing else); when it does, it says
 * `Cache-Control: no-store`.
 */
export function expectAtMostExpiry(reply: Reply, name = 'sid'): void {
  for (const cookie of reply.setCookies) {
    expect({ name: cookie.name, expiry: isExpiry(cookie) }).toEqual({ name, expiry: true });
  }
  if (reply.setCookies.length > 0) expect(reply.headers.get('cache-control')).toBe('no-store');
}

/** The reply expires the session cookie `name` and sets no other cookie. */
export function expectExpiryOnly(reply: Reply, name = 'sid'): void {
  expect(reply.setCookies.length).toBeGreaterThan(0);
  expectAtMostExpiry(reply, name);
}

/** The JSON body of Nest's 401 for a request without a usable session. */
export const UNAUTHENTICATED = expect.objectContaining({ statusCode: 401, code: 'unauthenticated' });
/** The JSON body of the 401 for a request whose session is missing or has ended. */
export const NOT_CONNECTED = expect.objectContaining({ statusCode: 401, code: 'unauthenticated', message: 'Not connected' });
/** The JSON body of Nest's 403 for a connected user outside the allowed groups. */
export const FORBIDDEN = expect.objectContaining({ statusCode: 403, code: 'forbidden' });

/** A raw answer of {@link rawGet}. */
export interface RawReply {
  status: number;
  body: string;
  setCookies: string[];
}

/**
 * A GET with headers exactly as given, including repeated header lines (`{ cookie: ['a=1', 'b=2'] }` sends two
 * Cookie lines), which fetch cannot send.
 */
export function rawGet(base: string, path: string, headers: Record<string, string | string[]>): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const setCookie = res.headers['set-cookie'];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), setCookies: setCookie ?? [] });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
