import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../context/request-context.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import { describeError } from '../util/describe-error.js';
import { Deadlines } from '../util/deadlines.js';
import { SessionLog } from './session-log.js';

/** The groups part of `@Connected` (and of a socket handshake). */
export interface GroupRule {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** Whether a rule names any group at all (without one, no group look-up is needed). */
export function hasGroups(rule: GroupRule | undefined): boolean {
  return rule !== undefined && (rule.allow !== undefined || rule.deny !== undefined);
}

/** `allow` / `deny` against the user's groups from `policy.groups`, fetched at most once per request. */
@Injectable()
export class SessionGroups {
  /** `policy.groups` answers within `storeTimeout`, as the store must. */
  private readonly deadlines: Deadlines;

  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly log: SessionLog,
  ) {
    this.deadlines = new Deadlines(policy.storeTimeoutMs, `no answer within ${policy.storeTimeoutMs} ms (storeTimeout)`);
  }

  /**
   * deny wins; then allow needs one match. A `groups` that throws, rejects or gives no answer within `storeTimeout`
   * could not answer: the request is refused with a 503 (the session is kept). One that answers something other
   * than a list denies.
   */
  async admits(context: RequestContext, userId: string, rule: GroupRule): Promise<boolean> {
    context.groups ??= this.lookUp(userId);
    return this.matches(await context.groups, rule);
  }

  /**
   * The same rule for a user other than the request's (the target of `impersonate()`), asked afresh: the request's
   * memoised groups are its own user's.
   */
  async admitsUser(userId: string, rule: GroupRule): Promise<boolean> {
    return this.matches(await this.lookUp(userId), rule);
  }

  private lookUp(userId: string): Promise<readonly string[]> {
    const groupsOf = this.policy.groups;
    if (groupsOf === undefined) return Promise.resolve([]);
    return this.deadlines.bound(
      Promise.resolve().then(() => groupsOf(userId)),
      (error, late) => {
        this.log.error(
          `policy.groups could not answer, the request is refused: ${late ? 'no answer within storeTimeout' : describeError(error)}`,
        );
        return new SessionStoreUnavailableException('Session groups unavailable');
      },
    );
  }

  private matches(groups: readonly string[], rule: GroupRule): boolean {
    if (!Array.isArray(groups)) {
      this.log.error('policy.groups must return an array of strings; the request is denied');
      return false;
    }
    if (rule.deny?.some((group) => groups.includes(group))) return false;
    return rule.allow === undefined || rule.allow.some((group) => groups.includes(group));
  }
}
