import type { Logger } from '@nestjs/common';
import type { RequestContext } from '../context/request-context.js';
import { describeError } from '../util/describe-error.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';

/** The groups part of `@Connected` (and of a socket handshake). */
export interface GroupRule {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** deny wins; then allow needs one match. A throwing `groups` denies. Groups are fetched once per request. */
export async function inGroups(
  policy: ResolvedSessionPolicy,
  logger: Logger,
  context: RequestContext,
  userId: string,
  rule: GroupRule,
): Promise<boolean> {
  const groupsOf = policy.groups;
  context.groups ??= groupsOf === undefined ? Promise.resolve([]) : Promise.resolve().then(() => groupsOf(userId));
  let groups: readonly string[];
  try {
    groups = await context.groups;
    if (!Array.isArray(groups)) throw new TypeError('policy.groups must return an array of strings');
  } catch (error) {
    logger.error(`policy.groups failed, the request is denied: ${describeError(error)}`);
    return false;
  }
  if (rule.deny?.some((group) => groups.includes(group))) return false;
  return rule.allow === undefined || rule.allow.some((group) => groups.includes(group));
}
