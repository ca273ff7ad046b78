import {
  HttpException,
  HttpStatus,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { INTERCEPTORS_METADATA, SSE_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, HttpAdapterHost, MetadataScanner } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { Observable } from 'rxjs';
import { SessionContext } from '../../context/session-context.js';
import { PerServer, serverOf } from '../../util/per-server.js';
import { DEFAULT_MAX_CLIENTS_PER_SESSION, SessionClient, type SocketCloseReason } from '../clients/session-client.js';
import { SessionClients } from '../clients/session-clients.js';
import { SseTransport } from './sse-transport.js';

/** The name of a stream's last event when its session closes; its data is `{"reason": ...}`. */
export const SESSION_END_SSE_EVENT = 'session_end';

const byServer = new PerServer<SessionStreams>();

/**
 * The interceptor put on every `@Sse()` handler (and only there: a global one would cost every request Nest's
 * interceptor machinery). One object for the process, so that controller classes shared by several applications
 * (tests) carry it once; it hands each stream to the application whose server accepted the request.
 */
const SESSION_STREAM_INTERCEPTOR: NestInterceptor = {
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const streams = byServer.get(serverOf(execution.switchToHttp().getRequest()));
    return streams === undefined ? next.handle() : streams.stream(next.handle());
  },
};

/**
 * Server-Sent Events streams as clients of their session: a stream opened with a session joins the session's
 * clients (`client-connected` / `client-disconnected` with `transport: 'sse'`, `onNoClient`), follows it (the
 * request's context is updated each time the session is read again), and when the session closes, on any server,
 * sends a last `session_end` event with the reason and ends the response.
 */
@Injectable()
export class SessionStreams implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private server: unknown;
  /** The open streams' ends, so that shutdown can end them (the HTTP server waits for open responses). */
  private readonly open = new Set<() => void>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly clients: SessionClients,
    private readonly context: SessionContext,
  ) {}

  /** Puts the stream interceptor on every `@Sse()` handler; runs before Nest builds the routes. */
  install(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const prototype: unknown = (wrapper.metatype as { prototype?: unknown } | undefined)?.prototype;
      if (prototype === null || typeof prototype !== 'object') continue;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method: unknown = (prototype as Record<string, unknown>)[name];
        if (typeof method !== 'function' || Reflect.getMetadata(SSE_METADATA, method) !== true) continue;
        const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, method) as unknown[] | undefined) ?? [];
        if (interceptors.includes(SESSION_STREAM_INTERCEPTOR)) continue;
        // Innermost: the application's own interceptors wrap the stream, `session_end` and its completion included.
        Reflect.defineMetadata(INTERCEPTORS_METADATA, [...interceptors, SESSION_STREAM_INTERCEPTOR], method);
      }
    }
  }

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter?.getHttpServer();
    byServer.set(this.server, this);
  }

  /**
   * Ends every session stream before the HTTP server closes, without a `session_end` (the session lives on): an
   * EventSource reconnects, to another server behind a load balancer.
   */
  beforeApplicationShutdown(): void {
    for (const end of [...this.open]) end();
  }

  onApplicationShutdown(): void {
    byServer.delete(this.server, this);
  }

  /**
   * The handler's events, as a client of the request's session (when it has one; the guard has resolved it).
   * Past `maxClientsPerSession` live clients the stream is refused with a 429 before anything is sent.
   */
  stream(events: Observable<unknown>): Observable<unknown> {
    const context = this.context.current();
    const session = context?.session;
    if (context === undefined || session === undefined) return events;
    return new Observable<unknown>((subscriber) => {
      const processId = context.processId ?? randomBytes(12).toString('base64url');
      // Checked when the guard's read started: a session closed since then is refused at registration.
      const client = new SessionClient(
        new SseTransport(context.transport),
        processId,
        session,
        context.readAt,
        DEFAULT_MAX_CLIENTS_PER_SESSION,
      );
      if (!this.clients.hasRoom(client)) {
        subscriber.error(
          new HttpException(
            { statusCode: HttpStatus.TOO_MANY_REQUESTS, code: 'too_many_clients', message: 'Too many clients for this session' },
            HttpStatus.TOO_MANY_REQUESTS,
          ),
        );
        return;
      }
      client.onRefresh = (fresh) => context.adopt(fresh);
      const end = (reason: SocketCloseReason) => {
        // Whatever the stream's operators ask from now on sees no session.
        context.adopt(undefined);
        subscriber.next({ type: SESSION_END_SSE_EVENT, data: { reason } });
        subscriber.complete();
      };
      const shutdown = () => subscriber.complete();
      this.open.add(shutdown);
      this.clients.register(client, { close: end });
      const inner = client.closed ? undefined : events.subscribe(subscriber);
      return () => {
        this.open.delete(shutdown);
        inner?.unsubscribe();
        this.clients.unregister(client);
      };
    });
  }
}
