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
  const { allow, deny, optional } = options;
  if (allow !== undefined && (!Array.isArray(allow) || allow.length === 0)) {
    throw new Error('@Connected({ allow }): allow must list at least one group (an empty list would admit nobody)');
  }
  if (deny !== undefined && !Array.isArray(deny)) throw new Error('@Connected({ deny }): deny must be a list of groups');
  for (const group of [...(allow ?? []), ...(deny ?? [])]) {
    if (typeof group !== 'string' || group.length === 0) throw new Error('@Connected: groups are non-empty strings');
  }
  const resolved: ConnectedOptions = { optional: optional === true };
  if (allow !== undefined) resolved.allow = [...allow];
  if (deny !== undefined) resolved.deny = [...deny];
  return SetMetadata(CONNECTED, Object.freeze(resolved));
}
