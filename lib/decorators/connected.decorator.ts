import { SetMetadata } from '@nestjs/common';

export const CONNECTED = Symbol('nestjs-connected:connected');

/** Options of {@link Connected}. */
export interface ConnectedOptions {
  /** The user must be in at least one of these groups. An empty list is an error, not "everyone". */
  allow?: readonly string[];
  /** The user must be in none of these groups. Deny wins over allow. */
  deny?: readonly string[];
  /** Run the handler without a user instead of refusing it (Os_session `Opt`). */
  optional?: boolean;
  /**
   * Seconds: the user must have proved who they are (login, `reauthenticate()`) at most this long ago, or the request
   * is refused with `ReauthenticationRequiredException` (401, `code: 'reauthenticate'`). A positive number; not with
   * `optional` (a handler that runs for anyone has nothing to ask a password for).
   */
  fresh?: number;
}

/**
 * The handler (or every handler of the class) needs a connected user: 401 `NotConnectedException` without one,
 * 403 `PermissionDeniedException` outside `allow` or inside `deny`, 401 `ReauthenticationRequiredException` when the
 * login is older than `fresh` seconds. Works on controllers, resolvers and gateways.
 */
export function Connected(options: ConnectedOptions = {}): ClassDecorator & MethodDecorator {
  const { optional } = options;
  // Checked here, when the class is defined, as `allow` is: a typo must stop the start, not open the handler.
  const fresh: unknown = options.fresh;
  if (fresh !== undefined && (typeof fresh !== 'number' || !Number.isFinite(fresh) || fresh <= 0)) {
    throw new Error('@Connected({ fresh }): fresh must be a positive number of seconds');
  }
  if (fresh !== undefined && optional === true) {
    throw new Error('@Connected({ fresh, optional }): a handler that runs without a user cannot ask for a fresh login');
  }
  // Typed as unknown: the options may come from JavaScript, and each shape is checked here.
  const allow: unknown = options.allow;
  const deny: unknown = options.deny;
  if (allow !== undefined && (!Array.isArray(allow) || allow.length === 0)) {
    throw new Error('@Connected({ allow }): allow must list at least one group (an empty list would admit nobody)');
  }
  if (deny !== undefined && !Array.isArray(deny)) throw new Error('@Connected({ deny }): deny must be a list of groups');
  const groups = (list: unknown): string[] => {
    const checked: string[] = [];
    for (const group of (list ?? []) as unknown[]) {
      if (typeof group !== 'string' || group.length === 0) throw new Error('@Connected: groups are non-empty strings');
      checked.push(group);
    }
    return checked;
  };
  const allowed = groups(allow);
  const denied = groups(deny);
  const resolved: ConnectedOptions = { optional: optional === true };
  if (allow !== undefined) resolved.allow = allowed;
  if (deny !== undefined) resolved.deny = denied;
  if (fresh !== undefined) resolved.fresh = fresh;
  return SetMetadata(CONNECTED, Object.freeze(resolved));
}
