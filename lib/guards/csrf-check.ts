import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { LiveSession } from '../context/request-context.js';
import type { SessionTransport } from '../context/session-transport.js';
import type { ResolvedCsrfOptions } from '../csrf-policy.js';
import { CSRF_EXEMPT } from '../decorators/csrf-exempt.decorator.js';
import { CROSS_ORIGIN_MESSAGE, CSRF_TOKEN_MESSAGE } from '../exceptions/csrf-rejected.exception.js';
import { CsrfTokens } from '../session/csrf-tokens.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { originOf } from '../util/origins.js';

/**
 * The CSRF step of the guard's pipeline (`policy.csrf`): the origin check, then the token check. It reads only the
 * transport's facts (`method`, `headers`, `ownOrigin`), so the guard stays free of transports; transports where
 * CSRF does not apply (sockets, whose handshake has its own Origin rule) have no `method`.
 */
@Injectable()
export class CsrfCheck {
  private readonly options: ResolvedCsrfOptions | undefined;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: CsrfTokens,
    @Inject(SESSION_POLICY) policy: ResolvedSessionPolicy,
  ) {
    this.options = policy.csrf;
  }

  /**
   * Whether this request is checked: the defence is on, the request is an unsafe HTTP request (not GET, HEAD or
   * OPTIONS) and its handler is not `@CsrfExempt()`. A GET costs two string comparisons; the metadata is read for
   * unsafe requests only.
   */
  applies(transport: SessionTransport, execution: ExecutionContext): boolean {
    if (this.options === undefined) return false;
    const method = transport.method;
    if (method === undefined || method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
    return this.reflector.getAllAndOverride<true | undefined>(CSRF_EXEMPT, [execution.getHandler(), execution.getClass()]) !== true;
  }

  /**
   * Why a request that {@link applies} is refused (the message), or undefined when it passes. `session` is the
   * request's resolved session: only a request that carries one needs the token, since without a session cookie a
   * forged request acts as nobody.
   */
  refusal(transport: SessionTransport, session: LiveSession | undefined): string | undefined {
    const options = this.options;
    if (options === undefined) return undefined;
    if (!this.sameOrigin(transport, options)) return CROSS_ORIGIN_MESSAGE;
    if (options.token && session !== undefined && !this.tokens.verify(session.key, transport.headers[options.header])) {
      return CSRF_TOKEN_MESSAGE;
    }
    return undefined;
  }

  /**
   * What the browser says of the request's initiator. `Sec-Fetch-Site` first: the browser computes it and no page
   * can set it, and it still holds behind a proxy that rewrites `Host`. Without it (older browsers; browsers send
   * it to HTTPS and localhost origins only), `Origin` against the request's own origin, the one the WebSocket
   * handshake's rule uses. Neither header: not a browser, which no other site can drive.
   */
  private sameOrigin(transport: SessionTransport, options: ResolvedCsrfOptions): boolean {
    const headers = transport.headers;
    const site = headers['sec-fetch-site'];
    if (site === 'same-origin' || site === 'none') return true;
    const given = headers.origin;
    const origin = given === undefined ? undefined : originOf(given);
    const trusted = origin !== undefined && options.trustedOrigins.includes(origin);
    if (site === 'cross-site' || site === 'same-site') return trusted;
    if (given === undefined) return true;
    // An opaque origin ('null': a sandboxed frame, a data: URL, a cross-site redirect) or an unreadable one.
    if (origin === undefined || origin === 'null') return false;
    return trusted || origin === transport.ownOrigin;
  }
}
