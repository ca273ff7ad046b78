import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import { SessionEvents } from '../events/session-events.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import { PermissionDeniedException } from '../exceptions/permission-denied.exception.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import type { SessionRecord } from '../stores/session-record.js';
import { TimedStore } from '../stores/timed-store.js';
import { describeError } from '../util/describe-error.js';
import { LocalValues } from './local-values.js';
import { SessionCloser } from './session-closer.js';
import { SessionLog } from './session-log.js';
import { SessionOpener, type NewSession } from './session-opener.js';
import { SessionResolver } from './session-resolver.js';

/**
 * `reauthenticate()`: the user of a connected session proved who they are again (the application checked the
 * password). The session goes on, with its user, its data and its clients, under a new id, with `authenticatedAt`
 * now; the old id opens nothing any more, on any server.
 *
 * The steps, so that a failure half-way loses nothing: the renewed record is written under the new id; this server's
 * in-memory values move to it; the old record is removed with `movedTo` (the store tells every server, whose
 * clients and in-memory values then follow the session); writes that reached the old record meanwhile are copied
 * over; the request gets the new cookie.
 */
@Injectable()
export class SessionReauthentication {
  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly context: SessionContext,
    private readonly resolver: SessionResolver,
    private readonly opener: SessionOpener,
    private readonly closer: SessionCloser,
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly events: SessionEvents,
    private readonly log: SessionLog,
  ) {}

  async reauthenticate(): Promise<void> {
    const context = this.context.require('reauthenticate()');
    if (!context.transport.canSetCookies) {
      throw new Error('nestjs-connected: reauthenticate() needs an HTTP request, whose response can carry the new cookie');
    }
    const current = await this.resolver.current(context);
    const userId = current?.record.userId;
    if (current === undefined || userId === undefined) throw new NotConnectedException();
    // The actor's password proves nothing about the user acted as: an impersonated session must never become fresh.
    if (current.record.actorId !== undefined) throw new PermissionDeniedException('An impersonated session cannot be reauthenticated');
    // Read again rather than trust the request's copy: its epoch may have moved on (disconnectAll keeping it), and
    // its data since the request began.
    const latest = await this.store.call('get', current.key);
    if (latest === undefined || latest.userId !== userId) this.closedMeanwhile(context);
    const now = Date.now();
    const renewed: SessionRecord = {
      ...latest,
      data: { ...latest.data },
      lastSeenAt: now,
      idleExpiresAt: Math.min(now + this.policy.idleTimeoutMs, latest.absoluteExpiresAt),
      authenticatedAt: now,
    };
    const next = await this.opener.write(renewed);
    this.locals.restore(next.key, this.locals.takeAll(current.key));
    let removed: SessionRecord | undefined;
    try {
      removed = await this.store.call('destroy', current.key, next.key);
    } catch (error) {
      this.locals.restore(current.key, this.locals.takeAll(next.key));
      await this.store.call('destroy', next.key).catch(() => undefined);
      throw error;
    }
    if (removed === undefined) {
      // Closed between the read and now (a logout, a revoke, disconnectAll elsewhere): its closer found its values
      // here gone, so they end here.
      const orphans = this.locals.takeAll(next.key);
      await this.store.call('destroy', next.key).catch(() => undefined);
      await this.closer.runOnDeletes(orphans, []);
      this.closedMeanwhile(context);
    }
    await this.catchUp(next, removed.data);
    // The session keeps its absolute end (a re-authentication proves the user, it does not lengthen the session),
    // and its kind of cookie: a browser-session cookie stays one.
    this.opener.handOver(context, next, [], renewed.browserSessionCookie === true ? undefined : renewed.absoluteExpiresAt - now);
    await this.events.emit({
      type: 'reauthenticated',
      transport: context.transport.kind,
      userId,
      session: next.key,
      previousSession: current.key,
      ...(context.processId === undefined ? {} : { process: context.processId }),
    });
  }

  /**
   * Writes that reached the old record after it was read (another request of the session, on any server) go to the
   * new one. Best effort: the old id is dead already, so a store failing now must not cost the browser its session.
   */
  private async catchUp(next: NewSession, latest: Readonly<Record<string, string>>): Promise<void> {
    const data = next.record.data;
    try {
      for (const [field, value] of Object.entries(latest)) {
        if (data[field] === value) continue;
        await this.store.call('setField', next.key, field, value);
        data[field] = value;
      }
      for (const field of Object.keys(data)) {
        if (Object.hasOwn(latest, field)) continue;
        await this.store.call('deleteField', next.key, field);
        delete data[field];
      }
    } catch (error) {
      this.log.error(`Copying the values written during a re-authentication: ${describeError(error)}`);
    }
  }

  /**
   * The cookie is left alone: the session it names may have gone on under a new id by a re-authentication racing this
   * one (a double click), whose response carries the new cookie, which an expiry sent here could erase. A cookie that
   * names nothing is expired by the next request's failed check anyway.
   */
  private closedMeanwhile(context: RequestContext): never {
    context.adopt(undefined);
    throw new NotConnectedException('The session was closed');
  }
}
