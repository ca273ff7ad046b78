import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { HttpTransport } from '../transports/http/http-transport.js';
import { processIdFrom, ProcessRegistry } from '../context/process-registry.js';
import { RequestContext, type Eventually, type LiveSession } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import { CONNECTED, type ConnectedOptions } from '../decorators/connected.decorator.js';
import { SessionEvents } from '../events/session-events.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import { PermissionDeniedException } from '../exceptions/permission-denied.exception.js';
import { SessionDeniedException } from '../exceptions/session-denied.exception.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import { SessionValues } from '../session/session-values.js';
import { SessionLifecycle } from '../session/session-lifecycle.js';
import { SessionClient } from '../transports/socket/session-client.js';
import { SessionClients } from '../transports/socket/session-clients.js';
import { REFUSAL_MESSAGES, SocketTransport } from '../transports/socket/socket-transport.js';
import { inGroups } from '../session/session-groups.js';

/**
 * Installed globally by `SessionModule`: runs the per-request pipeline of DESIGN.md §3 on every handler (session
 * check, `request`, `start-process`, then the `@Connected` decision and its events).
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly lifecycle: SessionLifecycle,
    private readonly data: SessionValues,
    private readonly events: SessionEvents,
    private readonly context: SessionContext,
    private readonly adapterHost: HttpAdapterHost,
    private readonly processes: ProcessRegistry,
    private readonly clients: SessionClients,
  ) {}

  canActivate(execution: ExecutionContext): Promise<boolean> | boolean {
    const options = this.reflector.getAllAndOverride<ConnectedOptions | undefined>(CONNECTED, [
      execution.getHandler(),
      execution.getClass(),
    ]);
    if (execution.getType() !== 'http') {
      // Gateways get their sockets' sessions from the WebSocket adapters; without one, a guarded handler is refused.
      const client = SessionClient.of(execution.switchToWs().getClient());
      if (client !== undefined) {
        const context = this.clients.messageContext(client);
        const admitted = this.context.run(context, () => this.admit(context, options));
        // A sick store only ever reaches here as a rejection (admit turns a throwing read into one).
        if (!(admitted instanceof Promise)) return admitted;
        return admitted.catch((error: unknown) => {
          throw error instanceof SessionStoreUnavailableException
            ? client.transport.refusal('store_unavailable', error.message)
            : error;
        });
      }
      if (options === undefined) return true;
      throw new NotConnectedException();
    }
    const http = execution.switchToHttp();
    const request = http.getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const transport = new HttpTransport(this.adapterHost.httpAdapter, request, http.getResponse());
    const context = new RequestContext(
      transport,
      processIdFrom(request.headers[this.lifecycle.policy.processHeader]),
      this.data,
    );
    SessionContext.attach(request, context);
    return this.context.run(context, () => this.admit(context, options));
  }

  /**
   * The pipeline for one request or message whose context exists. Synchronous in the common case (the session is
   * known at once, nobody listens to events, no groups to look up), since Nest then needs no promise either.
   */
  admit(context: RequestContext, options: ConnectedOptions | undefined): Promise<boolean> | boolean {
    let found: Eventually<LiveSession | undefined>;
    try {
      found = this.lifecycle.currentNow(context);
    } catch (error) {
      found = Promise.reject(error);
    }
    if (found instanceof Promise || this.events.active() || hasGroups(options)) {
      return this.admitWithAwaits(context, options, found);
    }
    if (context.processId !== undefined) this.processes.isNew(context.processId);
    if (found?.record.userId !== undefined || options === undefined || options.optional) return true;
    throw this.refusal(context, 'unauthenticated');
  }

  /** The whole pipeline, with its events and group look-ups. */
  private async admitWithAwaits(
    context: RequestContext,
    options: ConnectedOptions | undefined,
    found: Eventually<LiveSession | undefined>,
  ): Promise<boolean> {
    let session: LiveSession | undefined;
    try {
      session = await found;
    } catch (error) {
      // A public handler goes on without a session when the store is sick; one that needs it gets the 503.
      if (options !== undefined || !(error instanceof SessionStoreUnavailableException)) throw error;
    }
    const userId = session?.record.userId;
    const process = context.processId;
    const newProcess = process !== undefined && this.processes.isNew(process);
    // With no hook and no subscriber (the common case), no event is built and no extra await is paid.
    const base = this.events.active() ? eventBase(context, session) : undefined;
    if (base !== undefined) {
      await this.events.emit({ type: 'request', ...base });
      if (newProcess) {
        await this.events.emit({ type: 'start-process', ...base, process });
        await this.events.emit(
          userId === undefined
            ? { type: 'start-unconnected-process', ...base, process }
            : { type: 'start-connected-process', ...base, userId },
        );
      }
    }
    if (userId === undefined) {
      if (options === undefined || options.optional) {
        if (base !== undefined) await this.events.emit({ type: 'unconnected-request', ...base });
        return true;
      }
      if (base !== undefined) await this.events.emit({ type: 'denied-request', ...base, reason: 'not-connected' });
      throw this.refusal(context, 'unauthenticated');
    }
    if (options !== undefined && hasGroups(options)) {
      if (!(await inGroups(this.lifecycle.policy, this.lifecycle.logger, context, userId, options))) {
        if (base !== undefined) await this.events.emit({ type: 'denied-request', ...base, reason: 'forbidden' });
        throw this.refusal(context, 'forbidden');
      }
    }
    if (base !== undefined) await this.events.emit({ type: 'connected-request', ...base, userId });
    return true;
  }

  private refusal(context: RequestContext, code: 'unauthenticated' | 'forbidden'): Error {
    const { transport } = context;
    if (transport instanceof SocketTransport) {
      return transport.refusal(code, REFUSAL_MESSAGES[code]);
    }
    const denied = this.lifecycle.policy.denied;
    if (denied !== undefined) {
      for (const [name, value] of Object.entries(denied.headers)) context.transport.setHeader(name, value);
      return new SessionDeniedException(denied.status, denied.headers, code);
    }
    return code === 'unauthenticated' ? new NotConnectedException() : new PermissionDeniedException();
  }
}

function hasGroups(options: ConnectedOptions | undefined): boolean {
  return options !== undefined && (options.allow !== undefined || options.deny !== undefined);
}

/** The fields every request event shares. */
function eventBase(context: RequestContext, session: LiveSession | undefined) {
  const userId = session?.record.userId;
  return {
    transport: context.transport.kind,
    ...(userId === undefined ? {} : { userId }),
    ...(session === undefined ? {} : { session: session.key }),
    ...(context.processId === undefined ? {} : { process: context.processId }),
  };
}
