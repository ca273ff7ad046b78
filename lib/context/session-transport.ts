/**
 * What the session engine needs from a transport: the request's facts, and a way to set cookies and headers on the
 * answer. HTTP and WebSocket differ only here.
 */
export interface SessionTransport {
  readonly kind: 'http' | 'ws';
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client address as the framework sees it (trust-proxy aware). */
  readonly ip: string | undefined;
  /** True when the request came over HTTPS (trust-proxy aware). */
  readonly secure: boolean;
  /** False where no response can carry a cookie (a WebSocket message). */
  readonly canSetCookies: boolean;
  setCookie(name: string, value: string, options: CookieAttributes): void;
  clearCookie(name: string, options: CookieAttributes): void;
  setHeader(name: string, value: string): void;
}

/** The attributes this library writes; `maxAge` in seconds, undefined for a browser-session cookie. */
export interface CookieAttributes {
  path: string;
  domain?: string;
  sameSite: 'lax' | 'strict' | 'none';
  secure: boolean;
  httpOnly: true;
  maxAge?: number;
}
