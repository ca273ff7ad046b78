import { Inject, Injectable } from '@nestjs/common';
import type { LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import { PermissionDeniedException } from '../exceptions/permission-denied.exception.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { authenticatedAtOf } from '../stores/session-record.js';
import { TimedStore } from '../stores/timed-store.js';
import { SessionCookie } from './session-cookie.js';
import { assertUserId, requireCookies, SessionConnection } from './session-connection.js';
import { SessionCloser } from './session-closer.js';
import { SessionGroups } from './session-groups.js';
import { SessionLog } from './session-log.js';
import { SessionResolver } from './session-resolver.js';

/**
 * Impersonation (`policy.impersonation`): a member of an `allow` group acts as another user, in a session of its
 * own, and comes back to theirs.
 *
 * `impersonate(target)` is a login as the target that remembers who logged in: the actor's session closes (reason
 * `login`, as a login closes the browser's previous session; browser data moves on) and a new one opens under a new
 * id, for the target, with `actorId` (and the actor's epoch) in its record. It keeps the actor's `authenticatedAt`
 * (the last time anyone proved anything in this browser) and ends at `maxDuration`, or at the actor's session's own
 * absolute end if that comes sooner: the store expires it, as it expires any session at its absolute end.
 *
 * `stopImpersonating()` is the way back: the impersonated session closes (reason `impersonation-ended`) and the actor
 * is connected again under a new id, with the `authenticatedAt` they had before (stopping proves nothing, so it never
 * makes the actor fresh), ending `absoluteTimeout` after it (so that impersonating and stopping, over and over, never
 * lengthens the actor's login).
 */
@Injectable()
export class SessionImpersonation {
  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly context: SessionContext,
    private readonly resolver: SessionResolver,
    private readonly connection: SessionConnection,
    private readonly closer: SessionCloser,
    private readonly groups: SessionGroups,
    private readonly store: TimedStore,
    private readonly cookie: SessionCookie,
    private readonly log: SessionLog,
  ) {}

  async impersonate(userId: string): Promise<void> {
    const context = requireCookies(this.context.require('impersonate()'), 'impersonate()');
    assertUserId(userId, 'impersonate()');
    const current = await this.resolver.current(context);
    const actorId = current?.record.userId;
    if (current === undefined || actorId === undefined) throw new NotConnectedException();
    await this.check(context, current, actorId, userId);
    const options = this.policy.impersonation!;
    const actorEpoch = await this.store.call('epochOf', actorId);
    await this.connection.openInstead(context, current, userId, 'login', {
      actorId,
      actorEpoch,
      authenticatedAt: authenticatedAtOf(current.record),
      expire: current.record.browserSessionCookie === true,
      endsAt: Math.min(Date.now() + options.maxDurationMs, current.record.absoluteExpiresAt),
    });
    this.log.log(`Impersonation started: '${actorId}' acts as '${userId}'`);
  }

  async stopImpersonating(): Promise<void> {
    const context = requireCookies(this.context.require('stopImpersonating()'), 'stopImpersonating()');
    const current = await this.resolver.current(context);
    const userId = current?.record.userId;
    if (current === undefined || userId === undefined) throw new NotConnectedException();
    const actorId = current.record.actorId;
    if (actorId === undefined) throw new PermissionDeniedException('Not impersonating anyone');
    const authenticatedAt = authenticatedAtOf(current.record);
    if ((await this.store.call('epochOf', actorId)) !== (current.record.actorEpoch ?? 0)) {
      // The actor's sessions were all closed meanwhile (disconnectAll: a stolen account, a password change): going
      // back would log them in again behind that. The impersonation ends all the same, and nobody is connected.
      await this.closer.close(current.key, current.record, 'impersonation-ended', context.transport.kind);
      context.adopt(undefined);
      this.cookie.clear(context.transport);
      this.log.warn(`Impersonation ended: '${actorId}' as '${userId}'; not back to '${actorId}', whose sessions were closed meanwhile`);
      throw new NotConnectedException("The actor's sessions were closed meanwhile");
    }
    await this.connection.openInstead(context, current, actorId, 'impersonation-ended', {
      authenticatedAt,
      expire: current.record.browserSessionCookie === true,
      endsAt: authenticatedAt + this.policy.absoluteTimeoutMs,
    });
    this.log.log(`Impersonation ended: '${actorId}' stopped acting as '${userId}'`);
  }

  /** The refusals, each a 403 that names its cause, logged with both users (an attempt is worth an audit line). */
  private async check(context: RequestContext, current: LiveSession, actorId: string, userId: string): Promise<void> {
    const options = this.policy.impersonation;
    let refusal: string | undefined;
    if (options === undefined) refusal = 'Impersonation is not enabled';
    else if (current.record.actorId !== undefined) refusal = 'Already impersonating: stop first';
    // The actor's groups before the target's: someone who may not impersonate learns nothing about who may not be.
    else if (!(await this.groups.admits(context, actorId, { allow: options.allow }))) refusal = 'Not allowed to impersonate';
    else if (userId === actorId) refusal = 'Cannot impersonate oneself';
    else if (options.deny.length > 0 && !(await this.groups.admitsUser(userId, { deny: options.deny }))) {
      refusal = 'This user cannot be impersonated';
    }
    if (refusal === undefined) return;
    const who = current.record.actorId === undefined ? `'${actorId}'` : `'${current.record.actorId}' (as '${actorId}')`;
    this.log.warn(`Impersonation refused: ${who} asked to act as '${userId}': ${refusal}`);
    throw new PermissionDeniedException(refusal);
  }
}
