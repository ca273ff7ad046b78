import { Inject, Injectable } from '@nestjs/common';
import type { Eventually, LiveSession, RequestContext } from '../context/request-context.js';
import type { SessionTransport } from '../context/session-transport.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { sessionInfo } from '../stores/session-info.js';
import type { SessionRecord } from '../stores/session-record.js';
import { TimedStore } from '../stores/timed-store.js';
import { Deadlines } from '../util/deadlines.js';
import { describeError } from '../util/describe-error.js';
import { storeKeyOf } from './session-id.js';
import { SessionCloser } from './session-closer.js';
import { SessionCookie } from './session-cookie.js';
import { clientOf, SessionLog } from './session-log.js';
import { SessionSigner } from './session-signer.js';
import { idleTimeoutOf, touchIntervalMs } from './touch-interval.js';
import { VerifiedCookies } from './verified-cookies.js';

/**
 * Cookie → live session: the one read path of every transport. Verifies the cookie, reads the record, applies
 * `bindIp` and `check`, records activity, and ends the session (cookie expired, record closed) when a check fails.
 * Long-lived clients (sockets) re-read their session through {@link reread}, with the same checks.
 */
@Injectable()
export class SessionResolver {
  /** `policy.check` answers within `storeTimeout`, as the store must: the same bound on everything a read waits for. */
  private readonly checkDeadlines: Deadlines;

  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly store: TimedStore,
    private readonly cookie: SessionCookie,
    private readonly signer: SessionSigner,
    private readonly closer: SessionCloser,
    private readonly log: SessionLog,
    /** Cookie values whose signature verified, with their store key: a repeat visit skips the HMAC and the hash. */
    private readonly verified: VerifiedCookies,
  ) {
    this.checkDeadlines = new Deadlines(policy.storeTimeoutMs, `no answer within ${policy.storeTimeoutMs} ms (storeTimeout)`);
  }

  /** The request's session, resolved once: signature, record, expiry, `bindIp`, `check`. */
  current(context: RequestContext): Promise<LiveSession | undefined> {
    return context.sessionOnce((now) => this.resolve(context.transport, now));
  }

  /** The same, without a promise when it is known at once (a session in a store that can `peek`, no `check`). */
  currentNow(context: RequestContext): Eventually<LiveSession | undefined> {
    return context.sessionNow((now) => this.resolve(context.transport, now));
  }

  /**
   * A session a long-lived client holds, read again by its key with the checks of a request. Undefined when it is
   * gone, belongs to another user now (a `disconnectAll` that kept browser data), or failed a check (then closed).
   */
  async reread(transport: SessionTransport, held: LiveSession): Promise<LiveSession | undefined> {
    const now = Date.now();
    const record = await this.store.call('get', held.key);
    if (record === undefined || record.userId !== held.record.userId) return undefined;
    return this.admit(transport, held.key, record, now);
  }

  /** `now`: when the read started, the time of the touch it may record. */
  private resolve(transport: SessionTransport, now: number): Eventually<LiveSession | undefined> {
    const cookie = this.cookie.read(transport);
    if (cookie.kind === 'none') return undefined;
    if (cookie.kind === 'ambiguous') {
      // Expiring our cookie here would delete the browser's genuine host-only cookie and leave a tossed one (set
      // for a parent domain or a narrower path) in charge: the request goes on without a session, nothing expired.
      this.log.rejectedCookie(`Session cookie rejected: sent more than once (${clientOf(transport.ip)})`);
      return undefined;
    }
    if (cookie.kind === 'malformed') {
      this.log.rejectedCookie(`Session cookie rejected: malformed Cookie header (${clientOf(transport.ip)})`);
      return this.failed(transport);
    }
    let key = this.verified.keyOf(cookie.value);
    if (key === undefined) {
      const id = this.signer.unsign(cookie.value);
      if (id === undefined) {
        this.log.rejectedCookie(`Session cookie rejected: bad format or signature (${clientOf(transport.ip)})`);
        return this.failed(transport);
      }
      key = storeKeyOf(id);
      this.verified.remember(cookie.value, key);
    }
    const found = this.store.read(key);
    if (!(found instanceof Promise)) return this.found(transport, key, found, now);
    return found.then((record) => this.found(transport, key, record, now));
  }

  private found(
    transport: SessionTransport,
    key: string,
    record: SessionRecord | undefined,
    now: number,
  ): Eventually<LiveSession | undefined> {
    if (record !== undefined) return this.admit(transport, key, record, now);
    this.log.debug(`Session cookie names no live session (${clientOf(transport.ip)})`);
    return this.failed(transport);
  }

  /**
   * The checks on a record that is there: its times within the policy's timeouts, same address under `bindIp`,
   * `check`; then activity is recorded.
   */
  private admit(transport: SessionTransport, key: string, record: SessionRecord, now: number): Eventually<LiveSession | undefined> {
    if (!this.withinPolicy(record)) {
      this.log.warn(`Session ended: its record outlives the policy's timeouts (${clientOf(transport.ip)})`);
      return this.failed(transport, key, record);
    }
    if (this.policy.bindIp && record.ip !== transport.ip) {
      this.log.warn(`Session ended: client address changed (${clientOf(transport.ip)})`);
      return this.failed(transport, key, record);
    }
    if (this.policy.check === undefined) return this.live(key, record, now);
    return this.passesCheck(transport, key, record).then((passed) => {
      if (passed) return this.live(key, record, now);
      this.log.warn(`Session ended: policy.check refused it (${clientOf(transport.ip)})`);
      return this.failed(transport, key, record);
    });
  }

  /**
   * Whether a record's expiry times are ones this policy could have given it. A store hands back what it was given,
   * or what a snapshot file or a Redis key says: a record made under longer timeouts (or by hand) must not outlive
   * this policy's idle and absolute bounds.
   */
  private withinPolicy(record: SessionRecord): boolean {
    const idle = idleTimeoutOf(this.policy, record);
    return record.absoluteExpiresAt <= record.createdAt + this.policy.absoluteTimeoutMs && record.idleExpiresAt <= record.lastSeenAt + idle;
  }

  private live(key: string, record: SessionRecord, now: number): LiveSession {
    this.touchIfDue(key, record, now);
    return { key, record };
  }

  /** Records activity on a live session, at most once per {@link touchIntervalMs} of its idle timeout. */
  private touchIfDue(key: string, record: SessionRecord, now: number): void {
    const idle = idleTimeoutOf(this.policy, record);
    if (now - record.lastSeenAt >= touchIntervalMs(idle)) {
      // Not awaited: activity is best effort and must not slow reads; a failure is logged by TimedStore.
      this.store.call('touch', key, now, Math.min(now + idle, record.absoluteExpiresAt)).catch(() => undefined);
    }
  }

  /**
   * `policy.check`'s verdict. Only an answer counts: `false` ends the session; a throw, a rejection or no answer
   * within `storeTimeout` means the check could not answer (its backend is down), which refuses this request with a
   * 503 and keeps the session, so that a flaky backend does not log everyone out.
   */
  private async passesCheck(transport: SessionTransport, key: string, record: SessionRecord): Promise<boolean> {
    // The Cookie header carries the session id: `check` sees every other header.
    const { cookie: _cookie, ...headers } = transport.headers;
    const request = { ip: transport.ip, headers, transport: transport.kind };
    const check = this.policy.check!;
    const verdict = await this.checkDeadlines.bound(
      Promise.resolve().then(() => check(sessionInfo(key, record, true), request)),
      (error, late) => {
        this.log.error(
          `policy.check could not answer, the request is refused and the session kept: ${late ? 'no answer within storeTimeout' : describeError(error)}`,
        );
        return new SessionStoreUnavailableException('Session check unavailable');
      },
    );
    return verdict === true;
  }

  /** A failed check: the session (if one was found) is closed, the cookie and filtered cookies expired. */
  private async failed(transport: SessionTransport, key?: string, record?: SessionRecord): Promise<undefined> {
    this.cookie.clearAfterFailedCheck(transport);
    if (key !== undefined && record !== undefined) {
      try {
        await this.closer.close(key, record, 'failed-check', transport.kind);
      } catch (error) {
        // A sick store is the 503 it always is; a throwing close hook must not turn a failed check into a 500.
        if (error instanceof SessionStoreUnavailableException) throw error;
        this.log.error(`Closing a session that failed its check: ${describeError(error)}`);
      }
    }
    return undefined;
  }
}
