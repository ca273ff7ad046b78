import type { IncomingMessage } from 'node:http';
import { normaliseOrigins } from './origin-check.js';

/**
 * Options of `SessionIoAdapter` and `SessionWsAdapter`; a gateway may override them for its own server with
 * `@WebSocketGateway({ session: { ... } })`.
 */
export interface SessionSocketOptions {
  /** Let sockets in without a connected session (they are still clients of an anonymous session, if any). Default false. */
  allowAnonymous?: boolean;
  /**
   * Origins allowed to open a socket, such as `https://app.example.com`. Default: only the origin whose host is
   * the handshake's `Host`. A handshake without `Origin` (a non-browser client) always passes.
   */
  allowedOrigins?: readonly string[];
  /** Groups of which a user needs one to open a socket (checked with `policy.groups`). */
  allow?: readonly string[];
  /** Groups whose members may not open a socket (deny wins over allow). */
  deny?: readonly string[];
  /**
   * The client address for `bindIp` and `check`. Default: the TCP peer address. Behind a proxy, return what your
   * HTTP framework's trust-proxy setting gives `req.ip`, or `bindIp` will see a different address on sockets.
   */
  clientIp?: (request: IncomingMessage) => string | undefined;
  /**
   * How many live sockets one session may hold on this server; past it a handshake is refused with `too_many_clients`
   * (ws: HTTP 429). A positive integer, default 50: a tab opens one socket or a few, so 50 covers many tabs, while one
   * stolen cookie cannot hold thousands of connections. Anonymous sessions count like connected ones; sockets without
   * any session are not counted. The count is per server (process): behind a load balancer with several servers, the
   * bound is this number per server.
   */
  maxClientsPerSession?: number;
}

/** Gateway metadata with the per-gateway override. */
export interface SessionGatewayOptions {
  session?: SessionSocketOptions;
}

/**
 * Splits a gateway's options into the session part and the rest, which goes to the underlying adapter. Runs when
 * the gateway's server is created, at start-up: a bad value of the merged options throws there.
 */
export function splitGatewayOptions<T extends object>(
  defaults: SessionSocketOptions,
  options: (T & SessionGatewayOptions) | undefined,
): { session: SessionSocketOptions; rest: T | undefined } {
  if (options === undefined) return { session: checked(defaults), rest: undefined };
  const { session, ...rest } = options;
  return { session: checked({ ...defaults, ...session }), rest: rest as T };
}

/** Throws a start-up error naming the option when an adapter's (or a gateway's) session options hold a bad value. */
export function checkSocketOptions(options: SessionSocketOptions): void {
  const max: unknown = options.maxClientsPerSession;
  if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 1)) {
    const got = typeof max === 'number' ? String(max) : typeof max === 'string' ? JSON.stringify(max) : `a ${typeof max}`;
    throw new TypeError(`nestjs-connected: maxClientsPerSession must be a positive integer (got ${got})`);
  }
}

/**
 * The options as the handshake reads them: checked, and `allowedOrigins` as the origin check compares them
 * (`https://APP.example.com/` is `https://app.example.com`).
 */
function checked(options: SessionSocketOptions): SessionSocketOptions {
  checkSocketOptions(options);
  const allowedOrigins = normaliseOrigins(options.allowedOrigins);
  return allowedOrigins === undefined ? options : { ...options, allowedOrigins };
}
