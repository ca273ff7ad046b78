import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { Eventually, LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import { SessionValueTooLargeException } from '../exceptions/session-value-too-large.exception.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { SessionKey } from '../stores/session-key.js';
import { TimedStore } from '../stores/timed-store.js';
import { LocalValues } from './local-values.js';
import { fieldOf } from './record-fields.js';
import { SessionCloser } from './session-closer.js';
import { SessionLog } from './session-log.js';
import { SessionOpener } from './session-opener.js';
import { SessionResolver } from './session-resolver.js';

/** Reads and writes the values of typed keys in their four scopes (the data access of the engine). */
@Injectable()
export class SessionValues {
  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly context: SessionContext,
    private readonly resolver: SessionResolver,
    private readonly opener: SessionOpener,
    private readonly closer: SessionCloser,
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly log: SessionLog,
  ) {}

  async get<T>(key: SessionKey<T>, context = this.context.require('get()')): Promise<T | undefined> {
    return this.read(key, context);
  }

  /**
   * `get` for parameter decorators: synchronous once the request's session is known (the guard resolved it),
   * except for persisted `user` values, which are in the store.
   */
  read<T>(key: SessionKey<T>, context: RequestContext): Eventually<T | undefined> {
    assertKey(key);
    if (!context.resolved) return this.resolver.current(context).then((session) => this.valueOf(key, context, session));
    return this.valueOf(key, context, context.session);
  }

  private valueOf<T>(key: SessionKey<T>, context: RequestContext, session: LiveSession | undefined): Eventually<T | undefined> {
    switch (key.scope) {
      case 'session':
      case 'browser': {
        if (session === undefined || (key.scope === 'session' && session.record.userId === undefined)) return undefined;
        if (key.codec === undefined) return this.locals.get(session.key, key) as T | undefined;
        return this.decode(key, session.record.data[fieldOf(key as SessionKey<unknown>)]);
      }
      case 'user': {
        const userId = session?.record.userId;
        if (userId === undefined) return undefined;
        if (key.codec === undefined) return this.locals.getUser(userId, key) as T | undefined;
        return this.store.call('getUserField', userId, key.name).then((text) => this.decode(key, text));
      }
      case 'process': {
        if (session === undefined || context.processId === undefined) return undefined;
        return this.locals.getProcess(session.key, context.processId, key) as T | undefined;
      }
    }
  }

  async set<T>(key: SessionKey<T>, value: T, context = this.context.require('set()')): Promise<void> {
    assertKey(key);
    if (value === undefined) return this.remove(key, context);
    const anyKey = key as SessionKey<unknown>;
    switch (key.scope) {
      case 'session':
      case 'browser': {
        const stored = key.codec === undefined ? undefined : this.serialized(key, key.codec, value);
        const session = await this.sessionFor(key, context);
        if (stored === undefined) {
          await this.assertAlive(context, session, key.scope);
          this.locals.set(session.key, anyKey, value);
          return;
        }
        const field = fieldOf(key);
        const { text } = stored;
        this.assertSessionFits(anyKey, field, stored.bytes, session.record.data);
        if (!(await this.store.call('setField', session.key, field, text))) this.closedMeanwhile(context);
        session.record.data[field] = text;
        return;
      }
      case 'user': {
        const userId = (await this.connected(context, key)).record.userId!;
        if (key.codec === undefined) this.locals.setUser(userId, anyKey, value);
        else await this.store.call('setUserField', userId, key.name, this.serialized(key, key.codec, value).text);
        return;
      }
      case 'process': {
        const { session, process } = await this.process(context, key);
        await this.assertAlive(context, session, key.scope);
        const evicted = this.locals.setProcess(session.key, process, anyKey, value);
        for (const dropped of evicted) await this.closer.runOnDelete(dropped.key, dropped.value);
        return;
      }
    }
  }

  async remove(key: SessionKey<unknown>, context = this.context.require('remove()')): Promise<void> {
    assertKey(key);
    const session = await this.resolver.current(context);
    switch (key.scope) {
      case 'session':
      case 'browser': {
        if (session === undefined) return;
        if (key.codec === undefined) this.locals.delete(session.key, key);
        else {
          // Always ask the store: on a shared one, another server may have set the field since this record was read.
          await this.store.call('deleteField', session.key, fieldOf(key));
          delete session.record.data[fieldOf(key)];
        }
        return;
      }
      case 'user': {
        const userId = session?.record.userId;
        if (userId === undefined) return;
        if (key.codec === undefined) this.locals.deleteUser(userId, key);
        else await this.store.call('setUserField', userId, key.name, undefined);
        return;
      }
      case 'process': {
        if (session !== undefined && context.processId !== undefined) {
          this.locals.deleteProcess(session.key, context.processId, key);
        }
        return;
      }
    }
  }

  /** The session a session- or browser-scoped write goes to; a browser write before login opens an anonymous one. */
  private async sessionFor(key: SessionKey<unknown>, context: RequestContext): Promise<LiveSession> {
    if (key.scope === 'session') return this.connected(context, key);
    const session = await this.resolver.current(context);
    if (session !== undefined) return session;
    if (!context.transport.canSetCookies) throw new NotConnectedException('Browser data needs a session');
    return this.opener.open(context, undefined);
  }

  private async connected(context: RequestContext, key: SessionKey<unknown>): Promise<LiveSession> {
    const session = await this.resolver.current(context);
    if (session?.record.userId === undefined) {
      throw new NotConnectedException(`'${key.name}' is ${key.scope}-scoped data and needs a connected user`);
    }
    return session;
  }

  private async process(context: RequestContext, key: SessionKey<unknown>): Promise<{ session: LiveSession; process: string }> {
    if (context.processId === undefined) {
      throw new BadRequestException(`'${key.name}' is process-scoped data and needs the ${this.policy.processHeader} header`);
    }
    const session = await this.resolver.current(context);
    if (session === undefined) throw new NotConnectedException(`'${key.name}' is process-scoped data and needs a session`);
    return { session, process: context.processId };
  }

  /** A persisted value's serialized form, checked against `maxValueBytes` before anything is opened or written. */
  private serialized<T>(key: SessionKey<T>, codec: { serialize(value: T): string }, value: T): { text: string; bytes: number } {
    const text = codec.serialize(value);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.policy.maxValueBytes) {
      throw new SessionValueTooLargeException(
        `The value of '${key.name}' is ${bytes} bytes; the limit is ${this.policy.maxValueBytes} (maxValueBytes)`,
      );
    }
    return { text, bytes };
  }

  /**
   * `maxSessionBytes`: the session's persisted fields with this one in place, as this request read them. Values kept
   * in memory are objects of the application's own (sockets, handles) and are not measured.
   */
  private assertSessionFits(key: SessionKey<unknown>, field: string, bytes: number, data: Readonly<Record<string, string>>): void {
    let total = Buffer.byteLength(field, 'utf8') + bytes;
    for (const [name, value] of Object.entries(data)) {
      if (name !== field) total += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
    }
    if (total > this.policy.maxSessionBytes) {
      throw new SessionValueTooLargeException(
        `Setting '${key.name}' would make the session's stored values ${total} bytes; the limit is ${this.policy.maxSessionBytes} (maxSessionBytes)`,
      );
    }
  }

  /** A value kept in memory must not outlive its session: refuse it when the session closed meanwhile. */
  private async assertAlive(context: RequestContext, session: LiveSession, scope: SessionKey<unknown>['scope']): Promise<void> {
    const stored = await this.store.call('get', session.key);
    // A disconnectAll that kept the browser's data leaves an anonymous session under the same key: for session and
    // process values, that is not the session this request saw.
    if (stored === undefined || (scope !== 'browser' && stored.userId !== session.record.userId)) this.closedMeanwhile(context);
  }

  private closedMeanwhile(context: RequestContext): never {
    context.adopt(undefined);
    throw new NotConnectedException('The session was closed');
  }

  private decode<T>(key: SessionKey<T>, text: string | undefined): T | undefined {
    if (text === undefined) return undefined;
    try {
      return key.codec!.deserialize(text);
    } catch {
      this.log.warn(`A stored value of key '${key.name}' could not be decoded; it reads as absent`);
      return undefined;
    }
  }
}

function assertKey(key: unknown): void {
  if (!(key instanceof SessionKey)) throw new TypeError('nestjs-connected: expected a SessionKey');
}
