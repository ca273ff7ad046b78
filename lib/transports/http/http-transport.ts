import type { AbstractHttpAdapter } from '@nestjs/core';
import type { CookieAttributes, RefusalCode, SessionTransport } from '../../context/session-transport.js';
import { CsrfRejectedException } from '../../exceptions/csrf-rejected.exception.js';
import { NotConnectedException } from '../../exceptions/not-connected.exception.js';
import { PermissionDeniedException } from '../../exceptions/permission-denied.exception.js';
import { ReauthenticationRequiredException } from '../../exceptions/reauthentication-required.exception.js';
import { SessionDeniedException } from '../../exceptions/session-denied.exception.js';
import { SessionStoreUnavailableException } from '../../exceptions/session-store-unavailable.exception.js';
import type { ResolvedSessionPolicy } from '../../session-policy.js';
import { ownOrigin } from '../../util/origins.js';
import { GraphQLRefusalError } from './graphql-refusal.js';

/** The fields read from an Express or Fastify request; both frameworks honour their trust-proxy settings here. */
export interface FrameworkRequest {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
  protocol?: string;
  method?: string;
}

/** The HTTP side of {@link SessionTransport}, on Express or Fastify through Nest's own adapter. */
export class HttpTransport implements SessionTransport {
  readonly kind = 'http' as const;
  readonly canSetCookies = true;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(
    private readonly adapter: AbstractHttpAdapter,
    private readonly request: FrameworkRequest,
    private readonly response: unknown,
    /** `policy.denied`: the answer that replaces a 401/403. */
    private readonly denied: ResolvedSessionPolicy['denied'],
  ) {
    this.headers = request.headers;
  }

  // Read on demand: on Express both are getters that parse the trust-proxy headers, and a request without a
  // session cookie never needs them.
  get ip(): string | undefined {
    return this.request.ip;
  }

  get secure(): boolean {
    return this.request.protocol === 'https';
  }

  get method(): string | undefined {
    return this.request.method;
  }

  get ownOrigin(): string | undefined {
    return ownOrigin(this.headers.host, this.secure);
  }

  // After the headers went out (a streamed response) a cookie can no longer be set; the server-side state is
  // what counts, so the write is skipped rather than thrown.
  setCookie(name: string, value: string, options: CookieAttributes): void {
    if (!this.adapter.isHeadersSent(this.response)) this.adapter.setCookie(this.response, name, value, options);
  }

  clearCookie(name: string, options: CookieAttributes): void {
    if (!this.adapter.isHeadersSent(this.response)) this.adapter.clearCookie(this.response, name, options);
  }

  setHeader(name: string, value: string): void {
    if (!this.adapter.isHeadersSent(this.response)) this.adapter.setHeader(this.response, name, value);
  }

  /** A header of the response as it stands (whoever set it: the library, the handler, a middleware). */
  responseHeader(name: string): unknown {
    return this.adapter.getHeader(this.response, name);
  }

  // A GraphQL resolver is refused inside a 200 answer that carries the rest of the query: no redirect, no headers.
  // A CSRF refusal is never `policy.denied`'s answer either: a redirect to a login page would hide the attack; nor
  // is `reauthenticate`, which asks for the password again, not for a login.
  refuse(code: RefusalCode, message?: string, handler?: string): Error {
    if (handler === 'graphql') return new GraphQLRefusalError(code, message);
    if (code === 'store_unavailable') return new SessionStoreUnavailableException(message);
    if (code === 'csrf') return new CsrfRejectedException(message);
    if (code === 'reauthenticate') return new ReauthenticationRequiredException(message);
    if (this.denied !== undefined) {
      for (const [name, value] of Object.entries(this.denied.headers)) this.setHeader(name, value);
      return new SessionDeniedException(this.denied.status, this.denied.headers, code);
    }
    return code === 'unauthenticated' ? new NotConnectedException() : new PermissionDeniedException();
  }
}
