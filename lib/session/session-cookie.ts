import { Inject, Injectable } from '@nestjs/common';
import { parse } from 'cookie';
import type { CookieAttributes, SessionTransport } from '../context/session-transport.js';
import { COOKIE_NAME, type ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';

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
    const cookies = parse(header);
    const value = cookies[name];
    if (value === undefined) return { kind: 'none' };
    return countCookie(header, name) > 1 ? { kind: 'ambiguous' } : { kind: 'one', value };
  }

  /** Sets the session cookie: persistent (Max-Age) unless `browserSession`. */
  write(transport: SessionTransport, value: string, maxAgeMs: number | undefined): void {
    if (!transport.canSetCookies) return;
    const attributes = this.attributes(transport);
    if (maxAgeMs !== undefined) attributes.maxAge = Math.max(1, Math.floor(maxAgeMs / 1000));
    transport.setCookie(this.nameFor(transport), value, attributes);
    transport.setHeader('Cache-Control', 'no-store');
  }

  /** Expires the session cookie. */
  clear(transport: SessionTransport): void {
    if (!transport.canSetCookies) return;
    transport.clearCookie(this.nameFor(transport), this.attributes(transport));
    transport.setHeader('Cache-Control', 'no-store');
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

/** How many times `name=` starts a cookie pair in the header (the `cookie` package keeps only the first). */
function countCookie(header: string, name: string): number {
  // The common case, one occurrence of the name at all, needs no split. (Not `name=`: the parser also takes
  // `name =`, so a second spelling with a space must still count.) A forward search: V8's `lastIndexOf` is a call
  // into its runtime, `indexOf` is not.
  if (header.indexOf(name, header.indexOf(name) + 1) === -1) return 1;
  let count = 0;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) count++;
  }
  return count;
}
