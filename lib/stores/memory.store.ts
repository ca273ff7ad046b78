import { Logger } from '@nestjs/common';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { describeError } from '../exceptions/describe-error.js';
import { decodeSessionRecord, expiresAt, FIELD_PREFIX, type SessionRecord } from '../session/session-record.js';
import type { SessionStore, StoreLimits, StoreRemoval, StoreRemovalReason } from './session-store.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Where to write the live sessions (with their `persist` values) when the application shuts down; they are read
   * back, and the file deleted, when it starts. Written atomically with mode 0600.
   */
  snapshotFile?: string;
  /** The most sessions kept; past it the oldest is evicted. Default 1,000,000. */
  maxSessions?: number;
}

interface UserEntry {
  epoch: number;
  readonly keys: Set<string>;
  readonly fields: Map<string, string>;
}

interface Snapshot {
  version: 1;
  sessions: Array<[string, unknown]>;
  users: Array<[string, { epoch: number; fields: Array<[string, string]> }]>;
}

const SECOND = 1000;

/**
 * The default store: one process, no dependencies. Every operation is O(1) but `listUser`/`closeUser` (O(sessions
 * of that user)); expiry runs once a second over buckets of one second each, so it costs what expires, not what is
 * stored.
 */
export class MemoryStore implements SessionStore {
  private readonly logger = new Logger('MemoryStore');
  private readonly sessions = new Map<string, SessionRecord>();
  /** Anonymous session keys in creation order, for the anonymous cap. */
  private readonly anonymous = new Set<string>();
  private readonly users = new Map<string, UserEntry>();
  /** Expiry second -> keys that expire within it. */
  private readonly buckets = new Map<number, Set<string>>();
  private readonly bucketOf = new Map<string, number>();
  private readonly listeners = new Set<(removal: StoreRemoval) => void>();
  private readonly maxSessions: number;
  private sweptUpTo = Math.floor(Date.now() / SECOND);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MemoryStoreOptions = {}) {
    this.maxSessions = options.maxSessions ?? 1_000_000;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new Error('MemoryStore: maxSessions must be a positive integer');
    }
    this.startSweeper();
  }

  /** How many sessions are held now. */
  get size(): number {
    return this.sessions.size;
  }

  async create(key: string, record: SessionRecord, limits: StoreLimits): Promise<boolean> {
    if (this.sessions.has(key)) return false;
    this.sessions.set(key, record);
    this.schedule(key, record);
    if (record.userId === undefined) {
      this.anonymous.add(key);
      while (this.anonymous.size > limits.maxAnonymous) {
        this.remove(this.anonymous.values().next().value as string, 'evicted');
      }
    } else {
      this.user(record.userId).keys.add(key);
    }
    while (this.sessions.size > this.maxSessions) {
      this.remove(this.sessions.keys().next().value as string, 'evicted');
    }
    return true;
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    return this.live(key);
  }

  async setField(key: string, field: string, value: string): Promise<boolean> {
    const record = this.live(key);
    // An anonymous record holds browser data only: a late session-scoped write of a closed session must not land in
    // the anonymous record that disconnectAll left under the same key.
    if (record === undefined || (record.userId === undefined && field.startsWith(FIELD_PREFIX.session))) return false;
    record.data[field] = value;
    return true;
  }

  async deleteField(key: string, field: string): Promise<boolean> {
    const record = this.live(key);
    if (record === undefined) return false;
    delete record.data[field];
    return true;
  }

  async touch(key: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean> {
    const record = this.live(key);
    if (record === undefined) return false;
    record.lastSeenAt = lastSeenAt;
    record.idleExpiresAt = idleExpiresAt;
    this.schedule(key, record);
    return true;
  }

  async destroy(key: string): Promise<SessionRecord | undefined> {
    return this.remove(key, 'destroyed');
  }

  async listUser(userId: string): Promise<Array<[string, SessionRecord]>> {
    const entry = this.users.get(userId);
    if (entry === undefined) return [];
    const live: Array<[string, SessionRecord]> = [];
    for (const key of [...entry.keys]) {
      const record = this.live(key);
      if (record !== undefined) live.push([key, record]);
    }
    return live.sort((a, b) => a[1].createdAt - b[1].createdAt);
  }

  async closeUser(userId: string): Promise<Array<[string, SessionRecord]>> {
    const entry = this.user(userId);
    entry.epoch += 1;
    const closed: Array<[string, SessionRecord]> = [];
    for (const key of [...entry.keys]) {
      const record = this.remove(key, 'destroyed');
      if (record !== undefined) closed.push([key, record]);
    }
    return closed;
  }

  async epochOf(userId: string): Promise<number> {
    return this.users.get(userId)?.epoch ?? 0;
  }

  async getUserField(userId: string, field: string): Promise<string | undefined> {
    return this.users.get(userId)?.fields.get(field);
  }

  async setUserField(userId: string, field: string, value: string | undefined): Promise<void> {
    if (value === undefined) {
      const entry = this.users.get(userId);
      entry?.fields.delete(field);
      if (entry !== undefined) this.forgetIfEmpty(userId, entry);
    } else {
      this.user(userId).fields.set(field, value);
    }
  }

  subscribe(listener: (removal: StoreRemoval) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async open(): Promise<void> {
    this.startSweeper();
    if (this.options.snapshotFile !== undefined) await this.readSnapshot(this.options.snapshotFile);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.snapshotFile !== undefined) await this.writeSnapshot(this.options.snapshotFile);
  }

  /** Runs expiry now for everything due; the timer calls it once a second. Returns how many sessions expired. */
  sweep(now = Date.now()): number {
    const until = Math.floor(now / SECOND);
    let expired = 0;
    for (let second = this.sweptUpTo; second <= until; second++) {
      const keys = this.buckets.get(second);
      if (keys === undefined) continue;
      for (const key of keys) {
        const record = this.sessions.get(key);
        if (record !== undefined && expiresAt(record) <= now) {
          this.remove(key, 'expired');
          expired++;
        }
      }
      // Keys that are not due yet (expiring later within the current second) stay for the next sweep.
      if (second < until || keys.size === 0) this.buckets.delete(second);
    }
    this.sweptUpTo = until;
    return expired;
  }

  private startSweeper(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), SECOND);
    this.timer.unref();
  }

  private user(userId: string): UserEntry {
    let entry = this.users.get(userId);
    if (entry === undefined) {
      entry = { epoch: 0, keys: new Set(), fields: new Map() };
      this.users.set(userId, entry);
    }
    return entry;
  }

  private forgetIfEmpty(userId: string, entry: UserEntry): void {
    if (entry.epoch === 0 && entry.keys.size === 0 && entry.fields.size === 0) this.users.delete(userId);
  }

  /** The record if it is there, in date and not behind its user's epoch; otherwise removes it. */
  private live(key: string): SessionRecord | undefined {
    const record = this.sessions.get(key);
    if (record === undefined) return undefined;
    if (expiresAt(record) <= Date.now()) {
      this.remove(key, 'expired');
      return undefined;
    }
    if (record.userId !== undefined && record.epoch < (this.users.get(record.userId)?.epoch ?? 0)) {
      this.remove(key, 'destroyed');
      return undefined;
    }
    return record;
  }

  private schedule(key: string, record: SessionRecord): void {
    // A record due before the last sweep goes in the bucket the next sweep reads first.
    const second = Math.max(Math.floor(expiresAt(record) / SECOND), this.sweptUpTo);
    const previous = this.bucketOf.get(key);
    if (previous === second) return;
    if (previous !== undefined) this.buckets.get(previous)?.delete(key);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(second, bucket);
    }
    bucket.add(key);
    this.bucketOf.set(key, second);
  }

  private remove(key: string, reason: StoreRemovalReason): SessionRecord | undefined {
    const record = this.sessions.get(key);
    if (record === undefined) return undefined;
    this.sessions.delete(key);
    this.anonymous.delete(key);
    const second = this.bucketOf.get(key);
    if (second !== undefined) this.buckets.get(second)?.delete(key);
    this.bucketOf.delete(key);
    if (record.userId !== undefined) {
      const entry = this.users.get(record.userId);
      if (entry !== undefined) {
        entry.keys.delete(key);
        this.forgetIfEmpty(record.userId, entry);
      }
    }
    for (const listener of this.listeners) {
      try {
        listener({ key, reason, record });
      } catch (error) {
        this.logger.error(`A store listener failed: ${describeError(error)}`);
      }
    }
    return record;
  }

  private async writeSnapshot(file: string): Promise<void> {
    const now = Date.now();
    const snapshot: Snapshot = {
      version: 1,
      sessions: [...this.sessions].filter(([, record]) => expiresAt(record) > now),
      users: [...this.users].map(([userId, entry]) => [userId, { epoch: entry.epoch, fields: [...entry.fields] }]),
    };
    const temp = `${file}.${process.pid}.tmp`;
    // A leftover temp file would keep its own mode: remove it and create the file afresh, exclusively, as 0600.
    await unlink(temp).catch(() => undefined);
    await writeFile(temp, JSON.stringify(snapshot), { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
    this.logger.log(`Wrote ${snapshot.sessions.length} sessions to the snapshot file`);
  }

  private async readSnapshot(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(`Could not read the snapshot file: ${describeError(error)}`);
      }
      return;
    }
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(text) as Snapshot;
      if (snapshot?.version !== 1 || !Array.isArray(snapshot.sessions) || !Array.isArray(snapshot.users)) {
        throw new Error('not a version 1 snapshot');
      }
    } catch (error) {
      this.logger.warn(`Ignored a corrupt snapshot file: ${describeError(error)}`);
      return;
    }
    const now = Date.now();
    let skipped = 0;
    for (const item of snapshot.users) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || item[0] === '__proto__') continue;
      const [userId, saved] = item;
      if (!Number.isInteger(saved?.epoch) || !Array.isArray(saved.fields)) continue;
      const entry = this.user(userId);
      entry.epoch = Math.max(entry.epoch, saved.epoch);
      for (const field of saved.fields) {
        if (Array.isArray(field) && typeof field[0] === 'string' && typeof field[1] === 'string') {
          entry.fields.set(field[0], field[1]);
        }
      }
    }
    for (const item of snapshot.sessions) {
      const key = Array.isArray(item) ? item[0] : undefined;
      const record = Array.isArray(item) ? decodeSessionRecord(item[1]) : undefined;
      if (typeof key !== 'string' || record === undefined || expiresAt(record) <= now) {
        skipped++;
        continue;
      }
      await this.create(key, record, { maxAnonymous: Number.POSITIVE_INFINITY });
    }
    await unlink(file).catch(() => undefined);
    this.logger.log(`Read ${this.sessions.size} sessions from the snapshot file${skipped ? ` (${skipped} skipped)` : ''}`);
  }
}
