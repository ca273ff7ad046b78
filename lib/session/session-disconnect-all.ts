import { Injectable } from '@nestjs/common';
import type { LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import { SessionEvents } from '../events/session-events.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import type { SessionRecord } from '../stores/session-record.js';
import { TimedStore } from '../stores/timed-store.js';
import { LocalValues } from './local-values.js';
import { actorOf, persistedValues } from './record-fields.js';
import { SessionCloser } from './session-closer.js';
import { SessionCookie } from './session-cookie.js';
import { SessionOpener } from './session-opener.js';
import { SessionResolver } from './session-resolver.js';

/** Options of `SessionService.disconnectAll()`. */
export interface DisconnectAllOptions {
  /** The user whose sessions close; default: the current request's user. */
  userId?: string;
  /** Default true: each closed browser's `browser` data goes too. False keeps it under its cookie, anonymous. */
  userIndep?: boolean;
  /**
   * Keep the current request's session (and its sockets and streams) and close every other session of its user:
   * "log out my other devices", after a password change. Needs a request of a connected session.
   */
  exceptCurrent?: boolean;
}

/**
 * `disconnectAll()` (Os_session's `disconnect_all`): every session of a user, on every device and server, in one
 * store step (`closeUser`: the user's epoch moves on, so that a session the index missed is dead too), or every
 * session but the current one (`exceptCurrent`: the store carries that one into the new epoch in the same step).
 */
@Injectable()
export class SessionDisconnectAll {
  constructor(
    private readonly context: SessionContext,
    private readonly resolver: SessionResolver,
    private readonly opener: SessionOpener,
    private readonly closer: SessionCloser,
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly cookie: SessionCookie,
    private readonly events: SessionEvents,
  ) {}

  /** Closes the user's sessions (but the current one, with `exceptCurrent`); resolves how many it closed. */
  async disconnectAll(options: DisconnectAllOptions = {}): Promise<number> {
    const context = this.context.current();
    const { userId, keep } = await this.target(context, options);
    const transport = context?.transport.kind ?? 'http';
    const base = { type: 'pre-close-session', transport, userId, reason: 'disconnect-all' } as const;
    const listed = (await this.store.call('listUser', userId)).filter(([key]) => key !== keep?.key);
    for (const [key, record] of listed) await this.events.emit({ ...base, ...actorOf(record), session: key });
    const taken = new Map(listed.map(([key]) => [key, this.locals.takeAll(key)] as const));
    let closed: Array<[string, SessionRecord]>;
    try {
      closed = await (keep === undefined ? this.store.call('closeUser', userId) : this.store.call('closeUser', userId, keep.key));
    } catch (error) {
      for (const [key, values] of taken) this.locals.restore(key, values);
      throw error;
    }
    // Os_session's default: a stolen cookie of a closed browser must not live on as an anonymous session.
    const keepBrowser = options.userIndep === false;
    const currentKey = context?.session?.key;
    for (const [key, record] of closed) {
      // Sessions opened after the listing were not announced: they get both events, late but in order.
      if (!taken.has(key)) await this.events.emit({ ...base, ...actorOf(record), session: key });
      const values = taken.get(key) ?? this.locals.takeAll(key);
      const kept = keepBrowser ? await this.opener.keepBrowserData(key, record, values) : undefined;
      const moved = kept === undefined ? [] : values.filter((value) => value.key.scope === 'browser');
      await this.closer.runOnDeletes(
        values.filter((value) => !moved.includes(value)),
        persistedValues(record, kept !== undefined),
      );
      if (context !== undefined && key === currentKey) {
        context.adopt(kept);
        if (kept === undefined) this.cookie.clear(context.transport);
      }
    }
    for (const [key, record] of closed) {
      await this.events.emit({ ...base, type: 'post-close-session', ...actorOf(record), session: key });
    }
    if (context !== undefined && keep !== undefined && !closed.some(([key]) => key === keep.key)) await this.reread(context, keep);
    return closed.length;
  }

  /** The user to close, and the session to keep; the errors of a call that cannot say either. */
  private async target(
    context: RequestContext | undefined,
    options: DisconnectAllOptions,
  ): Promise<{ userId: string; keep?: LiveSession }> {
    if (options.exceptCurrent !== true) {
      if (options.userId !== undefined) return { userId: options.userId };
      if (context === undefined) throw new Error('nestjs-connected: disconnectAll() outside a request needs { userId }');
      const userId = (await this.resolver.current(context))?.record.userId;
      if (userId === undefined) throw new NotConnectedException();
      return { userId };
    }
    if (context === undefined) {
      throw new Error(
        'nestjs-connected: disconnectAll({ exceptCurrent: true }) needs a request: outside one there is no current session to keep',
      );
    }
    const current = await this.resolver.current(context);
    const userId = current?.record.userId;
    if (current === undefined || userId === undefined) throw new NotConnectedException();
    if (options.userId !== undefined && options.userId !== userId) {
      throw new Error(
        "nestjs-connected: disconnectAll({ userId, exceptCurrent: true }) names another user than the current session's: exceptCurrent keeps the current session, so it only closes the current user's other sessions",
      );
    }
    return { userId, keep: current };
  }

  /**
   * The kept session as the store has it now (its new epoch), or none when it ended meanwhile (a racing close): the
   * rest of the request must not run on a session that is gone. A store that cannot answer leaves it as it was.
   */
  private async reread(context: RequestContext, keep: LiveSession): Promise<void> {
    const record = await this.store.call('get', keep.key).catch(() => null);
    if (record === null) return;
    if (record !== undefined && record.userId === keep.record.userId) {
      context.adopt({ key: keep.key, record });
    } else {
      context.adopt(undefined);
      this.cookie.clear(context.transport);
    }
  }
}
