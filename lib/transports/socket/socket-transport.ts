import type { IncomingMessage } from 'node:http';
import type { RefusalCode, SessionTransport } from '../../context/session-transport.js';
import { CROSS_ORIGIN_MESSAGE } from '../../exceptions/csrf-rejected.exception.js';
import type { ClientFacts } from '../http/client-facts.js';

/** What a refused WebSocket message or handshake says; the same words as the HTTP error codes. */
export type SocketRefusalCode = RefusalCode | 'origin_not_allowed' | 'bad_request' | 'too_many_clients';

/** The message that goes with each refusal code (the HTTP exceptions' words for the codes they share). */
export const REFUSAL_MESSAGES: Readonly<Record<SocketRefusalCode, string>> = {
  unauthenticated: 'Not connected',
  forbidden: 'Permission denied',
  reauthenticate: 'Reauthentication required',
  origin_not_allowed: 'Origin not allowed',
  store_unavailable: 'Session store unavailable',
  // Never produced on a socket (its handshake has the Origin rule instead); here so that the map is total.
  csrf: CROSS_ORIGIN_MESSAGE,
  bad_request: 'Malformed handshake',
  too_many_clients: 'Too many sockets for this session',
};

/**
 * The WebSocket side of {@link SessionTransport}: the facts of the handshake, which hold for every message of the
 * socket. Nothing can carry a cookie, so cookie writes are no-ops (a failed check still closes the session).
 */
export class SocketTransport implements SessionTransport {
  readonly kind = 'ws' as const;
  readonly canSetCookies = false;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly ip: string | undefined;
  readonly secure: boolean;
  /** Messages are not HTTP requests: CSRF does not apply (the handshake's Origin rule does). */
  readonly method = undefined;
  readonly ownOrigin = undefined;

  constructor(
    request: IncomingMessage,
    facts: ClientFacts,
    /** Builds the error a refused message throws (a `WsException` in the adapters). */
    private readonly refusal: (code: RefusalCode, message: string) => Error,
  ) {
    this.headers = request.headers;
    this.ip = facts.ip;
    this.secure = facts.secure;
  }

  setCookie(): void {}

  clearCookie(): void {}

  setHeader(): void {}

  refuse(code: RefusalCode, message = REFUSAL_MESSAGES[code]): Error {
    return this.refusal(code, message);
  }
}
