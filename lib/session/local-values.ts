import type { SessionKey } from '../stores/session-key.js';

type Values = Map<SessionKey<unknown>, unknown>;

/** The most client processes (tabs) whose values one session keeps in memory. */
export const MAX_PROCESSES = 100;

/** A value dropped with its session, waiting for its key's `onDelete`. */
export interface DroppedValue {
  readonly key: SessionKey<unknown>;
  readonly value: unknown;
  /** The process it belonged to, for process-scoped values. */
  readonly process?: string;
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

  /**
   * Sets a process-scoped value. Process ids come from the client, so a session keeps the values of at most
   * `maxProcesses` of them: past that, the values of its oldest process are handed back, for their `onDelete`.
   */
  setProcess(sessionKey: string, process: string, key: SessionKey<unknown>, value: unknown, maxProcesses = MAX_PROCESSES): DroppedValue[] {
    const processes = mapOf(this.byProcess, sessionKey);
    mapOf(processes, process).set(key, value);
    const dropped: DroppedValue[] = [];
    while (processes.size > maxProcesses) {
      const [oldest, values] = processes.entries().next().value as [string, Values];
      processes.delete(oldest);
      for (const [oldKey, oldValue] of values) dropped.push({ key: oldKey, value: oldValue, process: oldest });
    }
    return dropped;
  }

  deleteProcess(sessionKey: string, process: string, key: SessionKey<unknown>): boolean {
    const processes = this.byProcess.get(sessionKey);
    if (processes === undefined) return false;
    const removed = deleteFrom(processes, process, key);
    if (processes.size === 0) this.byProcess.delete(sessionKey);
    return removed;
  }

  /** Takes out the values of one process (a socket that closed); the caller runs their `onDelete`. */
  takeProcess(sessionKey: string, process: string): DroppedValue[] {
    const processes = this.byProcess.get(sessionKey);
    const values = processes?.get(process);
    if (processes === undefined || values === undefined) return [];
    processes.delete(process);
    if (processes.size === 0) this.byProcess.delete(sessionKey);
    return [...values].map(([key, value]) => ({ key, value, process }));
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
    for (const [process, values] of this.byProcess.get(sessionKey) ?? []) {
      for (const [key, value] of values) dropped.push({ key, value, process });
    }
    this.byProcess.delete(sessionKey);
    return dropped;
  }

  /** The session- and browser-scoped values a session holds here. */
  entries(sessionKey: string): Array<[SessionKey<unknown>, unknown]> {
    return [...(this.bySession.get(sessionKey) ?? [])];
  }

  /** Puts back what `takeAll` took, when the close it was taken for failed. */
  restore(sessionKey: string, values: DroppedValue[]): void {
    for (const { key, value, process } of values) {
      if (process === undefined) this.set(sessionKey, key, value);
      else this.setProcess(sessionKey, process, key, value, Number.POSITIVE_INFINITY);
    }
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
