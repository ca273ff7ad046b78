import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { processIdFrom } from '../../context/process-registry.js';
import { RequestContext } from '../../context/request-context.js';
import type { RefusalCode } from '../../context/session-transport.js';
import { SessionStoreUnavailableException } from '../../exceptions/session-store-unavailable.exception.js';
import { hasGroups, SessionGroups } from '../../session/session-groups.js';
import { SessionLog } from '../../session/session-log.js';
import { SessionResolver } from '../../session/session-resolver.js';
import { SessionValues } from '../../session/session-values.js';
import { describeError } from '../../util/describe-error.js';
import { DEFAULT_MAX_CLIENTS_PER_SESSION, SessionClient } from '../clients/session-client.js';
import { clientFactsOf, type ClientFacts } from '../http/client-facts.js';
import { isOriginAllowed } from './origin-check.js';
import type { SessionSocketOptions } from './session-socket.options.js';
import { REFUSAL_MESSAGES, SocketTransport, type SocketRefusalCode } from './socket-transport.js';

/** A handshake's outcome: a client to attach to the socket, or why not. */
export type HandshakeResult = { readonly client: SessionClient } | { readonly refused: SocketRefusalCode; readonly message: string };

/**
 * Admits a WebSocket handshake with the checks of an HTTP request (the resolver's: signature, store, expiry,
 * `bindIp`, `check`), then the origin, anonymity and group rules of the adapter. The cookie name, the "secure"
 * decision and the client address come from the HTTP framework's own trust-proxy setting, as for HTTP.
 */
@Injectable()
export class SocketHandshake {
  /** Made at the first handshake: the host has the HTTP adapter once the application exists. */
  private facts: ((request: IncomingMessage) => ClientFacts) | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly resolver: SessionResolver,
    private readonly groups: SessionGroups,
    private readonly values: SessionValues,
    private readonly log: SessionLog,
  ) {}

  /** Never throws: every failure is a refusal with a code. */
  async admit(
    request: IncomingMessage,
    processHint: unknown,
    options: SessionSocketOptions,
    refusal: (code: RefusalCode, message: string) => Error,
  ): Promise<HandshakeResult> {
    try {
      this.facts ??= clientFactsOf(this.adapterHost.httpAdapter);
      const facts = this.facts(request);
      if (!isOriginAllowed(request.headers, options.allowedOrigins, facts.secure)) return refused('origin_not_allowed');
      // `clientIp` (an explicit override of the adapter's options) replaces the address, after the origin passed.
      const address = options.clientIp === undefined ? facts : { ip: options.clientIp(request), secure: facts.secure };
      const transport = new SocketTransport(request, address, refusal);
      const processId = processIdFrom(typeof processHint === 'string' ? processHint : undefined) ?? newProcessId();
      const context = new RequestContext(transport, processId, this.values);
      const readAt = Date.now();
      const session = await this.resolver.current(context);
      const userId = session?.record.userId;
      if (userId === undefined) {
        if (options.allowAnonymous !== true) return refused('unauthenticated');
      } else if (hasGroups(options) && !(await this.groups.admits(context, userId, options))) {
        return refused('forbidden');
      }
      const maxClients = options.maxClientsPerSession ?? DEFAULT_MAX_CLIENTS_PER_SESSION;
      return { client: new SessionClient(transport, processId, session, readAt, maxClients) };
    } catch (error) {
      if (error instanceof SessionStoreUnavailableException) return refused('store_unavailable');
      this.log.error(`WebSocket handshake refused after an error: ${describeError(error)}`);
      return refused('unauthenticated');
    }
  }
}

/** The refusal of a handshake, with its words. */
export function refused(code: SocketRefusalCode): HandshakeResult {
  return { refused: code, message: REFUSAL_MESSAGES[code] };
}

function newProcessId(): string {
  return randomBytes(12).toString('base64url');
}
