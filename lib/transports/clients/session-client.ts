import type { LiveSession } from '../../context/request-context.js';
import type { SessionTransport } from '../../context/session-transport.js';

/**
 * Why a client (a socket, a GraphQL subscription connection, an SSE stream) was closed by the library; the client
 * reads it (socket.io event, ws close reason, the `session_end` event of a stream).
 * `too_many_clients`: its session already had `maxClientsPerSession` sockets when it opened (handshakes of one
 * session that raced past the handshake's check).
 */
export type SocketCloseReason = 'session_closed' | 'session_expired' | 'too_many_clients';

/** How the registry ends one socket: the one transport-specific act it needs. */
export interface SocketChannel {
  close(reason: SocketCloseReason): void;
}

/**
 * How many live clients one session may hold on this server unless told otherwise: the default of the sockets'
 * `maxClientsPerSession`, and the bound of a session's SSE streams.
 */
export const DEFAULT_MAX_CLIENTS_PER_SESSION = 50;

const CLIENT = Symbol('nestjs-connected:client');

/**
 * One live connection (a socket, a GraphQL subscription connection, an SSE stream): a client of its session
 * (Simple_httpd) and a process of its own (Os_session's tab). Holds the session as last checked, so that a message
 * costs a timestamp comparison, not a store read. Its transport's `kind` is the `transport` of its events.
 */
export class SessionClient {
  /** Set once the library closed the socket (its session is gone). */
  closed = false;
  channel: SocketChannel | undefined;
  /** Set once the socket joined its session's clients (and `client-connected` was announced). */
  joined = false;
  /**
   * Events of this client run in order: start-process, ..., client-connected, then client-disconnected. The pending
   * steps' chain; undefined when none is pending.
   */
  events: Promise<void> | undefined;

  constructor(
    readonly transport: SessionTransport,
    readonly processId: string,
    /** The session as last read from the store; undefined for an anonymous socket without one. */
    public session: LiveSession | undefined,
    /** When `session` was read (ms since the epoch). */
    public checkedAt: number,
    /** How many sockets its session may hold on this server, this one included (`maxClientsPerSession`). */
    readonly maxClients: number,
  ) {
    this.sweptAt = checkedAt;
  }

  /** When the expiry sweep last re-read the session for this socket's session (ms since the epoch). */
  sweptAt: number;

  /** Called with the session each time it is read again (a stream whose request context must follow it). */
  onRefresh: ((session: LiveSession) => void) | undefined;

  /** The session as read again from the store. */
  refreshed(session: LiveSession, checkedAt?: number): void {
    this.session = session;
    if (checkedAt !== undefined) this.checkedAt = checkedAt;
    this.onRefresh?.(session);
  }

  /** Keeps the client on the framework's socket object. */
  static attach(socket: object, client: SessionClient): void {
    (socket as { [CLIENT]?: SessionClient })[CLIENT] = client;
  }

  static of(socket: unknown): SessionClient | undefined {
    return socket !== null && typeof socket === 'object' ? (socket as { [CLIENT]?: SessionClient })[CLIENT] : undefined;
  }
}
