/**
 * Impersonation (`policy.impersonation`): support staff acting as a user. See the README, "Security model",
 * "Impersonation".
 */
export interface ImpersonationOptions {
  /** The groups (from `policy.groups`) whose members may impersonate. Required, at least one. */
  allow: string[];
  /** The groups whose members can never be impersonated (administrators, say). Default none. */
  deny?: string[];
  /** Seconds after which an impersonated session ends (reason `impersonation-ended`). Default 3600. */
  maxDuration?: number;
}

/** {@link ImpersonationOptions} checked, with defaults. */
export interface ResolvedImpersonationOptions {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly maxDurationMs: number;
}

/** How the policy reports a bad value: the option's name and what is wrong with it. */
type Problem = (option: string, problem: string) => Error;

function groupList(option: string, value: unknown, problem: Problem): string[] {
  if (!Array.isArray(value) || value.some((group) => typeof group !== 'string' || group.length === 0)) {
    throw problem(option, 'must be an array of non-empty group names');
  }
  return [...(value as string[])];
}

/**
 * Checks `policy.impersonation` and fills in its defaults: undefined when it is absent (impersonation refused).
 * Kept apart from the rest of the policy, which passes `problem` to build its own start-up error.
 */
export function resolveImpersonationOptions(
  options: ImpersonationOptions | undefined,
  problem: Problem,
): ResolvedImpersonationOptions | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw problem('impersonation', 'must be an object: { allow: [groups who may impersonate], deny?, maxDuration? }');
  }
  const allow = groupList('impersonation.allow', options.allow, problem);
  // As with @Connected({ allow: [] }): an empty list would let nobody in, which is surely not what was meant.
  if (allow.length === 0) throw problem('impersonation.allow', 'must list at least one group (an empty list would let nobody impersonate)');
  const deny = options.deny === undefined ? [] : groupList('impersonation.deny', options.deny, problem);
  const { maxDuration = 3600 } = options;
  if (typeof maxDuration !== 'number' || !Number.isFinite(maxDuration) || maxDuration <= 0) {
    throw problem('impersonation.maxDuration', `must be a positive finite number of seconds (got ${String(maxDuration)})`);
  }
  return { allow, deny, maxDurationMs: Math.round(maxDuration * 1000) };
}
