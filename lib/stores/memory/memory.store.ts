/* eslint-disable @typescript-eslint/require-await -- the store methods are `async` on purpose: the contract returns
   promises, and anything one of them throws must reach the caller as a rejection, as a networked store's would. */
import { Logger } from '@nestjs/common';
import { decodeSessionRecord, expiresAt, FIELD_PREFIX, type SessionRecord } from '../session-record.js';
import type { SessionStore, StoreLimits, StoreRemoval, StoreRemovalReason } from '../session-store.js';
import { StoreListeners } from '../store-listeners.js';
import { AnonymousSessions } from './anonymous-sessions.js';
import { CreationOrder } from './creation-order.js';
import { KeyIndex, NO_ROW } from './key-index.js';
import { MemoryExpiry } from './memory-expiry.js';
import { MemoryUsers, NO_USER } from './memory-users.js';
import { deleteSnapshotFile, readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';
import { NO_SLOT } from './slot-list.js';
import { SlotTable } from './slot-table.js';
import { StringInterner } from './string-interner.js';

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

/**
 * The default store: one process, no dependencies. Every operation is O(1) but `listUser`/`closeUser` (O(sessions
 * of that user)); expiry runs once a second over buckets of one second each, so it costs what expires, not what is
 * stored.
 *
 * Sessions are kept as columns of a {@link SlotTable} rather than as record objects, with the User-Agent and
 * address strings shared between sessions: an idle session costs about a third of what its record object would.
 * `get` and `peek` therefore build a new record on each call; what a caller does to it never reaches the store. A
 * key's slot is found through a {@link KeyIndex} over the table's keys (rows only, no second reference to a key),
 * the oldest session for `maxSessions` through a {@link CreationOrder}.
 */
export class MemoryStore implements SessionStore {
  private readonly logger = new Logger('MemoryStore');
  private readonly users = new MemoryUsers();
  private readonly table = new SlotTable(this.users);
  /** Key -> slot, over the table's keys. */
  private readonly index = new KeyIndex((slot) => this.table.key(slot));
  private readonly order = new CreationOrder();
  private readonly anonymous = new AnonymousSessions(this.table, this.index, (slot) => this.remove(slot, 'evicted'));
  private readonly expiry = new MemoryExpiry(this.table, (slot) => this.remove(slot, 'expired'));
  private readonly ips = new StringInterner();
  private readonly userAgents = new StringInterner();
  private readonly listeners = new StoreListeners(this.logger);
  private readonly maxSessions: number;

  constructor(private readonly options: MemoryStoreOptions = {}) {
    this.maxSessions = options.maxSessions ?? 1_000_000;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new Error('MemoryStore: maxSessions must be a positive integer');
    }
    this.expiry.start(() => this.sweep());
  }

  /** How many sessions are held now. */
  get size(): number {
    return this.index.size;
  }

  /** {@inheritDoc SessionStore.create} */
  async create(key: string, record: SessionRecord, limits: StoreLimits): Promise<boolean> {
    if (this.index.get(key) !== NO_ROW) return false;
    const owner = record.userId === undefined ? NO_USER : this.users.entry(record.userId);
    const ip = this.ips.intern(record.ip);
    const userAgent = this.userAgents.intern(record.userAgent);
    const slot = this.table.allocate(key, owner, record, ip, userAgent);
    this.index.add(key, slot);
    this.order.append(slot);
    this.expiry.added(slot);
    if (owner === NO_USER) this.anonymous.added(slot, key, limits);
    else this.table.append(this.users.lists, owner, slot);
    while (this.index.size > this.maxSessions) this.remove(this.order.oldest, 'evicted');
    return true;
  }

  /** {@inheritDoc SessionStore.get} */
  async get(key: string): Promise<SessionRecord | undefined> {
    return this.peek(key);
  }

  /** {@inheritDoc SessionStore.peek} */
  peek(key: string): SessionRecord | undefined {
    const slot = this.live(key);
    return slot === NO_SLOT ? undefined : this.table.record(slot);
  }

  /** {@inheritDoc SessionStore.setField} */
  async setField(key: string, field: string, value: string): Promise<boolean> {
    const slot = this.live(key);
    // An anonymous record holds browser data only: a late session-scoped write of a closed session must not land in
    // the anonymous record that disconnectAll left under the same key.
    if (slot === NO_SLOT || (this.table.owner(slot) === NO_USER && field.startsWith(FIELD_PREFIX.session))) {
      return false;
    }
    this.table.setField(slot, field, value);
    return true;
  }

  /** {@inheritDoc SessionStore.deleteField} */
  async deleteField(key: string, field: string): Promise<boolean> {
    const slot = this.live(key);
    if (slot === NO_SLOT) return false;
    this.table.deleteField(slot, field);
    return true;
  }

  /** {@inheritDoc SessionStore.touch} */
  async touch(key: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean> {
    const slot = this.live(key);
    if (slot === NO_SLOT) return false;
    this.table.touch(slot, lastSeenAt, idleExpiresAt);
    // A touch per request costs no bucket entry unless it moves the expiry earlier.
    this.expiry.touched(slot);
    return true;
  }

  /** {@inheritDoc SessionStore.destroy} */
  async destroy(key: string, movedTo?: string): Promise<SessionRecord | undefined> {
    const slot = this.index.get(key);
    return slot === NO_ROW ? undefined : this.remove(slot, 'destroyed', true, movedTo);
  }

  /** {@inheritDoc SessionStore.listUser} */
  async listUser(userId: string): Promise<Array<[string, SessionRecord]>> {
    return this.liveOf(userId);
  }

  /** {@inheritDoc SessionStore.trimUser} */
  async trimUser(userId: string, max: number, candidates: readonly string[]): Promise<Array<[string, SessionRecord]>> {
    // Counted and removed without an await in between: no other call can run meanwhile.
    const live = this.liveOf(userId);
    const allowed = new Set(candidates);
    const removed: Array<[string, SessionRecord]> = [];
    for (const [key] of live) {
      if (removed.length >= live.length - max) break;
      // A listener told of an earlier removal may have removed this one already.
      const slot = allowed.has(key) ? this.index.get(key) : NO_ROW;
      if (slot !== NO_ROW) removed.push([key, this.remove(slot, 'destroyed', true)!]);
    }
    return removed;
  }

  /** {@inheritDoc SessionStore.closeUser} */
  async closeUser(userId: string, keep?: string): Promise<Array<[string, SessionRecord]>> {
    // `keep` is checked before the bump (which would make it stale) and carried over with no await in between, so
    // nothing can race it. The entry is taken after the check: a check that removes an expired session may forget it.
    let kept = keep === undefined ? NO_SLOT : this.live(keep);
    const user = this.users.entry(userId);
    if (kept !== NO_SLOT && this.table.owner(kept) !== user) kept = NO_SLOT;
    const epoch = this.users.bump(user);
    if (kept !== NO_SLOT) this.table.setEpoch(kept, epoch);
    const closed: Array<[string, SessionRecord]> = [];
    for (const key of this.table.keysOf(this.users.lists, user)) {
      if (kept !== NO_SLOT && key === keep) continue;
      // A listener told of an earlier removal may have removed this one already.
      const slot = this.index.get(key);
      if (slot !== NO_ROW) closed.push([key, this.remove(slot, 'destroyed', true)!]);
    }
    return closed;
  }

  /** {@inheritDoc SessionStore.epochOf} */
  async epochOf(userId: string): Promise<number> {
    return this.users.epochOf(userId);
  }

  /** {@inheritDoc SessionStore.getUserField} */
  async getUserField(userId: string, field: string): Promise<string | undefined> {
    return this.users.field(userId, field);
  }

  /** {@inheritDoc SessionStore.setUserField} */
  async setUserField(userId: string, field: string, value: string | undefined): Promise<void> {
    this.users.setField(userId, field, value);
  }

  /** {@inheritDoc SessionStore.subscribe} */
  subscribe(listener: (removal: StoreRemoval) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Starts the expiry timer (again, after `close`) and reads the snapshot file, if there is one. */
  async open(): Promise<void> {
    this.expiry.start(() => this.sweep());
    if (this.options.snapshotFile !== undefined) await this.readSnapshot(this.options.snapshotFile);
  }

  /** Stops the expiry timer and writes the snapshot file, if one is configured. */
  async close(): Promise<void> {
    this.expiry.stop();
    if (this.options.snapshotFile !== undefined) await this.writeSnapshot(this.options.snapshotFile);
  }

  /**
   * Runs expiry now for everything due; the timer calls it once a second. Returns how many sessions expired. A call
   * made by a listener during a sweep does nothing (and returns 0): the sweep under way goes on to the end.
   */
  sweep(now = Date.now()): number {
    if (this.expiry.isSweeping) return 0;
    const expired = this.expiry.sweep(now);
    if (this.table.isSparse()) this.compact();
    return expired;
  }

  /** The live sessions of a user, oldest first (equal times in creation order); removes those found dead. */
  private liveOf(userId: string): Array<[string, SessionRecord]> {
    const user = this.users.find(userId);
    if (user === NO_USER) return [];
    const live: Array<[string, SessionRecord]> = [];
    for (const key of this.table.keysOf(this.users.lists, user)) {
      const slot = this.live(key);
      if (slot !== NO_SLOT) live.push([key, this.table.record(slot)]);
    }
    return live.sort((a, b) => a[1].createdAt - b[1].createdAt);
  }

  /** The slot if the session is there, in date and not behind its user's epoch; otherwise removes it. */
  private live(key: string): number {
    const slot = this.index.get(key);
    if (slot === NO_ROW) return NO_SLOT;
    if (this.table.expiresAt(slot) <= Date.now()) {
      this.remove(slot, 'expired');
      return NO_SLOT;
    }
    const owner = this.table.owner(slot);
    if (owner !== NO_USER && this.table.epoch(slot) < this.users.epoch(owner)) {
      this.remove(slot, 'destroyed');
      return NO_SLOT;
    }
    return slot;
  }

  /**
   * Removes the session in `slot` and tells the listeners. The record is built only for them or for a caller that
   * asks for it (`wanted`): a sweep with nobody listening builds none.
   */
  private remove(slot: number, reason: StoreRemovalReason, wanted = false, movedTo?: string): SessionRecord | undefined {
    const key = this.table.key(slot)!;
    const record = wanted || this.listeners.size > 0 ? this.table.record(slot) : undefined;
    this.index.remove(key);
    this.order.unlink(slot);
    const owner = this.table.owner(slot);
    if (owner === NO_USER) this.anonymous.removed(slot, key);
    else this.table.unlink(this.users.lists, owner, slot);
    this.table.release(slot);
    if (owner !== NO_USER) this.users.forgetIfEmpty(owner);
    if (record !== undefined) this.listeners.notify(movedTo === undefined ? { key, reason, record } : { key, reason, record, movedTo });
    return record;
  }

  /** Gives the memory of a once larger store back: renumbers the slots and everything that holds slot numbers. */
  private compact(): void {
    const renumber = this.table.compact();
    this.index.renumber(renumber);
    this.order.compact(renumber);
    this.users.renumber(renumber);
    this.anonymous.renumber(renumber);
    this.expiry.rebuild(this.order.slots());
  }

  private async writeSnapshot(file: string): Promise<void> {
    const now = Date.now();
    const sessions: Array<[string, SessionRecord]> = [];
    // Oldest first: read back in the file's order, the sessions keep their order for maxSessions.
    for (const slot of this.order.slots()) {
      if (this.table.expiresAt(slot) > now) sessions.push([this.table.key(slot)!, this.table.record(slot)]);
    }
    await writeSnapshotFile(file, { version: 1, sessions, users: this.users.saved() });
    this.logger.log(`Wrote ${sessions.length} sessions to the snapshot file`);
  }

  private async readSnapshot(file: string): Promise<void> {
    const snapshot = await readSnapshotFile(file, this.logger);
    if (snapshot === undefined) return;
    const now = Date.now();
    let skipped = 0;
    this.users.restore(snapshot.users);
    for (const item of snapshot.sessions) {
      const key = Array.isArray(item) ? item[0] : undefined;
      const record = Array.isArray(item) ? decodeSessionRecord(item[1]) : undefined;
      if (typeof key !== 'string' || record === undefined || expiresAt(record) <= now) {
        skipped++;
        continue;
      }
      await this.create(key, record, { maxAnonymous: Number.POSITIVE_INFINITY });
    }
    await deleteSnapshotFile(file);
    this.logger.log(`Read ${this.index.size} sessions from the snapshot file${skipped ? ` (${skipped} skipped)` : ''}`);
  }
}
