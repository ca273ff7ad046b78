import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../context/request-context.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { describeError } from '../util/describe-error.js';
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
  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly log: SessionLog,
  ) {}

  /** deny wins; then allow needs one match. A throwing `groups` denies. */
  async admits(context: RequestContext, userId: string, rule: GroupRule): Promise<boolean> {
    const groupsOf = this.policy.groups;
    context.groups ??= groupsOf === undefined ? Promise.resolve([]) : Promise.resolve().then(() => groupsOf(userId));
    let groups: readonly string[];
    try {
      groups = await context.groups;
      if (!Array.isArray(groups)) throw new TypeError('policy.groups must return an array of strings');
    } catch (error) {
      this.log.error(`policy.groups failed, the request is denied: ${describeError(error)}`);
      return false;
    }
    if (rule.deny?.some((group) => groups.includes(group))) return false;
    return rule.allow === undefined || rule.allow.some((group) => groups.includes(group));
  }
}
