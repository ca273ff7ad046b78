import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import { GatewayBridge } from '../socket/gateway-bridge.js';
import { SessionClient, type SocketChannel, type SocketCloseReason } from '../clients/session-client.js';
import {
  checkSocketOptions,
  splitGatewayOptions,
  type SessionGatewayOptions,
  type SessionSocketOptions,
} from '../socket/session-socket.options.js';
import { describeError } from '../../util/describe-error.js';

const logger = new Logger('SessionIoAdapter');

export type { SessionSocketOptions, SessionGatewayOptions } from '../socket/session-socket.options.js';
export type { SocketCloseReason } from '../clients/session-client.js';
export type { SocketRefusalCode } from '../socket/socket-transport.js';

/** The event a socket receives, `{ reason }`, just before the library disconnects it. */
export const SESSION_END_EVENT = 'session_end';

type GatewayServerOptions = Partial<ServerOptions> & { namespace?: string; server?: Server } & SessionGatewayOptions;

/** How the library ends a socket.io socket: a `session_end` event, then a disconnect. One small object per socket. */
class IoChannel implements SocketChannel {
  constructor(private readonly socket: Socket) {}

  close(reason: SocketCloseReason): void {
    this.socket.emit(SESSION_END_EVENT, { reason });
    this.socket.disconnect(true);
  }
}

/**
 * Nest's `IoAdapter` with sessions: `app.useWebSocketAdapter(new SessionIoAdapter(app, options))`. Handshakes are
 * authenticated from the session cookie (refusals reach the client as `connect_error` with `data.code`), every
 * socket is a client of its session and a process, and sockets of a closed session are disconnected after a
 * `session_end` event (as is a socket that raced past its session's `maxClientsPerSession`, with the reason
 * `too_many_clients`).
 */
export class SessionIoAdapter extends IoAdapter {
  /** The session options of each root server, and the gateway `session` override they came from (see `create`). */
  private readonly rootSettings = new WeakMap<object, { session: SessionSocketOptions; from: SessionSocketOptions | undefined }>();

  constructor(
    private readonly app: INestApplicationContext,
    private readonly options: SessionSocketOptions = {},
  ) {
    super(app);
    checkSocketOptions(options);
  }

  override create(port: number, options?: GatewayServerOptions): Server | Namespace {
    const { session, rest } = splitGatewayOptions(this.options, options);
    // Fix: for a namespaced gateway that comes first, Nest creates the root server with that gateway's options (its
    // namespace removed), then calls again with `{ namespace, server }` and reuses the root server for every gateway
    // without a namespace. The gateway's `session` override (e.g. allowAnonymous, allowedOrigins) must not become the
    // root namespace's: when the second call shows that the root was made for this gateway, the root gets the
    // adapter's options back. Handshakes read `settings.session` when they happen, so the change applies.
    if (options?.namespace !== undefined && options.session !== undefined && options.server !== undefined) {
      const root = this.rootSettings.get(options.server);
      if (root !== undefined && root.from === options.session) root.session = this.options;
    }
    const settings = { session, from: options?.session };
    const server = super.create(port, rest as Parameters<IoAdapter['create']>[1]);
    if (options?.namespace === undefined) this.rootSettings.set(server as Server, settings);
    const bridge = GatewayBridge.of(this.app);
    server.use((socket, next) => {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      const processHint = auth?.process ?? socket.handshake.query.process;
      bridge
        .handshake(socket.request, processHint, settings.session, (result) => {
          if ('refused' in result) {
            next(Object.assign(new Error(result.message), { data: { code: result.refused, message: result.message } }));
            return;
          }
          SessionClient.attach(socket, result.client);
          next();
        })
        // A throw from socket.io's own `next` must not become an unhandled rejection (which ends the process).
        .catch((error: unknown) => logger.error(`socket.io handshake failed: ${describeError(error)}`));
    });
    return server;
  }

  override bindClientConnect(server: Server | Namespace, callback: (socket: Socket) => void): void {
    const bridge = GatewayBridge.of(this.app);
    // One listener for every socket (socket.io calls it with the socket as `this`, once: a socket disconnects once),
    // rather than a closure and a once-wrapper per socket.
    const onDisconnect = function (this: Socket): void {
      const client = SessionClient.of(this);
      if (client !== undefined) bridge.leave(client);
    };
    server.on('connection', (socket: Socket) => {
      const client = SessionClient.of(socket);
      if (client !== undefined) {
        bridge.join(client, new IoChannel(socket), () => socket.on('disconnect', onDisconnect));
        if (client.closed) return;
      }
      callback(socket);
    });
  }

  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    super.bindMessageHandlers(socket, GatewayBridge.of(this.app).withContext(socket, handlers), transform);
  }
}
