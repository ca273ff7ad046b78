import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import { GatewayBridge } from '../gateway-bridge.js';
import { SessionClient } from '../session-client.js';
import { splitGatewayOptions, type SessionGatewayOptions, type SessionSocketOptions } from '../session-socket.options.js';

export type { SessionSocketOptions, SessionGatewayOptions } from '../session-socket.options.js';
export type { SocketCloseReason } from '../session-client.js';
export type { SocketRefusalCode } from '../socket-transport.js';

/** The event a socket receives, `{ reason }`, just before the library disconnects it. */
export const SESSION_END_EVENT = 'session_end';

type GatewayServerOptions = Partial<ServerOptions> & { namespace?: string; server?: Server } & SessionGatewayOptions;

/**
 * Nest's `IoAdapter` with sessions: `app.useWebSocketAdapter(new SessionIoAdapter(app, options))`. Handshakes are
 * authenticated from the session cookie (refusals reach the client as `connect_error` with `data.code`), every
 * socket is a client of its session and a process, and sockets of a closed session are disconnected after a
 * `session_end` event.
 */
export class SessionIoAdapter extends IoAdapter {
  constructor(
    private readonly app: INestApplicationContext,
    private readonly options: SessionSocketOptions = {},
  ) {
    super(app);
  }

  override create(port: number, options?: GatewayServerOptions): Server | Namespace {
    const { session, rest } = splitGatewayOptions(this.options, options);
    const server = super.create(port, rest as Parameters<IoAdapter['create']>[1]) as Server | Namespace;
    const bridge = GatewayBridge.of(this.app);
    server.use((socket, next) => {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      const processHint = auth?.process ?? socket.handshake.query.process;
      void bridge.clients.handshake(socket.request, processHint, session, bridge.refusal).then((result) => {
        if ('refused' in result) {
          next(Object.assign(new Error(result.message), { data: { code: result.refused, message: result.message } }));
          return;
        }
        SessionClient.attach(socket, result.client);
        next();
      });
    });
    return server;
  }

  override bindClientConnect(server: Server | Namespace, callback: (socket: Socket) => void): void {
    const bridge = GatewayBridge.of(this.app);
    server.on('connection', (socket: Socket) => {
      const client = SessionClient.of(socket);
      if (client !== undefined) {
        socket.once('disconnect', () => bridge.clients.unregister(client));
        bridge.clients.register(client, {
          close: (reason) => {
            socket.emit(SESSION_END_EVENT, { reason });
            socket.disconnect(true);
          },
        });
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
    super.bindMessageHandlers(socket, GatewayBridge.of(this.app).withContext(handlers), transform);
  }
}
