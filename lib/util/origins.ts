/**
 * Origins as browsers send them (`Origin`) and as the server sees itself, in one place: the WebSocket handshake's
 * Origin rule and the HTTP CSRF check must agree on what "the request's own origin" is, or one of them could be
 * passed by a page the other refuses.
 */

/** A `Host` header that is a bare authority: a name or IPv4 address, or a bracketed IPv6 address, and a port. */
const AUTHORITY = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/**
 * The request's own origin: the scheme from the trust-proxy-aware "secure" fact (never from a header the client
 * chose), the host and port from `Host`, serialised as browsers serialise `Origin` (lower case, default port
 * dropped). Undefined when `Host` is missing or is not a bare authority, so that no `Origin` can match it.
 */
export function ownOrigin(host: unknown, secure: boolean): string | undefined {
  if (typeof host !== 'string') return undefined;
  const authority = host.toLowerCase();
  if (!AUTHORITY.test(authority)) return undefined;
  try {
    return new URL(`${secure ? 'https' : 'http'}://${authority}`).origin;
  } catch {
    return undefined;
  }
}

/**
 * The serialised origin of an `Origin` header value, `'null'` for an opaque origin (a sandboxed page, a `data:`
 * URL, a redirect across sites), undefined for anything a browser does not send (a list, a path, garbage).
 */
export function originOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value === 'null') return 'null';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin;
}

/**
 * Normalises configured origins (`https://APP.example.com/` is `https://app.example.com`); throws a `TypeError`
 * naming `option` for an entry that is not an http(s) origin.
 */
export function normaliseOrigins(origins: readonly unknown[] | undefined, option: string): string[] | undefined {
  return origins?.map((entry) => {
    const origin = typeof entry === 'string' && entry !== 'null' ? originOf(entry) : undefined;
    if (origin === undefined) throw new TypeError(`${option} entry ${JSON.stringify(entry)} is not an http(s) origin`);
    return origin;
  });
}
