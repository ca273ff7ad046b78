import { Logger, type INestApplicationContext } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { WsException, type MessageMappingProperties } from '@nestjs/websockets';
import { GATEWAY_METADATA } from '@nestjs/websockets/constants';
import { SessionContext } from '../../context/session-context.js';
import { describeError } from '../../util/describe-error.js';
import type { SessionClient, SocketChannel } from './session-client.js';
import { SessionClients } from './session-clients.js';
import type { SocketRefusalCode } from './socket-transport.js';

type Callback = MessageMappingProperties['callback'];

const logger = new Logger('SessionSockets');
const bridges = new WeakMap<INestApplicationContext, GatewayBridge>();

/**
 * What both WebSocket adapters share: the application's client registry and context, the refusal a message gets,
 * the AsyncLocalStorage slot around each message, and gateway hooks that cannot take the process down.
 */
export class GatewayBridge {
  readonly clients: SessionClients;
  private readonly context: SessionContext;

  private constructor(app: INestApplicationContext) {
    try {
      this.clients = app.get(SessionClients, { strict: false });
      this.context = app.get(SessionContext, { strict: false });
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
   * A socket whose handshake passed is open: it joins the registry once, however many gateways share its server
   * (each binds a connection listener of its own), and leaves it when `whenClosed` reports the socket closed.
   */
  join(client: SessionClient, channel: SocketChannel, whenClosed: (leave: () => void) => void): void {
    if (client.channel !== undefined) return;
    whenClosed(() => this.clients.unregister(client));
    this.clients.register(client, channel);
  }

  /** Each message runs in an AsyncLocalStorage slot of its own, which the guard fills with the message's context. */
  withContext(handlers: MessageMappingProperties[]): MessageMappingProperties[] {
    return handlers.map((handler) => ({
      ...handler,
      callback: ((...args: unknown[]) =>
        this.context.open(() => (handler.callback as (...a: unknown[]) => ReturnType<Callback>)(...args))) as Callback,
    }));
  }
}

/**
 * Guards do not run on `handleConnection`, and Nest calls it from an RxJS subscriber: a throw there, or a rejected
 * promise, would surface as an uncaught exception and end the process. Each gateway's hooks are wrapped once.
 */
function protectGateways(discovery: DiscoveryService): void {
  for (const wrapper of discovery.getProviders()) {
    const { instance, metatype } = wrapper;
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
