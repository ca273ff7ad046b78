import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY, SESSION_STORE } from '../session.tokens.js';
import type { SessionStore } from '../stores/session-store.js';
import { TimedStore } from '../stores/timed-store.js';

/**
 * A key no session can have (store keys are 43 characters of base64url): reading it asks the store a real question
 * (a Redis round trip) that never touches a session.
 */
const PROBE_KEY = '~health-check';

/**
 * A Terminus health indicator for the session store: `up` when the store answers a read within the policy's
 * `storeTimeout`, `down` otherwise, as every request that needs a session would see it (a 503).
 *
 * Provide it in a module that imports `TerminusModule` (`SessionModule` is global, so its store is found anywhere):
 *
 * ```ts
 * @Controller('health')
 * class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly sessions: SessionStoreHealthIndicator) {}
 *
 *   @Get() @HealthCheck()
 *   check() { return this.health.check([() => this.sessions.isHealthy()]); }
 * }
 * ```
 *
 * @publicApi
 */
@Injectable()
export class SessionStoreHealthIndicator {
  /** The library's timed access on the application's store: the deadline, its log line and `callTimedOut` are the policy's. */
  private readonly store: TimedStore;
  private readonly timeoutMs: number;

  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(SESSION_STORE) store: SessionStore,
    @Inject(SESSION_POLICY) policy: ResolvedSessionPolicy,
  ) {
    this.timeoutMs = policy.storeTimeoutMs;
    this.store = new TimedStore(store, this.timeoutMs);
  }

  /**
   * Reads a key that cannot exist, within `storeTimeout`. `down` carries a `message` only: the store's own error is
   * logged by the library (context `SessionStore`) and not repeated here, since it may name a host or credentials.
   *
   * @param key the name of this check in Terminus's result, `'session-store'` by default
   */
  async isHealthy<const Key extends string = 'session-store'>(key: Key = 'session-store' as Key): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const startedAt = Date.now();
    try {
      await this.store.call('get', PROBE_KEY);
      return indicator.up();
    } catch {
      // TimedStore turns both outcomes into one exception; the time taken tells them apart (a late call is refused
      // no sooner than the deadline).
      const late = Date.now() - startedAt >= this.timeoutMs;
      return indicator.down({
        message: late ? `Session store did not answer within ${this.timeoutMs} ms (storeTimeout)` : 'Session store call failed',
      });
    }
  }
}
