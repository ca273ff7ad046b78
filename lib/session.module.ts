import { Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { ProcessRegistry } from './context/process-registry.js';
import { installRequestScope } from './transports/http/request-scope.js';
import { SessionContext } from './context/session-context.js';
import { SessionContextMiddleware } from './transports/http/session-context.middleware.js';
import { SessionEventExplorer } from './events/session-event.explorer.js';
import { SessionEvents } from './events/session-events.js';
import { SessionGuard } from './guards/session.guard.js';
import { SessionValues } from './session/session-values.js';
import { SessionLifecycle } from './session/session-lifecycle.js';
import { ConfigurableSessionModule, SESSION_POLICY_OPTIONS } from './session.module-definition.js';
import { resolveSessionPolicy, type SessionPolicy } from './session-policy.js';
import { SessionService } from './session.service.js';
import { SESSION_POLICY, SESSION_STORE } from './session.tokens.js';
import { MemoryStore } from './stores/memory/memory.store.js';
import { SessionClients } from './transports/socket/session-clients.js';

/**
 * Sessions for the whole application (a global module): `SessionModule.forRoot(policy)` or
 * `SessionModule.forRootAsync({ imports, inject, useFactory })`. Installs the session guard globally and the context
 * middleware on every route, and provides {@link SessionService}.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: SESSION_POLICY, useFactory: resolveSessionPolicy, inject: [SESSION_POLICY_OPTIONS] },
    {
      provide: SESSION_STORE,
      useFactory: (options: SessionPolicy) => options.store ?? new MemoryStore(),
      inject: [SESSION_POLICY_OPTIONS],
    },
    SessionContext,
    SessionEvents,
    SessionEventExplorer,
    SessionLifecycle,
    SessionValues,
    SessionService,
    { provide: ProcessRegistry, useFactory: () => new ProcessRegistry() },
    SessionClients,
    SessionGuard,
    { provide: APP_GUARD, useExisting: SessionGuard },
  ],
  exports: [SessionService, SESSION_STORE, SESSION_POLICY],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly context: SessionContext,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    if (!installRequestScope(this.adapterHost.httpAdapter, this.context)) {
      consumer.apply(SessionContextMiddleware).forRoutes({ path: '*path', method: RequestMethod.ALL });
    }
  }
}
