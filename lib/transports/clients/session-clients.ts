import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ProcessRegistry } from '../../context/process-registry.js';
import { SessionEvents } from '../../events/session-events.js';
import { LocalValues } from '../../session/local-values.js';
import { actorOf } from '../../session/record-fields.js';
import { SessionCloser } from '../../session/session-closer.js';
import { SessionLog } from '../../session/session-log.js';
import type { StoreRemoval } from '../../stores/session-store.js';
import { TimedStore } from '../../stores/timed-store.js';
import { BoundedCache } from '../../util/bounded-cache.js';
import { describeError } from '../../util/describe-error.js';
import type { SessionClient, SocketChannel, SocketCloseReason } from './session-client.js';

/** Sessions closed recently, so that a handshake that read one just before it closed cannot keep a socket on it. */
const RECENTLY_CLOSED = 10_000;
/** Sessions moved recently (old key → new), so that a handshake that read one just before it moved follows it. */
const RECENTLY_MOVED = 10_000;

/**
 * The live clients of this server, by session (Simple_httpd's clients): sockets, GraphQL subscription connections
 * and SSE streams. Each is a client of its session and a process; the clients of sessions that leave the store (on
 * this server or, with a shared store, another) are closed; `onNoClient` runs when a session's last client leaves;
 * the client and process events go out here. Transport-free: each transport hands it a {@link SocketChannel}.
 */
@Injectable()
export class SessionClients implements OnModuleInit, OnApplicationShutdown {
  /**
   * A session's clients in an array, not a Set: a session has one client or a few (at most `maxClientsPerSession`),
   * and an empty Set's hash table cost about 200 bytes per session where a one-element array costs about 50.
   */
  private readonly bySession = new Map<string, SessionClient[]>();
  private readonly closedAt = new BoundedCache<string, number>(RECENTLY_CLOSED);
  private readonly movedTo = new BoundedCache<string, string>(RECENTLY_MOVED);
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly closer: SessionCloser,
    private readonly events: SessionEvents,
    private readonly processes: ProcessRegistry,
    private readonly log: SessionLog,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.store.subscribe((removal) => this.onRemoval(removal));
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
  }

  /** How many clients this server holds for a session (or in all, without a key). */
  count(sessionKey?: string): number {
    if (sessionKey !== undefined) return this.bySession.get(sessionKey)?.length ?? 0;
    let total = 0;
    for (const clients of this.bySession.values()) total += clients.length;
    return total;
  }

  /**
   * Whether the session of an admitted client may hold one more client here (`maxClientsPerSession`); a client
   * without a session is not counted.
   */
  hasRoom(client: SessionClient): boolean {
    return client.session === undefined || this.count(client.session.key) < client.maxClients;
  }

  /**
   * A client whose handshake passed is open: it becomes a client of its session and a process. The cap on clients
   * per session is enforced here exactly (this runs synchronously): handshakes of one session that were in flight
   * together all passed the handshake's check, and those past the cap are closed with `too_many_clients`.
   */
  register(client: SessionClient, channel: SocketChannel): void {
    client.channel = channel;
    this.followMoves(client);
    const session = client.session;
    if (session !== undefined) {
      const closedAt = this.closedAt.get(session.key);
      if (closedAt !== undefined && closedAt >= client.checkedAt) {
        // The session closed while the handshake was in flight.
        this.close(client, 'session_closed');
        return;
      }
      if (!this.hasRoom(client)) {
        this.close(client, 'too_many_clients');
        return;
      }
      const clients = this.bySession.get(session.key);
      if (clients === undefined) this.bySession.set(session.key, [client]);
      else if (!clients.includes(client)) clients.push(client);
      client.joined = true;
    }
    const userId = session?.record.userId;
    const process = client.processId;
    const base = {
      transport: client.transport.kind,
      process,
      ...(userId === undefined ? {} : { userId }),
      ...actorOf(session?.record),
      ...(session === undefined ? {} : { session: session.key }),
    };
    const isNew = this.processes.isNew(process);
    this.queue(client, async () => {
      if (isNew) {
        await this.events.emitDetached({ type: 'start-process', ...base });
        await this.events.emitDetached(
          userId === undefined ? { type: 'start-unconnected-process', ...base } : { type: 'start-connected-process', ...base, userId },
        );
      }
      if (session !== undefined) await this.events.emitDetached({ type: 'client-connected', ...base, session: session.key });
    });
  }

  /**
   * A client closed (by its peer or by the library): its process values go with `onDelete`; when it was its
   * session's last client here, each in-memory value's `onNoClient` decides whether it stays.
   */
  unregister(client: SessionClient): void {
    const session = client.session;
    if (session === undefined) return;
    const clients = this.bySession.get(session.key);
    const wasMember = clients !== undefined && remove(clients, client);
    if (clients !== undefined && clients.length === 0) this.bySession.delete(session.key);
    // Decided now, not in the queued step: after this client's (possibly slow) onDelete, a later client may have
    // emptied the list meanwhile, and both would then run onNoClient.
    const wasLast = wasMember && clients.length === 0;
    const userId = session.record.userId;
    this.queue(client, async () => {
      if (!client.closed) {
        const sameProcess = clients?.some((other) => other.processId === client.processId) === true;
        if (!sameProcess) {
          for (const { key, value } of this.locals.takeProcess(session.key, client.processId)) {
            await this.closer.runOnDelete(key, value);
          }
        }
        if (wasLast) await this.noClient(session.key);
      }
      // A socket turned away at registration (its session closed during the handshake, or it was past the cap)
      // never joined.
      if (!client.joined) return;
      await this.events.emitDetached({
        type: 'client-disconnected',
        transport: client.transport.kind,
        session: session.key,
        process: client.processId,
        ...(userId === undefined ? {} : { userId }),
        ...actorOf(session.record),
      });
    });
  }

  /**
   * Removals reported by the store: this server's closes and expiries, and, with a shared store, other servers'. A
   * session that goes on under a new key (`reauthenticate()`) keeps its clients: they move with it.
   */
  private onRemoval(removal: StoreRemoval): void {
    if (removal.movedTo !== undefined) this.moveSession(removal.key, removal.movedTo);
    else this.closeSession(removal.key, removal.reason === 'expired' ? 'session_expired' : 'session_closed');
  }

  /**
   * Moves the clients of a session to its new key, open. Each holds the record read under the old key until it is
   * read again under the new one, which its next message does (and the sweep, within a quarter of a second): the
   * record is checked again then, and its `authenticatedAt` is the new one.
   */
  private moveSession(from: string, to: string): void {
    this.movedTo.set(from, to);
    const clients = this.bySession.get(from);
    if (clients === undefined) return;
    this.bySession.delete(from);
    let target = this.bySession.get(to);
    if (target === undefined) this.bySession.set(to, (target = []));
    for (const client of clients) {
      follow(client, to);
      if (!target.includes(client)) target.push(client);
    }
  }

  /** A client whose handshake read its session before the session moved goes to the new key. */
  private followMoves(client: SessionClient): void {
    // Bounded: each move is to a new random key, so a chain is as long as the re-authentications of one handshake.
    for (let hops = 0; hops < 8 && client.session !== undefined; hops++) {
      const to = this.movedTo.get(client.session.key);
      if (to === undefined) return;
      follow(client, to);
    }
  }

  /** The sessions with clients here, each with its clients (a copy: closing clients while iterating is safe). */
  sessions(): Array<[string, readonly SessionClient[]]> {
    return [...this.bySession];
  }

  /** Closes every client of a session on this server. */
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
      this.log.error(`Closing a socket: ${describeError(error)}`);
    }
  }

  /** The last client of a session left: `onNoClient` of each value held here decides; false drops it, no onDelete. */
  private async noClient(sessionKey: string): Promise<void> {
    for (const [key, value] of this.locals.entries(sessionKey)) {
      if (key.onNoClient === undefined) continue;
      let keep: boolean;
      try {
        keep = (await key.onNoClient(value)) !== false;
      } catch (error) {
        this.log.error(`onNoClient of key '${key.name}' failed, the value stays: ${describeError(error)}`);
        keep = true;
      }
      // A socket may have come back while the callback ran: then the session has a client again and keeps it.
      if (!keep && !this.bySession.has(sessionKey) && this.locals.get(sessionKey, key) === value) {
        this.locals.delete(sessionKey, key);
      }
    }
  }

  /** Runs `step` after the client's earlier steps; the chain is dropped once it is done (a promise less per client). */
  private queue(client: SessionClient, step: () => Promise<void>): void {
    const chain: Promise<void> = (client.events ?? Promise.resolve())
      .then(step)
      .catch((error: unknown) => {
        this.log.error(`Socket bookkeeping failed: ${describeError(error)}`);
      })
      .then(() => {
        if (client.events === chain) client.events = undefined;
      });
    client.events = chain;
  }
}

/** Removes `client` from `clients`; false when it was not there. */
function remove(clients: SessionClient[], client: SessionClient): boolean {
  const at = clients.indexOf(client);
  if (at < 0) return false;
  clients.splice(at, 1);
  return true;
}

/** Points a client at its session's new key, due to be read again at once. */
function follow(client: SessionClient, to: string): void {
  const held = client.session;
  if (held === undefined) return;
  client.refreshed({ key: to, record: held.record }, 0);
  client.sweptAt = 0;
}
