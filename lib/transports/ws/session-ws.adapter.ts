import { Logger, type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { GatewayBridge } from '../socket/gateway-bridge.js';
import { SessionClient, type SocketCloseReason } from '../clients/session-client.js';
import {
  checkSocketOptions,
  splitGatewayOptions,
  type SessionGatewayOptions,
  type SessionSocketOptions,
} from '../socket/session-socket.options.js';
import { REFUSAL_MESSAGES, type SocketRefusalCode } from '../socket/socket-transport.js';
import { describeError } from '../../util/describe-error.js';

export type { SessionSocketOptions, SessionGatewayOptions } from '../socket/session-socket.options.js';
export type { SocketCloseReason } from '../clients/session-client.js';
export type { SocketRefusalCode } from '../socket/socket-transport.js';

/** The close code of a socket whose session closed or expired; the close reason says which. */
export const SESSION_CLOSE_CODE = 4401;

/**
 * The close code of a socket opened past its session's `maxClientsPerSession` by handshakes that raced each other
 * (reason `too_many_clients`); a handshake that finds the session full gets an HTTP 429 instead.
 */
export const TOO_MANY_CLIENTS_CLOSE_CODE = 4429;

/** The HTTP status of a refused upgrade (`reauthenticate` refuses messages only, never a handshake). */
const STATUS: Record<SocketRefusalCode, number> = {
  unauthenticated: 401,
  forbidden: 403,
  reauthenticate: 401,
  origin_not_allowed: 403,
  store_unavailable: 503,
  csrf: 403,
  bad_request: 400,
  too_many_clients: 429,
};

const logger = new Logger('SessionWsAdapter');

type VerifyClient = (
  info: { origin: string; secure: boolean; req: IncomingMessage },
  callback: (verified: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
) => void;

/**
 * Nest's `WsAdapter` with sessions: `app.useWebSocketAdapter(new SessionWsAdapter(app, options))`. Refused upgrades
 * get a real HTTP 400, 401, 403, 429 or 503 (body and `x-session-refusal` header name the code); sockets of a closed
 * session are closed with code 4401 and the reason `session_closed` or `session_expired`; a socket that raced past
 * its session's `maxClientsPerSession` is closed with code 4429 and the reason `too_many_clients`.
 */
export class SessionWsAdapter extends WsAdapter {
  /** Upgrades that passed, until their socket exists. */
  private readonly admitted = new WeakMap<IncomingMessage, SessionClient>();

  constructor(
    private readonly app: INestApplicationContext,
    private readonly options: SessionSocketOptions = {},
  ) {
    super(app);
    checkSocketOptions(options);
  }

  override create(port: number, options?: Record<string, unknown> & SessionGatewayOptions): WebSocketServer {
    const { session, rest } = splitGatewayOptions(this.options, options);
    const bridge = GatewayBridge.of(this.app);
    // Two parameters: ws then waits for the callback (an asynchronous check). Nothing may throw out of here: for a
    // gateway on a port of its own, ws calls this from its `upgrade` listener, where a throw is an uncaught exception
    // that ends the process, HTTP included. A target that is no URL is refused with 400, any other failure with 500;
    // ws gets exactly one answer.
    const verifyClient: VerifyClient = (info, done) => {
      let answered = false;
      const answer: typeof done = (...args) => {
        if (answered) return;
        answered = true;
        try {
          done(...args);
        } catch (error) {
          logger.error(`WebSocket upgrade failed: ${describeError(error)}`);
          info.req.socket.destroy();
        }
      };
      const refuse = (code: SocketRefusalCode, message: string) => {
        const body = JSON.stringify({ code, message });
        // 'Content-Type' spelled as ws spells its own default ('text/html'), so that this one replaces it: in
        // lower case both went out, and clients kept the first (text/html) for a JSON body.
        answer(false, STATUS[code], body, { 'Content-Type': 'application/json', 'x-session-refusal': code });
      };
      const failed = (error: unknown) => {
        logger.error(`WebSocket upgrade refused after an error: ${describeError(error)}`);
        answer(false, 500);
      };
      try {
        const target = info.req.url ?? '/';
        if (!URL.canParse(target, 'http://localhost')) {
          refuse('bad_request', REFUSAL_MESSAGES.bad_request);
          return;
        }
        const processHint = new URL(target, 'http://localhost').searchParams.get('process');
        bridge
          .handshake(info.req, processHint, session, (result) => {
            if ('refused' in result) {
              refuse(result.refused, result.message);
              return;
            }
            this.admitted.set(info.req, result.client);
            answer(true);
          })
          .catch(failed);
      } catch (error) {
        failed(error);
      }
    };
    return super.create(port, { ...rest, verifyClient }) as WebSocketServer;
  }

  override bindClientConnect(server: WebSocketServer, callback: (socket: WebSocket, request: IncomingMessage) => void): void {
    const bridge = GatewayBridge.of(this.app);
    server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      const client = this.admitted.get(request);
      if (client !== undefined) {
        this.admitted.delete(request);
        SessionClient.attach(socket, client);
        const channel = {
          close: (reason: SocketCloseReason) =>
            socket.close(reason === 'too_many_clients' ? TOO_MANY_CLIENTS_CLOSE_CODE : SESSION_CLOSE_CODE, reason),
        };
        bridge.join(client, channel, (leave) => socket.once('close', leave));
        if (client.closed) return;
      }
      callback(socket, request);
    });
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    super.bindMessageHandlers(client, GatewayBridge.of(this.app).withContext(client, handlers), transform);
  }
}
