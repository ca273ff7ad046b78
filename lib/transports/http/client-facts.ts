import type { HttpServer } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** What a request says about its client: the address `bindIp` and `check` see, and whether it came over HTTPS. */
export interface ClientFacts {
  readonly ip: string | undefined;
  readonly secure: boolean;
}

/** The two getters both frameworks define on their request prototypes, honouring their trust-proxy settings. */
interface FrameworkView {
  readonly ip?: unknown;
  readonly protocol?: unknown;
}

/**
 * The client facts of a raw request (a WebSocket upgrade, which never goes through Express or Fastify routing),
 * exactly as the application's HTTP framework answers them for a routed request: `req.ip` and
 * `req.protocol === 'https'`, under its own trust-proxy setting.
 *
 * Why one place: the session cookie's name (`__Host-` when secure) and `bindIp` depend on these facts. When the
 * sockets decided them from the TCP connection while HTTP honoured `X-Forwarded-*`, a socket behind a
 * TLS-terminating proxy looked for another cookie than the one HTTP had set (refusing the real one and accepting a
 * plain `sid` planted by someone else), and saw another address (so `bindIp` ended the user's session). The
 * framework's own getters are reused rather than a second reading of the proxy headers, so the two cannot drift.
 *
 * Express: an object made from `app.request` (its documented request prototype) with the raw request's `headers`
 * and `socket`. Fastify: one made from the instance's request class (the one built for its `trustProxy`) with the
 * raw request as `raw`. Other platforms, or a framework that does not look as expected: the TCP facts. The
 * returned function never throws.
 */
export function clientFactsOf(adapter: HttpServer | undefined): (request: IncomingMessage) => ClientFacts {
  let view: ((request: IncomingMessage) => FrameworkView) | undefined;
  try {
    view = frameworkView(adapter);
  } catch {
    view = undefined;
  }
  if (view === undefined) return tcpFacts;
  const seen = view;
  return (request) => {
    try {
      const { ip, protocol } = seen(request);
      return { ip: typeof ip === 'string' ? ip : undefined, secure: protocol === 'https' };
    } catch {
      return tcpFacts(request);
    }
  };
}

/** How to see a raw request through the framework's request prototype; undefined when it cannot be found. */
function frameworkView(adapter: HttpServer | undefined): ((request: IncomingMessage) => FrameworkView) | undefined {
  const instance: unknown = adapter?.getInstance();
  if (typeof instance !== 'object' && typeof instance !== 'function') return undefined;
  if (instance === null) return undefined;
  switch (adapter?.getType()) {
    case 'express': {
      // express/lib/request.js: `ip` and `protocol` read `this.app.get('trust proxy fn')` (through the prototype's
      // `app`), `this.socket` and `this.headers`.
      const prototype: unknown = (instance as { request?: unknown }).request;
      if (typeof prototype !== 'object' || prototype === null) return undefined;
      return (request) =>
        Object.create(prototype, { headers: { value: request.headers }, socket: { value: request.socket } }) as FrameworkView;
    }
    case 'fastify': {
      // fastify/lib/request.js: the class under `Symbol('fastify.Request')` has getters for `ip` and `protocol`
      // that read `this.raw` (its socket and headers) and, with `trustProxy`, the X-Forwarded-* headers.
      const key = Object.getOwnPropertySymbols(instance).find((symbol) => symbol.description === 'fastify.Request');
      const requestClass: unknown = key === undefined ? undefined : (instance as Record<symbol, unknown>)[key];
      const prototype: unknown = typeof requestClass === 'function' ? (requestClass as { prototype?: unknown }).prototype : undefined;
      if (typeof prototype !== 'object' || prototype === null) return undefined;
      return (request) => Object.create(prototype, { raw: { value: request } }) as FrameworkView;
    }
    default:
      return undefined;
  }
}

/** The facts of the TCP connection alone: no proxy is trusted. */
function tcpFacts(request: IncomingMessage): ClientFacts {
  try {
    const socket = request.socket as Partial<TLSSocket> | null | undefined;
    return { ip: socket?.remoteAddress, secure: socket?.encrypted === true };
  } catch {
    return { ip: undefined, secure: false };
  }
}
