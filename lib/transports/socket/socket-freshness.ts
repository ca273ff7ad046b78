import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { RequestContext, type LiveSession } from '../../context/request-context.js';
import type { ResolvedSessionPolicy } from '../../session-policy.js';
import { SessionResolver } from '../../session/session-resolver.js';
import { SessionValues } from '../../session/session-values.js';
import { idleTimeoutOf, touchIntervalMs } from '../../session/touch-interval.js';
import { SESSION_POLICY } from '../../session.tokens.js';
import { expiresAt, type SessionRecord } from '../../stores/session-record.js';
import { TimedStore } from '../../stores/timed-store.js';
import type { SessionClient } from '../clients/session-client.js';
import { SessionClients } from '../clients/session-clients.js';

/**
 * A message re-reads its session from the store at most this often (or its touch interval, when shorter);
 * revocations arrive sooner, by notification.
 */
const REFRESH_MS = 1000;
/** How often sockets are checked for sessions that expired without a message (so expiry closes them in time). */
const EXPIRY_SWEEP_MS = 250;
/** A quiet socket's session is re-read by the sweep this often (bounds the effect of a lost removal notice). */
const RESYNC_MS = 2000;

/**
 * Keeps each socket's session current without a store read per message: a message re-reads it through the
 * resolver (the checks of a request, its touch included) once a second (once per touch interval when that is
 * shorter) or when its known expiry passed, and a sweep closes the sockets of sessions that expired or vanished
 * while their sockets were quiet.
 */
@Injectable()
export class SocketFreshness implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly resolver: SessionResolver,
    private readonly clients: SessionClients,
    private readonly store: TimedStore,
    private readonly values: SessionValues,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.sweep(), EXPIRY_SWEEP_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /**
   * The context of one message: a new one per message (so groups and adoption do not leak between messages), with
   * the socket's session re-read only when its refresh period has passed or its known expiry is due.
   */
  messageContext(client: SessionClient): RequestContext {
    const context = new RequestContext(client.transport, client.processId, this.values);
    const session = client.session;
    if (session === undefined || client.closed) {
      context.adopt(undefined);
      return context;
    }
    const now = Date.now();
    if (now - client.checkedAt >= this.refreshMs(session.record) || now >= expiresAt(session.record)) {
      // Resolved lazily, through the same path the guard uses, so that a store failure is a refusal it can map.
      void context.sessionOnce(() => this.refresh(client, session, now)).catch(() => undefined);
    } else {
      context.adopt(session);
    }
    return context;
  }

  /** Re-reads a socket's session; closes the session's sockets when it is gone or failed a check. */
  private async refresh(client: SessionClient, held: LiveSession, now: number): Promise<LiveSession | undefined> {
    const session = await this.resolver.reread(client.transport, held);
    if (client.closed) return undefined;
    // The session moved to a new key while it was read (`reauthenticate()`): read it there.
    if (session === undefined && client.session !== undefined && client.session.key !== held.key) {
      return this.refresh(client, client.session, now);
    }
    if (session === undefined) {
      this.clients.closeSession(held.key, now >= expiresAt(held.record) ? 'session_expired' : 'session_closed');
      return undefined;
    }
    // Messages record their activity only through this re-read's touch, so a re-read that touched nothing (it found
    // a recent touch) times the next one to come no later than that touch's interval ends: timed a full refresh
    // period after this read, the touch could come late enough to let the session expire under a busy socket.
    const lastSeen = session.record.lastSeenAt;
    const touchMs = touchIntervalMs(idleTimeoutOf(this.policy, session.record));
    const touched = now - lastSeen >= touchMs;
    client.refreshed(session, touched ? now : Math.min(now, lastSeen + touchMs - this.refreshMs(session.record)));
    return session;
  }

  /** How long a socket's session is used as last read: a second, or its touch interval when that is shorter. */
  private refreshMs(record: SessionRecord): number {
    return Math.min(REFRESH_MS, touchIntervalMs(idleTimeoutOf(this.policy, record)));
  }

  /** Sessions whose known expiry passed, or not re-read for a while: the store decides. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      for (const [key, clients] of this.clients.sessions()) {
        const first = clients[0];
        const record = first?.session?.record;
        if (first === undefined || record === undefined) continue;
        const due = now >= expiresAt(record);
        // A quiet socket's session is also re-read every few seconds: a removal notice lost while a shared store's
        // subscription was down would otherwise leave the socket open until its next message.
        if (!due && now - Math.max(first.checkedAt, first.sweptAt) < RESYNC_MS) continue;
        let fresh;
        try {
          fresh = await this.store.call('get', key);
        } catch {
          continue; // The store is sick; the next sweep asks again.
        }
        if (fresh === undefined || fresh.userId !== record.userId) {
          this.clients.closeSession(key, due ? 'session_expired' : 'session_closed');
        } else {
          // `checkedAt` is left alone: it times the next message's re-read, whose touch records the socket's
          // activity; the sweep touches nothing.
          for (const client of clients) {
            client.refreshed({ key, record: fresh });
            client.sweptAt = now;
          }
        }
      }
    } finally {
      this.sweeping = false;
    }
  }
}
