import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { processIdFrom, ProcessRegistry } from '../../context/process-registry.js';
import { RequestContext, type LiveSession } from '../../context/request-context.js';
import { SessionEvents } from '../../events/session-events.js';
import { describeError } from '../../util/describe-error.js';
import { SessionStoreUnavailableException } from '../../exceptions/session-store-unavailable.exception.js';
import { inGroups } from '../../session/session-groups.js';
import { BoundedCache } from '../../util/bounded-cache.js';
import { SessionValues } from '../../session/session-values.js';
import { SessionLifecycle } from '../../session/session-lifecycle.js';
import { expiresAt } from '../../stores/session-record.js';
import type { StoreRemoval } from '../../stores/session-store.js';
import { isOriginAllowed } from './origin-check.js';
import { SessionClient, type SocketChannel, type SocketCloseReason } from './session-client.js';
import type { SessionSocketOptions } from './session-socket.options.js';
import { REFUSAL_MESSAGES, SocketTransport, type SocketRefusalCode } from './socket-transport.js';

/** A message re-reads its session from the store at most this often; revocations arrive sooner, by notification. */
const REFRESH_MS = 1000;
/** How often sockets are checked for sessions that expired without a message (so expiry closes them in time). */
const EXPIRY_SWEEP_MS = 250;
/** A quiet socket's session is re-read by the sweep this often (bounds the effect of a lost removal notice). */
const RESYNC_MS = 2000;
/** Sessions closed recently, so that a handshake that read one just before it closed cannot keep a socket on it. */
const RECENTLY_CLOSED = 10_000;

/** A handshake's outcome: a client to attach to the socket, or why not. */
export type HandshakeResult =
  | { readonly client: SessionClient }
  | { readonly refused: SocketRefusalCode; readonly message: string };


/**
 * The live sockets of this server, by session: authenticates handshakes, keeps each socket's session current
 * without a store read per message, closes the sockets of sessions that leave the store (on this server or, with a
 * shared store, another), runs `onNoClient` when a session's last socket leaves, and emits the client and process
 * events. Transport-free: the socket.io and ws adapters call it.
 */
@Injectable()
export class SessionClients implements OnModuleInit, OnApplicationShutdown {
  private readonly bySession = new Map<string, Set<SessionClient>>();
  private readonly closedAt = new BoundedCache<string, number>(RECENTLY_CLOSED);
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly lifecycle: SessionLifecycle,
    private readonly data: SessionValues,
    private readonly events: SessionEvents,
    private readonly processes: ProcessRegistry,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.lifecycle.store.store.subscribe((removal) => this.onRemoval(removal));
    this.timer = setInterval(() => void this.sweep(), EXPIRY_SWEEP_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
    clearInterval(this.timer);
  }

  /** How many sockets this server holds for a session (or in all, without a key). */
  count(sessionKey?: string): number {
    if (sessionKey !== undefined) return this.bySession.get(sessionKey)?.size ?? 0;
    let total = 0;
    for (const clients of this.bySession.values()) total += clients.size;
    return total;
  }

  /**
   * Authenticates a handshake with the checks of an HTTP request (signature, store, expiry, `bindIp`, `check`),
   * then the origin, anonymity and group rules of the adapter. Never throws.
   */
  async handshake(
    request: IncomingMessage,
    processHint: unknown,
    options: SessionSocketOptions,
    refusal: (code: SocketRefusalCode, message: string) => Error,
  ): Promise<HandshakeResult> {
    try {
      if (!isOriginAllowed(request.headers, options.allowedOrigins)) return refused('origin_not_allowed');
      const ip = options.clientIp !== undefined ? options.clientIp(request) : request.socket.remoteAddress;
      const transport = new SocketTransport(request, ip, refusal);
      const processId = processIdFrom(typeof processHint === 'string' ? processHint : undefined) ?? newProcessId();
      const context = new RequestContext(transport, processId, this.data);
      const readAt = Date.now();
      const session = await this.lifecycle.current(context);
      const userId = session?.record.userId;
      if (userId === undefined) {
        if (options.allowAnonymous !== true) return refused('unauthenticated');
      } else if (options.allow !== undefined || options.deny !== undefined) {
        if (!(await inGroups(this.lifecycle.policy, this.lifecycle.logger, context, userId, options))) return refused('forbidden');
      }
      return { client: new SessionClient(transport, processId, session, readAt) };
    } catch (error) {
      if (error instanceof SessionStoreUnavailableException) return refused('store_unavailable');
      this.lifecycle.logger.error(`WebSocket handshake refused after an error: ${describeError(error)}`);
      return refused('unauthenticated');
    }
  }

  /** A socket whose handshake passed is open: it becomes a client of its session and a process. */
  register(client: SessionClient, channel: SocketChannel): void {
    client.channel = channel;
    const session = client.session;
    if (session !== undefined) {
      const closedAt = this.closedAt.get(session.key);
      if (closedAt !== undefined && closedAt >= client.checkedAt) {
        // The session closed while the handshake was in flight.
        this.close(client, 'session_closed');
        return;
      }
      let clients = this.bySession.get(session.key);
      if (clients === undefined) this.bySession.set(session.key, (clients = new Set()));
      clients.add(client);
      client.joined = true;
    }
    const userId = session?.record.userId;
    const process = client.processId;
    const base = {
      transport: 'ws' as const,
      process,
      ...(userId === undefined ? {} : { userId }),
      ...(session === undefined ? {} : { session: session.key }),
    };
    const isNew = this.processes.isNew(process);
    this.queue(client, async () => {
      if (isNew) {
        await this.events.emitDetached({ type: 'start-process', ...base });
        await this.events.emitDetached(
          userId === undefined
            ? { type: 'start-unconnected-process', ...base }
            : { type: 'start-connected-process', ...base, userId },
        );
      }
      if (session !== undefined) await this.events.emitDetached({ type: 'client-connected', ...base, session: session.key });
    });
  }

  /**
   * A socket closed (by its client or by the library): its process values go with `onDelete`; when it was its
   * session's last client here, each in-memory value's `onNoClient` decides whether it stays.
   */
  unregister(client: SessionClient): void {
    const session = client.session;
    if (session === undefined) return;
    const clients = this.bySession.get(session.key);
    const wasMember = clients?.delete(client) === true;
    if (clients !== undefined && clients.size === 0) this.bySession.delete(session.key);
    // Fix (clients.sockets.spec, "onNoClient runs once ..."): whether this was the session's last client is decided
    // now, not when the queued step below runs. Read there, after this socket's process values' (possibly slow)
    // onDelete, the shared set could be emptied by a later socket meanwhile, and both sockets then ran onNoClient.
    const wasLast = wasMember && clients?.size === 0;
    const userId = session.record.userId;
    this.queue(client, async () => {
      if (!client.closed) {
        const sameProcess = [...(clients ?? [])].some((other) => other.processId === client.processId);
        if (!sameProcess) {
          for (const { key, value } of this.lifecycle.locals.takeProcess(session.key, client.processId)) {
            await this.lifecycle.runOnDelete(key, value);
          }
        }
        if (wasLast) await this.noClient(session.key);
      }
      // A socket turned away at registration (its session closed during the handshake) never joined.
      if (!client.joined) return;
      await this.events.emitDetached({
        type: 'client-disconnected',
        transport: 'ws',
        session: session.key,
        process: client.processId,
        ...(userId === undefined ? {} : { userId }),
      });
    });
  }

  /**
   * The context of one message: a new one per message (so groups and adoption do not leak between messages), with
   * the socket's session re-read from the store only when a second has passed or its known expiry is due.
   */
  messageContext(client: SessionClient): RequestContext {
    const context = new RequestContext(client.transport, client.processId, this.data);
    const session = client.session;
    if (session === undefined || client.closed) {
      context.adopt(undefined);
      return context;
    }
    const now = Date.now();
    const { record } = session;
    if (now - client.checkedAt >= REFRESH_MS || now >= expiresAt(record)) {
      // Resolved lazily, through the same path the guard uses, so that a store failure is a refusal it can map.
      void context.sessionOnce(() => this.refresh(client, now)).catch(() => undefined);
    } else {
      context.adopt(session);
    }
    return context;
  }

  /** Re-reads a socket's session; closes the socket when it is gone. */
  private async refresh(client: SessionClient, now: number): Promise<LiveSession | undefined> {
    const session = client.session!;
    const record = await this.lifecycle.store.call('get', session.key);
    if (client.closed) return undefined;
    if (record === undefined || record.userId !== session.record.userId) {
      this.closeSession(session.key, now >= expiresAt(session.record) ? 'session_expired' : 'session_closed');
      return undefined;
    }
    // Like an HTTP request, the re-read runs `policy.check`: a check that starts refusing (a ban, a revoked device)
    // ends a socket that makes no HTTP request. Its sockets here go even when the store could not close the session.
    if (this.lifecycle.policy.check !== undefined && !(await this.lifecycle.passesCheck(client.transport, session.key, record))) {
      if (client.closed) return undefined;
      this.lifecycle.logger.warn(`Session ended: policy.check refused it (client ${client.transport.ip ?? 'unknown'})`);
      try {
        await this.lifecycle.failed(client.transport, session.key, record);
      } finally {
        this.closeSession(session.key, 'session_closed');
      }
      return undefined;
    }
    // Fix (revocation.sockets.spec, "keeps the session of a socket that sends messages", on a store that hands out
    // copies): messages record their activity only through this re-read's touch, so the next re-read is timed from
    // the session's last recorded activity, not from this read. A re-read that found a recent touch (an HTTP request's,
    // or its own made early because the socket's copy of the record said it expired) touches nothing; timing the next
    // one a full second after it let the session expire under a socket that kept sending messages.
    const lastSeen = record.lastSeenAt;
    this.lifecycle.touchIfDue(session.key, record, now);
    client.session = { key: session.key, record };
    client.checkedAt = now - lastSeen >= REFRESH_MS ? now : Math.min(now, lastSeen);
    return client.session;
  }

  /** Removals reported by the store: this server's closes and expiries, and, with a shared store, other servers'. */
  private onRemoval(removal: StoreRemoval): void {
    this.closeSession(removal.key, removal.reason === 'expired' ? 'session_expired' : 'session_closed');
  }

  /** Closes every socket of a session on this server. */
  closeSession(sessionKey: string, reason: SocketCloseReason): void {
    this.closedAt.set(sessionKey, Date.now());
    const clients = this.bySession.get(sessionKey);
    if (clients === undefined) return;
    this.bySession.delete(sessionKey);
    for (const client of clients) this.close(client, reason);
  }

  private close(client: SessionClient, reason: SocketCloseReason): void {
    if (client.closed) return;
    client.closed = true;
    try {
      client.channel?.close(reason);
    } catch (error) {
      this.lifecycle.logger.error(`Closing a socket: ${describeError(error)}`);
    }
  }

  /** Sessions whose known expiry passed: the store decides (an HTTP request may have extended them). */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      for (const [key, clients] of [...this.bySession]) {
        const first = clients.values().next().value;
        const record = first?.session?.record;
        if (first === undefined || record === undefined) continue;
        const due = now >= expiresAt(record);
        // A quiet socket's session is also re-read every few seconds: a removal notice lost while a shared store's
        // subscription was down would otherwise leave the socket open until its next message.
        if (!due && now - Math.max(first.checkedAt, first.sweptAt) < RESYNC_MS) continue;
        let fresh;
        try {
          fresh = await this.lifecycle.store.call('get', key);
        } catch {
          continue; // The store is sick; the next sweep asks again.
        }
        if (fresh === undefined || fresh.userId !== record.userId) {
          this.closeSession(key, due ? 'session_expired' : 'session_closed');
        } else {
          // Fix (same test as in `refresh`): `checkedAt` is left alone. It times the next message's re-read, whose touch
          // records the socket's activity; the sweep touches nothing, and resetting it here put that touch off by up to
          // a second, long enough for the session to expire under a socket that kept sending messages.
          for (const client of clients) {
            client.session = { key, record: fresh };
            client.sweptAt = now;
          }
        }
      }
    } finally {
      this.sweeping = false;
    }
  }

  /** The last client of a session left: `onNoClient` of each value held here decides; false drops it, no onDelete. */
  private async noClient(sessionKey: string): Promise<void> {
    for (const [key, value] of this.lifecycle.locals.entries(sessionKey)) {
      if (key.onNoClient === undefined) continue;
      let keep: boolean;
      try {
        keep = (await key.onNoClient(value)) !== false;
      } catch (error) {
        this.lifecycle.logger.error(`onNoClient of key '${key.name}' failed, the value stays: ${describeError(error)}`);
        keep = true;
      }
      // A socket may have come back while the callback ran: then the session has a client again and keeps it.
      if (!keep && !this.bySession.has(sessionKey) && this.lifecycle.locals.get(sessionKey, key) === value) {
        this.lifecycle.locals.delete(sessionKey, key);
      }
    }
  }

  private queue(client: SessionClient, step: () => Promise<void>): void {
    client.events = client.events.then(step).catch((error: unknown) => {
      this.lifecycle.logger.error(`Socket bookkeeping failed: ${describeError(error)}`);
    });
  }
}

function refused(code: SocketRefusalCode): HandshakeResult {
  return { refused: code, message: REFUSAL_MESSAGES[code] };
}

function newProcessId(): string {
  return randomBytes(12).toString('base64url');
}
