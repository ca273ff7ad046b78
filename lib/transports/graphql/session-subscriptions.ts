import { Logger } from '@nestjs/common';
import type { GraphQLWsSubscriptionsConfig } from '@nestjs/graphql';
import { execute, subscribe, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Context, ServerOptions } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { GraphQLRefusalError } from '../http/graphql-refusal.js';
import { SessionClient, type SocketCloseReason } from '../clients/session-client.js';
import { splitGatewayOptions, type SessionSocketOptions } from '../socket/session-socket.options.js';
import { SocketSessions } from '../socket/socket-sessions.js';
import type { SocketRefusalCode } from '../socket/socket-transport.js';
import { describeError } from '../../util/describe-error.js';
import { inContexts } from './in-contexts.js';

export type { SessionSocketOptions } from '../socket/session-socket.options.js';
export type { SocketCloseReason } from '../clients/session-client.js';
export type { SocketRefusalCode } from '../socket/socket-transport.js';
export { GraphQLRefusalError, GRAPHQL_REFUSAL_CODES } from '../http/graphql-refusal.js';

/** The close code of a subscription connection whose session closed or expired; the reason says which. */
export const SESSION_CLOSE_CODE = 4401;

/**
 * The close code of a connection refused at `connection_init`, by refusal; the close reason is the refusal code.
 * 4401/4403 are graphql-ws's own "Unauthorized"/"Forbidden"; 4503 and 4429 follow the HTTP statuses.
 * (`reauthenticate` refuses operations only, with a GraphQL error, never a connection.)
 */
export const SUBSCRIPTION_REFUSAL_CLOSE_CODES: Readonly<Record<SocketRefusalCode, number>> = {
  unauthenticated: 4401,
  forbidden: 4403,
  reauthenticate: 4401,
  origin_not_allowed: 4403,
  store_unavailable: 4503,
  csrf: 4403,
  bad_request: 4400,
  too_many_clients: 4429,
};

/** {@link sessionSubscriptions}' options: the socket adapters' options, and the operations' GraphQL context. */
export interface SessionSubscriptionsOptions extends SessionSocketOptions {
  /**
   * The GraphQL context of each operation on a connection (graphql-ws's `context`, which this function must own):
   * an object, made from graphql-ws's context. Default: `{ req: ctx }`, what Nest gives by default.
   */
  context?: (ctx: Context) => object | Promise<object>;
}

/** The value of `GraphQLModule.forRoot({ subscriptions })`. */
export interface SessionSubscriptionsConfig {
  'graphql-ws': GraphQLWsSubscriptionsConfig;
}

type Extra = { readonly socket: WebSocket; readonly request: IncomingMessage };

/** What an operation of a connection runs with: the connection's client, and the sessions of its application. */
interface Connection {
  readonly client: SessionClient;
  readonly sessions: SocketSessions;
}

const logger = new Logger('SessionSubscriptions');

/**
 * GraphQL subscriptions over graphql-ws with sessions, for the Apollo driver:
 * `GraphQLModule.forRoot({ driver: ApolloDriver, subscriptions: sessionSubscriptions({ allowAnonymous, ... }) })`.
 *
 * - `connection_init` is checked like a socket handshake (cookie, `Origin`, `allowAnonymous`, `allow` / `deny`,
 *   `maxClientsPerSession`); a refused connection is closed with {@link SUBSCRIPTION_REFUSAL_CLOSE_CODES} and the
 *   refusal code as reason.
 * - Every operation of the connection (and every event of a subscription) runs with the connection's session, as
 *   a socket message does: `@Connected`, `@CurrentUser` and `SessionService` work in subscription resolvers.
 * - The connection is a client of its session; when the session closes (any cause, any server) it is closed with
 *   {@link SESSION_CLOSE_CODE} and the reason `session_closed` or `session_expired`.
 *
 * It owns graphql-ws's `onConnect`, `context` (see {@link SessionSubscriptionsOptions.context}), `execute` and
 * `subscribe`; other graphql-ws options (`path`, `onDisconnect`, ...) can be spread next to them.
 */
export function sessionSubscriptions(options: SessionSubscriptionsOptions = {}): SessionSubscriptionsConfig {
  const { context: contextOf = (ctx: Context) => ({ req: ctx }), ...socketOptions } = options;
  const { session: checked } = splitGatewayOptions(socketOptions, undefined);
  const connections = new WeakMap<object, Connection>();
  const run = <T>(args: ExecutionArgs, operation: (args: ExecutionArgs) => T): T => {
    const connection = typeof args.contextValue === 'object' && args.contextValue !== null ? connections.get(args.contextValue) : undefined;
    return connection === undefined ? operation(args) : connection.sessions.run(connection.client, () => operation(args));
  };
  const config: GraphQLWsSubscriptionsConfig & Pick<ServerOptions, 'context' | 'execute' | 'subscribe'> = {
    onConnect: (ctx) => admit(ctx, checked),
    context: async (ctx: Context) => {
      const made = await contextOf(ctx);
      // Operations are told apart by their context object: one shared by several is copied, as Nest copies it.
      const value = connections.has(made)
        ? Object.assign(Object.create(Object.getPrototypeOf(made) as object | null) as object, made)
        : made;
      const socket = (ctx.extra as Extra).socket;
      const client = SessionClient.of(socket);
      const sessions = SocketSessions.forRequest((ctx.extra as Extra).request);
      if (client !== undefined && sessions !== undefined) connections.set(value, { client, sessions });
      return value;
    },
    execute: (args: ExecutionArgs) => run(args, execute) as ExecutionResult | Promise<ExecutionResult>,
    subscribe: async (args: ExecutionArgs) => {
      const result = await run(args, subscribe);
      const connection = connections.get(args.contextValue as object);
      if (connection === undefined || !(Symbol.asyncIterator in result)) return result;
      return inContexts(result, (next) => connection.sessions.run(connection.client, next));
    },
  };
  return { 'graphql-ws': config };
}

/** `onConnect`: admits the connection or closes it with the refusal's code. Never throws. */
async function admit(ctx: Context, options: SessionSocketOptions): Promise<boolean> {
  const { socket, request } = ctx.extra as Extra;
  try {
    const sessions = SocketSessions.forRequest(request);
    if (sessions === undefined) {
      logger.error('A subscription connection arrived on a server without SessionModule.forRoot(): closed');
      socket.close(1011, 'session_module_missing');
      return false;
    }
    const process: unknown = ctx.connectionParams?.process ?? processFromUrl(request.url);
    const result = sessions.withRoom(
      await sessions.admit(request, process, options, (code, message) => new GraphQLRefusalError(code, message)),
    );
    if ('refused' in result) {
      socket.close(SUBSCRIPTION_REFUSAL_CLOSE_CODES[result.refused], result.refused);
      return false;
    }
    // The client may have left while the session was read: then it never joins (no `close` would remove it).
    if (socket.readyState !== socket.OPEN) return false;
    const { client } = result;
    SessionClient.attach(socket, client);
    const close = (reason: SocketCloseReason) =>
      socket.close(reason === 'too_many_clients' ? SUBSCRIPTION_REFUSAL_CLOSE_CODES.too_many_clients : SESSION_CLOSE_CODE, reason);
    sessions.join(client, { close }, (leave) => socket.once('close', leave));
    return !client.closed;
  } catch (error) {
    logger.error(`Subscription connection refused after an error: ${describeError(error)}`);
    socket.close(1011, 'internal_error');
    return false;
  }
}

function processFromUrl(url: string | undefined): string | null {
  return url !== undefined && URL.canParse(url, 'http://localhost') ? new URL(url, 'http://localhost').searchParams.get('process') : null;
}
