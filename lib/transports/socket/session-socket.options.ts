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
}

/** Gateway metadata with the per-gateway override. */
export interface SessionGatewayOptions {
  session?: SessionSocketOptions;
}

/** Splits a gateway's options into the session part and the rest, which goes to the underlying adapter. */
export function splitGatewayOptions<T extends object>(
  defaults: SessionSocketOptions,
  options: (T & SessionGatewayOptions) | undefined,
): { session: SessionSocketOptions; rest: T | undefined } {
  if (options === undefined) return { session: withOrigins(defaults), rest: undefined };
  const { session, ...rest } = options;
  return { session: withOrigins({ ...defaults, ...session }), rest: rest as T };
}

/** `allowedOrigins` as the origin check compares them (`https://APP.example.com/` is `https://app.example.com`). */
function withOrigins(options: SessionSocketOptions): SessionSocketOptions {
  const allowedOrigins = normaliseOrigins(options.allowedOrigins);
  return allowedOrigins === undefined ? options : { ...options, allowedOrigins };
}
