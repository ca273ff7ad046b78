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
}

/**
 * The handler (or every handler of the class) needs a connected user: 401 `NotConnectedException` without one,
 * 403 `PermissionDeniedException` outside `allow` or inside `deny`. Works on controllers and gateways.
 */
export function Connected(options: ConnectedOptions = {}): ClassDecorator & MethodDecorator {
  const { optional } = options;
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
  return SetMetadata(CONNECTED, Object.freeze(resolved));
}
