import { Logger, type INestApplicationContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { DiscoveryService } from '@nestjs/core';
import { WsException, type MessageMappingProperties } from '@nestjs/websockets';
import { GATEWAY_METADATA } from '@nestjs/websockets/constants';
import { describeError } from '../../util/describe-error.js';
import { SessionClient, type SocketChannel } from '../clients/session-client.js';
import type { SessionSocketOptions } from './session-socket.options.js';
import type { HandshakeResult } from './socket-handshake.js';
import { SocketSessions } from './socket-sessions.js';
import type { SocketRefusalCode } from './socket-transport.js';

type Callback = MessageMappingProperties['callback'];

const logger = new Logger('SessionSockets');
const bridges = new WeakMap<INestApplicationContext, GatewayBridge>();

/**
 * What both WebSocket adapters share: the handshake, the client registry, the refusal a message gets, the context
 * of each message (built here, where the socket is at hand), and gateway hooks that cannot take the process down.
 */
export class GatewayBridge {
  private readonly sessions: SocketSessions;

  private constructor(app: INestApplicationContext) {
    try {
      this.sessions = app.get(SocketSessions, { strict: false });
    } catch {
      throw new Error('nestjs-connected: the session WebSocket adapters need SessionModule.forRoot() in the application');
    }
    protectGateways(app.get(DiscoveryService, { strict: false }));
  }

  /** One bridge per application, made when the first gateway server is created (the container is ready by then). */
  static of(app: INestApplicationContext): GatewayBridge {
    let bridge = bridges.get(app);
    if (bridge === undefined) bridges.set(app, (bridge = new GatewayBridge(app)));
    return bridge;
  }

  /** A refused message: the client gets an `exception` event with this payload, and the socket stays open. */
  readonly refusal = (code: SocketRefusalCode, message: string): Error => new WsException({ status: 'error', code, message });

  /**
   * Admits a handshake (with this bridge's refusal for the socket's later messages) and hands the outcome to
   * `answer`. The per-session cap is checked in the same turn as `answer` runs, so that an adapter whose socket
   * registers synchronously on a positive answer (ws) refuses every socket past the cap with a clean
   * `too_many_clients`; where the socket registers later (socket.io, a tick after), `SessionClients.register` holds
   * the exact bound. Rejects only when `answer` throws.
   */
  async handshake(
    request: IncomingMessage,
    processHint: unknown,
    options: SessionSocketOptions,
    answer: (result: HandshakeResult) => void,
  ): Promise<void> {
    const result = await this.sessions.admit(request, processHint, options, this.refusal);
    answer(this.sessions.withRoom(result));
  }

  /** A socket whose handshake passed is open; see {@link SocketSessions.join} (gateways sharing a server join once). */
  join(client: SessionClient, channel: SocketChannel, whenClosed: (leave: () => void) => void): void {
    this.sessions.join(client, channel, whenClosed);
  }

  /** A joined socket closed; see {@link SocketSessions.leave}. */
  leave(client: SessionClient): void {
    this.sessions.leave(client);
  }

  /**
   * Each message of `socket` runs in an AsyncLocalStorage slot of its own holding the message's context (none for
   * a socket that did not pass a session handshake), which the guard, the decorators and `SessionService` read.
   */
  withContext(socket: object, handlers: MessageMappingProperties[]): MessageMappingProperties[] {
    return handlers.map((handler) => ({ ...handler, callback: inContext(this.sessions, socket, handler.callback) }));
  }
}

/**
 * `callback` run in the context of each message of `socket`. A function of its own so that the wrapper, which lives
 * as long as the socket, keeps only what it needs (not the handler objects, which the adapter drops after binding).
 */
function inContext(sessions: SocketSessions, socket: object, callback: Callback): Callback {
  const call = callback as (...a: unknown[]) => ReturnType<Callback>;
  return ((...args: unknown[]) => sessions.run(SessionClient.of(socket), () => call(...args))) as Callback;
}

/**
 * Guards do not run on `handleConnection`, and Nest calls it from an RxJS subscriber: a throw there, or a rejected
 * promise, would surface as an uncaught exception and end the process. Each gateway's hooks are wrapped once.
 */
function protectGateways(discovery: DiscoveryService): void {
  for (const wrapper of discovery.getProviders()) {
    // Nest types a provider's instance as any: it is checked below before use.
    const instance: unknown = wrapper.instance;
    const { metatype } = wrapper;
    if (instance === null || typeof instance !== 'object' || typeof metatype !== 'function') continue;
    if (!Reflect.getMetadata(GATEWAY_METADATA, metatype)) continue;
    for (const hook of ['handleConnection', 'handleDisconnect'] as const) {
      const gateway = instance as Record<string, unknown>;
      const original = gateway[hook];
      if (typeof original !== 'function' || (original as { [PROTECTED]?: true })[PROTECTED]) continue;
      const safe = function (this: unknown, ...args: unknown[]): unknown {
        const fail = (error: unknown) => logger.error(`${metatype.name}.${hook} failed: ${describeError(error)}`);
        try {
          const result: unknown = (original as (...a: unknown[]) => unknown).apply(this, args);
          if (result instanceof Promise) return result.catch(fail);
          return result;
        } catch (error) {
          fail(error);
          return undefined;
        }
      };
      Object.defineProperty(safe, PROTECTED, { value: true });
      gateway[hook] = safe;
    }
  }
}

const PROTECTED = Symbol('nestjs-connected:protected');
