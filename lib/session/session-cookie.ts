import { Inject, Injectable } from '@nestjs/common';
import { parse } from 'cookie';
import type { CookieAttributes, SessionTransport } from '../context/session-transport.js';
import { COOKIE_NAME, type ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';

/**
 * `Cache-Control: no-store`, the name in lower case: Node keys its headers by the lower-cased name, and a name that
 * is already lower case stays the same interned string, so setting it costs no new string and no string-table search.
 */
export const NO_STORE = ['cache-control', 'no-store'] as const;

/** Header values past this size are not parsed: no session cookie of ours is anywhere near it. */
const MAX_COOKIE_HEADER = 16 * 1024;

/** What the request's Cookie header says about the session cookie. */
export type SessionCookieValue =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly value: string }
  /** The cookie came more than once (cookie tossing, a stale path): no session, and neither id is trusted. */
  | { readonly kind: 'ambiguous' }
  /** The header could not be read (oversized, repeated header lines of an odd shape). */
  | { readonly kind: 'malformed' };

/**
 * Reads, writes and expires the session cookie according to the policy. The name and the Secure flag follow the
 * transport's `secure`, which every transport takes from the HTTP framework's trust-proxy setting.
 */
@Injectable()
export class SessionCookie {
  /** The name over a Secure transport: `__Host-` prefixed when host-only (RFC 6265bis). Built once, not per request. */
  private readonly secureName: string;

  constructor(@Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy) {
    const { name, domain, path } = policy.cookie;
    this.secureName = domain === undefined && path === '/' ? `__Host-${name}` : name;
  }

  /** The cookie name for this request: `__Host-` prefixed when Secure and host-only (RFC 6265bis). */
  nameFor(transport: SessionTransport): string {
    return this.isSecure(transport) ? this.secureName : this.policy.cookie.name;
  }

  read(transport: SessionTransport): SessionCookieValue {
    const header = cookieHeader(transport);
    if (header === undefined) return { kind: 'none' };
    if (header === null || header.length > MAX_COOKIE_HEADER) return { kind: 'malformed' };
    const name = this.nameFor(transport);
    const only = onlyPairNamed(header, name);
    if (only !== undefined) return only === null ? { kind: 'none' } : { kind: 'one', value: only };
    const value = parse(header)[name];
    if (value === undefined) return { kind: 'none' };
    return countCookie(header, name) > 1 ? { kind: 'ambiguous' } : { kind: 'one', value };
  }

  /** Sets the session cookie: persistent (Max-Age) unless `browserSession`. */
  write(transport: SessionTransport, value: string, maxAgeMs: number | undefined): void {
    if (!transport.canSetCookies) return;
    const attributes = this.attributes(transport);
    if (maxAgeMs !== undefined) attributes.maxAge = Math.max(1, Math.floor(maxAgeMs / 1000));
    transport.setCookie(this.nameFor(transport), value, attributes);
    transport.setHeader(NO_STORE[0], NO_STORE[1]);
  }

  /** Expires the session cookie. */
  clear(transport: SessionTransport): void {
    if (!transport.canSetCookies) return;
    transport.clearCookie(this.nameFor(transport), this.attributes(transport));
    transport.setHeader(NO_STORE[0], NO_STORE[1]);
  }

  /**
   * After a failed check: expires the session cookie and every other request cookie that `cookie.filter`
   * rejects (Simple_httpd `filter`). A throwing filter expires that cookie too.
   */
  clearAfterFailedCheck(transport: SessionTransport): void {
    this.clear(transport);
    const filter = this.policy.cookie.filter;
    const header = cookieHeader(transport);
    if (filter === undefined || typeof header !== 'string' || header.length > MAX_COOKIE_HEADER) return;
    const own = this.nameFor(transport);
    const cookies = parse(header);
    for (const name of Object.keys(cookies)) {
      if (name === own || !COOKIE_NAME.test(name)) continue;
      let keep = false;
      try {
        keep = filter(name, cookies[name] ?? '') === true;
      } catch {
        keep = false;
      }
      if (!keep) {
        // Browsers ignore a Set-Cookie for a `__Secure-`/`__Host-` name without Secure (and, for `__Host-`, Path=/).
        const host = /^__Host-/i.test(name);
        const secure = host || /^__Secure-/i.test(name);
        transport.clearCookie(name, { path: host ? '/' : this.policy.cookie.path, sameSite: 'lax', secure, httpOnly: true });
      }
    }
  }

  private attributes(transport: SessionTransport): CookieAttributes {
    const { path, domain, sameSite } = this.policy.cookie;
    const attributes: CookieAttributes = { path, sameSite, secure: this.isSecure(transport), httpOnly: true };
    if (domain !== undefined) attributes.domain = domain;
    return attributes;
  }

  private isSecure(transport: SessionTransport): boolean {
    const secure = this.policy.cookie.secure;
    return secure === 'auto' ? transport.secure : secure;
  }
}

/** The Cookie header as one string; undefined when absent, null when it has an unexpected shape. */
function cookieHeader(transport: SessionTransport): string | undefined | null {
  const header = transport.headers['cookie'];
  if (header === undefined) return undefined;
  if (typeof header === 'string') return header;
  return Array.isArray(header) && header.every((part) => typeof part === 'string') ? header.join('; ') : null;
}

/**
 * The common case of {@link SessionCookie.read} without building the `cookie` package's object of every pair: the
 * name occurs once in the whole header, so at most one pair has it, and its value has nothing to decode. Gives the
 * value the package would (the pair's text after its first `=`, space and tab trimmed), null when no pair has the
 * name, and undefined for anything else (the name more than once, a `%` in the value), which the package then reads.
 * The equivalence with the package is tested on generated headers (session-cookie.spec).
 */
function onlyPairNamed(header: string, name: string): string | null | undefined {
  const at = header.indexOf(name);
  if (at === -1) return null;
  if (header.indexOf(name, at + 1) !== -1) return undefined;
  let before = at - 1;
  while (before >= 0 && isBlank(header.charCodeAt(before))) before--;
  let after = at + name.length;
  while (after < header.length && isBlank(header.charCodeAt(after))) after++;
  if ((before >= 0 && header.charCodeAt(before) !== SEMICOLON) || header.charCodeAt(after) !== EQUALS) return null;
  let end = header.indexOf(';', after);
  if (end === -1) end = header.length;
  let start = after + 1;
  while (start < end && isBlank(header.charCodeAt(start))) start++;
  while (end > start && isBlank(header.charCodeAt(end - 1))) end--;
  const value = header.slice(start, end);
  return value.indexOf('%') === -1 ? value : undefined;
}

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

/** The cookie package's whitespace around names and values: space and tab. */
function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * How many pairs of the header are named `name` (the `cookie` package keeps only the first). Only the headers that
 * {@link onlyPairNamed} declines come here, so the name's lone occurrence is already answered: no shortcut for it.
 */
function countCookie(header: string, name: string): number {
  let count = 0;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) count++;
  }
  return count;
}
