import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost, type AbstractHttpAdapter } from '@nestjs/core';
import { processIdFrom } from '../../context/process-registry.js';
import { RequestContext } from '../../context/request-context.js';
import { SessionContext, type ContextOpener } from '../../context/session-context.js';
import type { ResolvedSessionPolicy } from '../../session-policy.js';
import { SESSION_POLICY } from '../../session.tokens.js';
import { NO_STORE } from '../../session/session-cookie.js';
import { SessionValues } from '../../session/session-values.js';
import { forbidsStoring, skipETagsOfUnstored, type ExpressSettings } from './express-etags.js';
import { HttpTransport, type FrameworkRequest } from './http-transport.js';

type Next = (error?: unknown) => void;

interface ExpressLike extends ExpressSettings {
  use(handler: (request: unknown, response: unknown, next: Next) => void): unknown;
}

interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: unknown, reply: unknown, done: Next) => void): unknown;
}

/**
 * The HTTP transport's entry: opens every request's AsyncLocalStorage slot, whose context (an {@link HttpTransport}
 * on the framework's request and response) is built when something first asks for it. Everything that runs for the
 * request after this (guards, pipes, interceptors, GraphQL resolvers, the handler and the providers it calls)
 * sees the same context.
 */
@Injectable()
export class HttpRequestScope implements ContextOpener {
  /** The application's HTTP adapter: the host has it once the application exists, not when this is built. */
  private adapter!: AbstractHttpAdapter;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly context: SessionContext,
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly values: SessionValues,
  ) {}

  /**
   * Opens the slot in the framework itself (Express `app.use`, Fastify `onRequest`), ahead of the routes: a Nest
   * middleware on every route would do the same through path matching and wrappers that cost about a tenth of a
   * small request's time. On Express, a response marked `no-store` also gets no ETag (express-etags.ts). Returns
   * false for other platforms, which get the Nest middleware instead.
   *
   * Called while Nest registers middleware, which is after the body parsers and before the routes.
   */
  install(): boolean {
    this.adapter = this.adapterHost.httpAdapter;
    switch (this.adapter?.getType()) {
      case 'express': {
        const app = this.adapter.getInstance<ExpressLike>();
        app.use((request, response, next) => this.open(request, response, next));
        skipETagsOfUnstored(app, () => this.unstored());
        return true;
      }
      case 'fastify':
        this.adapter.getInstance<FastifyLike>().addHook('onRequest', (request, reply, done) => this.open(request, reply, done));
        return true;
      default:
        return false;
    }
  }

  /** Runs `next` (the rest of the request) in the request's slot. */
  open(request: unknown, response: unknown, next: Next): void {
    this.context.open(this, request, response, next);
  }

  /** The current request's response says `Cache-Control: no-store` (the guard's answer to a connected request). */
  private unstored(): boolean {
    const transport = this.context.current()?.transport;
    return transport instanceof HttpTransport && forbidsStoring(transport.responseHeader(NO_STORE[0]));
  }

  contextOf(request: unknown, response: unknown): RequestContext {
    const framework = request as FrameworkRequest;
    const transport = new HttpTransport(this.adapter, framework, response, this.policy.denied);
    return new RequestContext(transport, processIdFrom(framework.headers[this.policy.processHeader]), this.values);
  }
}
