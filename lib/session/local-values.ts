import type { SessionKey } from './session-key.js';

type Values = Map<SessionKey<unknown>, unknown>;

/** A value dropped with its session, waiting for its key's `onDelete`. */
export interface DroppedValue {
  readonly key: SessionKey<unknown>;
  readonly value: unknown;
}

/**
 * Values of keys without `persist`: they stay in this server's memory (sockets, handles, mutexes), indexed by the
 * session's store key, the process id, or the user id. Taking a value out is what makes its `onDelete` run once.
 */
export class LocalValues {
  /** session and browser scopes, by session store key. */
  private readonly bySession = new Map<string, Values>();
  /** process scope, by session store key then process id. */
  private readonly byProcess = new Map<string, Map<string, Values>>();
  /** user scope, by user id. */
  private readonly byUser = new Map<string, Values>();

  get(sessionKey: string, key: SessionKey<unknown>): unknown {
    return this.bySession.get(sessionKey)?.get(key);
  }

  set(sessionKey: string, key: SessionKey<unknown>, value: unknown): void {
    mapOf(this.bySession, sessionKey).set(key, value);
  }

  delete(sessionKey: string, key: SessionKey<unknown>): boolean {
    return deleteFrom(this.bySession, sessionKey, key);
  }

  getProcess(sessionKey: string, process: string, key: SessionKey<unknown>): unknown {
    return this.byProcess.get(sessionKey)?.get(process)?.get(key);
  }

  setProcess(sessionKey: string, process: string, key: SessionKey<unknown>, value: unknown): void {
    mapOf(mapOf(this.byProcess, sessionKey), process).set(key, value);
  }

  deleteProcess(sessionKey: string, process: string, key: SessionKey<unknown>): boolean {
    const processes = this.byProcess.get(sessionKey);
    if (processes === undefined) return false;
    const removed = deleteFrom(processes, process, key);
    if (processes.size === 0) this.byProcess.delete(sessionKey);
    return removed;
  }

  getUser(userId: string, key: SessionKey<unknown>): unknown {
    return this.byUser.get(userId)?.get(key);
  }

  setUser(userId: string, key: SessionKey<unknown>, value: unknown): void {
    mapOf(this.byUser, userId).set(key, value);
  }

  deleteUser(userId: string, key: SessionKey<unknown>): boolean {
    return deleteFrom(this.byUser, userId, key);
  }

  /** Takes the browser-scoped values of a session out, to carry them to another session. */
  takeBrowser(sessionKey: string): Array<[SessionKey<unknown>, unknown]> {
    const values = this.bySession.get(sessionKey);
    if (values === undefined) return [];
    const browser = [...values].filter(([key]) => key.scope === 'browser');
    for (const [key] of browser) values.delete(key);
    if (values.size === 0) this.bySession.delete(sessionKey);
    return browser;
  }

  /** Whether a session holds browser-scoped values here. */
  hasBrowser(sessionKey: string): boolean {
    const values = this.bySession.get(sessionKey);
    if (values === undefined) return false;
    for (const key of values.keys()) if (key.scope === 'browser') return true;
    return false;
  }

  /** Takes out every value of a session (its processes included); the caller runs their `onDelete`. */
  takeAll(sessionKey: string): DroppedValue[] {
    const dropped: DroppedValue[] = [];
    for (const [key, value] of this.bySession.get(sessionKey) ?? []) dropped.push({ key, value });
    this.bySession.delete(sessionKey);
    for (const values of this.byProcess.get(sessionKey)?.values() ?? []) {
      for (const [key, value] of values) dropped.push({ key, value });
    }
    this.byProcess.delete(sessionKey);
    return dropped;
  }

  /** Takes out the values of one process; the caller runs their `onDelete`. */
  takeProcess(sessionKey: string, process: string): DroppedValue[] {
    const processes = this.byProcess.get(sessionKey);
    const values = processes?.get(process);
    if (processes === undefined || values === undefined) return [];
    processes.delete(process);
    if (processes.size === 0) this.byProcess.delete(sessionKey);
    return [...values].map(([key, value]) => ({ key, value }));
  }

  /** Every value of a session, for `onNoClient` (the caller decides what to drop). */
  entries(sessionKey: string): Array<[SessionKey<unknown>, unknown]> {
    return [...(this.bySession.get(sessionKey) ?? [])];
  }
}

function mapOf<K, V extends Map<unknown, unknown>>(maps: Map<K, V>, id: K): V {
  let map = maps.get(id);
  if (map === undefined) {
    map = new Map() as V;
    maps.set(id, map);
  }
  return map;
}

function deleteFrom<K>(maps: Map<K, Values>, id: K, key: SessionKey<unknown>): boolean {
  const map = maps.get(id);
  if (map === undefined) return false;
  const removed = map.delete(key);
  if (map.size === 0) maps.delete(id);
  return removed;
}
