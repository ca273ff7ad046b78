/** The ways a request reaches the library; the `transport` of every event (`sse`: a Server-Sent Events stream). */
export type TransportKind = 'http' | 'ws' | 'sse';

/**
 * Why a request, message or handshake is refused; each transport turns a code into its own kind of error. `csrf`
 * is produced only where {@link SessionTransport.method} is known (HTTP), but every transport maps it.
 * `reauthenticate`: connected, but the user last proved who they are longer ago than the handler allows (`fresh`).
 */
export type RefusalCode = 'unauthenticated' | 'forbidden' | 'reauthenticate' | 'store_unavailable' | 'csrf';

/**
 * The seam between the session engine and the ways a request arrives (HTTP, WebSocket, ...). A transport knows how
 * to read the request's facts, write a cookie where its answer can carry one, and refuse in its own terms; the
 * engine and the guard know nothing else of it. See docs/ARCHITECTURE.md, "How to add a transport".
 */
export interface SessionTransport {
  readonly kind: TransportKind;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client address as the HTTP framework sees it (trust-proxy aware). */
  readonly ip: string | undefined;
  /** True when the request came over HTTPS (trust-proxy aware); decides the cookie's name and Secure flag. */
  readonly secure: boolean;
  /**
   * The HTTP method of a request where CSRF applies (a routed HTTP request, GraphQL over HTTP included); undefined
   * where it never does (a WebSocket message, whose handshake keeps its own Origin rule; an SSE stream's events).
   */
  readonly method: string | undefined;
  /**
   * The request's own origin (`https://host:port`, from `secure` and `Host`), the one a same-origin page sends as
   * `Origin`; undefined where CSRF does not apply or `Host` is unusable. Read only for unsafe requests.
   */
  readonly ownOrigin: string | undefined;
  /** False where no response can carry a cookie (a WebSocket message). */
  readonly canSetCookies: boolean;
  setCookie(name: string, value: string, options: CookieAttributes): void;
  clearCookie(name: string, options: CookieAttributes): void;
  setHeader(name: string, value: string): void;
  /**
   * The error that refuses this request with `code` (an HTTP exception, a WebSocket error, a GraphQL error, ...);
   * `message` replaces the code's usual words where the engine knows more (which part could not answer). `handler`
   * is the kind of Nest handler refused (`ExecutionContext.getType()`: `http`, `ws`, `graphql`, ...): one HTTP
   * request may run a controller or GraphQL resolvers, and each is refused in its own terms.
   */
  refuse(code: RefusalCode, message?: string, handler?: string): Error;
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
