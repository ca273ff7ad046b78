import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { SessionTransport } from '../../context/session-transport.js';

/** What a refused WebSocket message or handshake says; the same words as the HTTP error codes. */
export type SocketRefusalCode = 'unauthenticated' | 'forbidden' | 'origin_not_allowed' | 'store_unavailable';

/** The message that goes with each refusal code (the HTTP exceptions' words for the codes they share). */
export const REFUSAL_MESSAGES: Readonly<Record<SocketRefusalCode, string>> = {
  unauthenticated: 'Not connected',
  forbidden: 'Permission denied',
  origin_not_allowed: 'Origin not allowed',
  store_unavailable: 'Session store unavailable',
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

  constructor(
    request: IncomingMessage,
    ip: string | undefined,
    /** Builds the error a refused message throws (a `WsException` in the adapters). */
    readonly refusal: (code: SocketRefusalCode, message: string) => Error,
  ) {
    this.headers = request.headers;
    this.ip = ip;
    this.secure = (request.socket as Partial<TLSSocket>).encrypted === true;
  }

  setCookie(): void {}

  clearCookie(): void {}

  setHeader(): void {}
}
