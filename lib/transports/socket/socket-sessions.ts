import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { SessionContext } from '../../context/session-context.js';
import type { RefusalCode } from '../../context/session-transport.js';
import { PerServer, serverOf } from '../../util/per-server.js';
import { SessionClient, type SocketChannel } from '../clients/session-client.js';
import { SessionClients } from '../clients/session-clients.js';
import type { SessionSocketOptions } from './session-socket.options.js';
import { SocketFreshness } from './socket-freshness.js';
import { refused, SocketHandshake, type HandshakeResult } from './socket-handshake.js';

/** The sessions side of each HTTP server of the process, for protocols that find their server, not their app. */
const byServer = new PerServer<SocketSessions>();

/**
 * What every long-lived connection over a WebSocket needs from the library, in one place: the handshake with the
 * per-session cap, joining the client registry, and the context of each message. The socket adapters reach it
 * through the application; a protocol that only sees the upgrade request (graphql-ws inside a GraphQL driver)
 * finds it by the HTTP server that accepted the connection ({@link SocketSessions.forRequest}).
 */
@Injectable()
export class SocketSessions implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: unknown;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly handshakes: SocketHandshake,
    private readonly clients: SessionClients,
    private readonly freshness: SocketFreshness,
    private readonly context: SessionContext,
  ) {}

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter?.getHttpServer();
    byServer.set(this.server, this);
  }

  onApplicationShutdown(): void {
    byServer.delete(this.server, this);
  }

  /** The sessions of the application whose HTTP server accepted `request`, if it has them. */
  static forRequest(request: unknown): SocketSessions | undefined {
    return byServer.get(serverOf(request));
  }

  /**
   * Admits a handshake with the checks of {@link SocketHandshake.admit}. Never rejects: every failure is a refusal.
   * `refusal` builds the error the connection's refused messages throw. Pass the outcome through {@link withRoom}
   * in the same turn as the connection joins.
   */
  admit(
    request: IncomingMessage,
    processHint: unknown,
    options: SessionSocketOptions,
    refusal: (code: RefusalCode, message: string) => Error,
  ): Promise<HandshakeResult> {
    return this.handshakes.admit(request, processHint, options, refusal);
  }

  /**
   * The admitted client, or `too_many_clients` when its session has no room for one more. Synchronous on purpose:
   * handshakes of one session read together all pass the check above, and only a room check in the same turn as
   * the answer (ws registers its socket in that turn) refuses every one past the cap cleanly.
   */
  withRoom(result: HandshakeResult): HandshakeResult {
    return 'client' in result && !this.clients.hasRoom(result.client) ? refused('too_many_clients') : result;
  }

  /**
   * A connection whose handshake passed is open: it joins the registry once (several listeners may report the
   * same socket), and leaves it when `whenClosed` reports the connection closed.
   */
  join(client: SessionClient, channel: SocketChannel, whenClosed: (leave: () => void) => void): void {
    if (client.channel !== undefined) return;
    whenClosed(() => this.clients.unregister(client));
    this.clients.register(client, channel);
  }

  /**
   * A joined connection closed: it leaves the registry. For an adapter that watches the close with one listener
   * shared by its sockets, rather than the `leave` that {@link join} hands to `whenClosed`; call it once.
   */
  leave(client: SessionClient): void {
    this.clients.unregister(client);
  }

  /**
   * Runs `fn` (one message's handling) in an AsyncLocalStorage slot of its own holding the message's context, with
   * the client's session as last checked (re-read when due); none for a connection without a client.
   */
  run<T>(client: SessionClient | undefined, fn: () => T): T {
    return this.context.run(client === undefined ? undefined : this.freshness.messageContext(client), fn);
  }
}
