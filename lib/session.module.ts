import { Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { ProcessRegistry } from './context/process-registry.js';
import { SessionContext } from './context/session-context.js';
import { SessionEventExplorer } from './events/session-event.explorer.js';
import { SessionEvents } from './events/session-events.js';
import { CsrfCheck } from './guards/csrf-check.js';
import { FieldResolverGuards } from './guards/field-resolver-guards.js';
import { SessionGuard } from './guards/session.guard.js';
import { CsrfTokens } from './session/csrf-tokens.js';
import { LocalValues } from './session/local-values.js';
import { SessionCloser } from './session/session-closer.js';
import { SessionConnection } from './session/session-connection.js';
import { SessionCookie } from './session/session-cookie.js';
import { SessionDisconnectAll } from './session/session-disconnect-all.js';
import { SessionGroups } from './session/session-groups.js';
import { SessionImpersonation } from './session/session-impersonation.js';
import { SessionLog } from './session/session-log.js';
import { SessionOpener } from './session/session-opener.js';
import { SessionReauthentication } from './session/session-reauthentication.js';
import { SessionResolver } from './session/session-resolver.js';
import { SessionSigner } from './session/session-signer.js';
import { SessionValues } from './session/session-values.js';
import { VERIFIED_COOKIES, VerifiedCookies } from './session/verified-cookies.js';
import { ConfigurableSessionModule, SESSION_POLICY_OPTIONS } from './session.module-definition.js';
import { resolveSessionPolicy, type ResolvedSessionPolicy, type SessionPolicy } from './session-policy.js';
import { SessionService } from './session.service.js';
import { SESSION_POLICY, SESSION_STORE } from './session.tokens.js';
import { MemoryStore } from './stores/memory/memory.store.js';
import type { SessionStore } from './stores/session-store.js';
import { TimedStore } from './stores/timed-store.js';
import { HttpRequestScope } from './transports/http/http-request-scope.js';
import { SessionContextMiddleware } from './transports/http/session-context.middleware.js';
import { SessionClients } from './transports/clients/session-clients.js';
import { SessionStreams } from './transports/sse/session-streams.js';
import { SocketFreshness } from './transports/socket/socket-freshness.js';
import { SocketHandshake } from './transports/socket/socket-handshake.js';
import { SocketSessions } from './transports/socket/socket-sessions.js';

/**
 * Sessions for the whole application (a global module): `SessionModule.forRoot(policy)` or
 * `SessionModule.forRootAsync({ imports, inject, useFactory })`. Installs the session guard globally and opens every
 * HTTP request's context, and provides {@link SessionService}.
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
    {
      provide: TimedStore,
      useFactory: (store: SessionStore, policy: ResolvedSessionPolicy) => new TimedStore(store, policy.storeTimeoutMs),
      inject: [SESSION_STORE, SESSION_POLICY],
    },
    {
      provide: SessionSigner,
      useFactory: (policy: ResolvedSessionPolicy) => new SessionSigner(policy.secrets),
      inject: [SESSION_POLICY],
    },
    {
      provide: CsrfTokens,
      useFactory: (policy: ResolvedSessionPolicy) => new CsrfTokens(policy.secrets),
      inject: [SESSION_POLICY],
    },
    { provide: LocalValues, useFactory: () => new LocalValues() },
    { provide: VerifiedCookies, useFactory: () => new VerifiedCookies(VERIFIED_COOKIES) },
    { provide: ProcessRegistry, useFactory: () => new ProcessRegistry() },
    SessionLog,
    SessionCookie,
    SessionContext,
    SessionEvents,
    SessionEventExplorer,
    SessionCloser,
    SessionResolver,
    SessionOpener,
    SessionConnection,
    SessionDisconnectAll,
    SessionReauthentication,
    SessionImpersonation,
    SessionValues,
    SessionGroups,
    SessionService,
    HttpRequestScope,
    SessionClients,
    SocketHandshake,
    SocketFreshness,
    SocketSessions,
    SessionStreams,
    CsrfCheck,
    SessionGuard,
    FieldResolverGuards,
    { provide: APP_GUARD, useExisting: SessionGuard },
  ],
  exports: [SessionService, SESSION_STORE, SESSION_POLICY],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule {
  constructor(
    private readonly scope: HttpRequestScope,
    private readonly streams: SessionStreams,
  ) {
    super();
  }

  // Runs while Nest registers middleware, after every module is scanned and before the routes are built.
  configure(consumer: MiddlewareConsumer): void {
    this.streams.install();
    if (!this.scope.install()) {
      consumer.apply(SessionContextMiddleware).forRoutes({ path: '*path', method: RequestMethod.ALL });
    }
  }
}
