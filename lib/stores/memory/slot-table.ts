import type { SessionRecord } from '../session-record.js';
import { SlotFields } from './slot-fields.js';
import { NO_LIST, NO_SLOT, SlotLinks, type SlotLists } from './slot-list.js';
import { SlotNumbers } from './slot-numbers.js';
import { grownRows } from './slot-rows.js';
import { SlotTimes } from './slot-times.js';

const BROWSER_SESSION_COOKIE = 1; // a bit of the `flags` column

const INITIAL_CAPACITY = 64;

/** Where a table finds the id of a session's owner, by the owner's number (a MemoryUsers row). */
export interface OwnerIds {
  idOf(owner: number): string;
}

/** Who acts as the user of an impersonated session (the record's `actorId` and `actorEpoch`). */
type Actor = { readonly id: string; readonly epoch: number | undefined };

/**
 * The sessions of a MemoryStore as columns indexed by a slot number, instead of one record object per session: the
 * numbers in typed arrays, the references (key, address, User-Agent, data) in plain arrays.
 * A session's owner is a number (its user's row, {@link NO_LIST} for an anonymous one). An idle session
 * then costs its columns and nothing else: no object headers, no boxed numbers, no empty `data` object.
 *
 * Slots freed by a removal are reused (last freed, first reused). Every slot is in exactly one list, threaded through
 * {@link SlotLinks}: its owner's, the anonymous one (both kept by the caller in {@link SlotLists}) or the free list
 * (kept here).
 *
 * Slot numbers stay valid until {@link compact}, which renumbers them and tells the caller how.
 */
export class SlotTable {
  private readonly times = new SlotTimes(INITIAL_CAPACITY);
  /** Epoch, due second (the one whose expiry bucket holds the slot's valid entry) and authentication time. */
  private readonly numbers = new SlotNumbers(INITIAL_CAPACITY);
  private readonly links = new SlotLinks(INITIAL_CAPACITY);
  /** One byte a slot for the record's booleans: a column of references would cost eight. */
  private flags = new Uint8Array(INITIAL_CAPACITY);
  private owners = new Int32Array(INITIAL_CAPACITY).fill(NO_LIST);
  // Grown by push only: setting a larger length would turn a big array into a slow dictionary.
  private keys: Array<string | undefined> = [];
  private ips: Array<string | undefined> = [];
  private agents: Array<string | undefined> = [];
  /** The actor of each impersonated session, by slot: they are rare, so a map costs the others nothing. */
  private actors = new Map<number, Actor>();
  private readonly fields = new SlotFields();
  private capacity = INITIAL_CAPACITY;
  private freeHead = NO_SLOT;
  private occupied = 0;

  constructor(private readonly ownerIds: OwnerIds) {}

  /** How many slots hold a session. */
  get size(): number {
    return this.occupied;
  }

  /** How many slots were ever handed out since the last compaction: what the reference columns cost. */
  get highWater(): number {
    return this.keys.length;
  }

  /**
   * Stores a session in a free slot and returns the slot, linked to no list yet. `ip` and `userAgent` are kept as
   * given; the numbers and `record.data`'s own fields are copied.
   */
  allocate(key: string, owner: number, record: SessionRecord, ip: string | undefined, userAgent: string | undefined): number {
    let slot = this.freeHead;
    if (slot !== NO_SLOT) {
      this.freeHead = this.links.next(slot);
      this.keys[slot] = key;
      this.ips[slot] = ip;
      this.agents[slot] = userAgent;
    } else {
      slot = this.keys.length;
      if (slot === this.capacity) this.grow();
      this.keys.push(key);
      this.ips.push(ip);
      this.agents.push(userAgent);
    }
    this.fields.put(slot, record.data);
    this.times.put(slot, record);
    this.numbers.put(slot, record.epoch, record.createdAt, record.authenticatedAt);
    this.flags[slot] = record.browserSessionCookie === true ? BROWSER_SESSION_COOKIE : 0;
    if (record.actorId !== undefined) this.actors.set(slot, { id: record.actorId, epoch: record.actorEpoch });
    this.owners[slot] = owner;
    this.links.push(slot, NO_SLOT);
    this.occupied++;
    return slot;
  }

  /** Frees a slot, which must be unlinked from its list first, and drops its references. */
  release(slot: number): void {
    this.keys[slot] = undefined;
    this.owners[slot] = NO_LIST;
    this.ips[slot] = undefined;
    this.agents[slot] = undefined;
    this.fields.clear(slot);
    this.actors.delete(slot);
    this.times.release(slot);
    this.numbers.release(slot);
    this.links.push(slot, this.freeHead);
    this.freeHead = slot;
    this.occupied--;
  }

  /** Whether `slot` holds a session now (a freed or never used slot does not). */
  isOccupied(slot: number): boolean {
    return this.keys[slot] !== undefined;
  }

  /** The key of the session in `slot`; undefined when the slot is free. */
  key(slot: number): string | undefined {
    return this.keys[slot];
  }

  /** The owner of the session in `slot`: its user's number, or {@link NO_LIST} for an anonymous session. */
  owner(slot: number): number {
    return this.owners[slot];
  }

  /** The client address of the session in `slot`, as stored (shared with other sessions of that address). */
  ip(slot: number): string | undefined {
    return this.ips[slot];
  }

  epoch(slot: number): number {
    return this.numbers.epoch(slot);
  }

  /** Carries a session into its user's new epoch (`closeUser` that keeps one session). */
  setEpoch(slot: number, epoch: number): void {
    this.numbers.setEpoch(slot, epoch);
  }

  createdAt(slot: number): number {
    return this.times.createdAt(slot);
  }

  /** The moment the session stops being valid (as `expiresAt` of its record). */
  expiresAt(slot: number): number {
    return this.times.expiresAt(slot);
  }

  dueSecond(slot: number): number {
    return this.numbers.dueSecond(slot);
  }

  setDueSecond(slot: number, second: number): void {
    this.numbers.setDueSecond(slot, second);
  }

  touch(slot: number, lastSeenAt: number, idleExpiresAt: number): void {
    this.times.touch(slot, lastSeenAt, idleExpiresAt);
  }

  /** Writes one data field of the session in `slot`. */
  setField(slot: number, field: string, value: string): void {
    this.fields.set(slot, field, value);
  }

  /** Removes one data field of the session in `slot`, if it has it. */
  deleteField(slot: number, field: string): void {
    this.fields.delete(slot, field);
  }

  /**
   * A new record of the session in `slot`, with its own `data` object: what a caller does to it never reaches the
   * table. Its properties come in the order SessionOpener.create builds records in, so both share one object shape.
   */
  record(slot: number): SessionRecord {
    const times = this.times;
    const createdAt = times.createdAt(slot);
    const record: SessionRecord = {
      epoch: this.numbers.epoch(slot),
      createdAt,
      lastSeenAt: times.lastSeenAt(slot),
      idleExpiresAt: times.idleExpiresAt(slot),
      absoluteExpiresAt: times.absoluteExpiresAt(slot),
      data: this.fields.copy(slot),
    };
    const owner = this.owners[slot];
    if (owner !== NO_LIST) record.userId = this.ownerIds.idOf(owner);
    const authenticatedAt = this.numbers.authenticatedAt(slot, createdAt);
    if (authenticatedAt !== undefined) record.authenticatedAt = authenticatedAt;
    if ((this.flags[slot] & BROWSER_SESSION_COOKIE) !== 0) record.browserSessionCookie = true;
    const actor = this.actors.get(slot);
    if (actor !== undefined) {
      record.actorId = actor.id;
      if (actor.epoch !== undefined) record.actorEpoch = actor.epoch;
    }
    const ip = this.ips[slot];
    if (ip !== undefined) record.ip = ip;
    const userAgent = this.agents[slot];
    if (userAgent !== undefined) record.userAgent = userAgent;
    return record;
  }

  /** See {@link SlotLinks.append} and {@link SlotLinks.unlink}: the lists are the caller's, the links the table's. */
  append(lists: SlotLists, list: number, slot: number): void {
    this.links.append(lists, list, slot);
  }

  unlink(lists: SlotLists, list: number, slot: number): void {
    this.links.unlink(lists, list, slot);
  }

  /** The keys of a list's sessions, oldest first: a copy, so that removing them one by one is safe. */
  keysOf(lists: SlotLists, list: number): string[] {
    const keys: string[] = [];
    for (let slot = lists.head(list); slot !== NO_SLOT; slot = this.links.next(slot)) keys.push(this.keys[slot]!);
    return keys;
  }

  /**
   * Whether enough slots are free that {@link compact} is worth its one pass: more than three quarters of what was
   * handed out, and more than a few thousand slots (a small table costs nothing worth the pass).
   */
  isSparse(): boolean {
    return this.keys.length >= 4096 && this.occupied * 4 <= this.keys.length;
  }

  /**
   * Moves the sessions to the lowest slots, keeping their order, and shrinks every column, so that a store that once
   * held many sessions gives the memory back. Returns the renumbering (old slot -> new slot, NO_SLOT for free
   * slots): links between slots are renumbered here, the caller renumbers what it holds (list heads, its index,
   * expiry buckets).
   */
  compact(): Int32Array {
    const highWater = this.keys.length;
    const renumber = new Int32Array(highWater).fill(NO_SLOT);
    let count = 0;
    for (let slot = 0; slot < highWater; slot++) {
      if (this.keys[slot] !== undefined) renumber[slot] = count++;
    }
    const capacity = Math.max(INITIAL_CAPACITY, count + (count >> 1));
    const flags = new Uint8Array(capacity);
    const keys: Array<string | undefined> = [];
    const owners = new Int32Array(capacity).fill(NO_LIST);
    const ips: Array<string | undefined> = [];
    const agents: Array<string | undefined> = [];
    for (let slot = 0; slot < highWater; slot++) {
      const to = renumber[slot];
      if (to === NO_SLOT) continue;
      flags[to] = this.flags[slot];
      keys.push(this.keys[slot]);
      owners[to] = this.owners[slot];
      ips.push(this.ips[slot]);
      agents.push(this.agents[slot]);
    }
    this.fields.compact(renumber);
    this.times.compact(renumber, capacity);
    this.numbers.compact(renumber, capacity);
    this.links.compact(renumber, capacity);
    this.flags = flags;
    this.keys = keys;
    this.owners = owners;
    this.ips = ips;
    this.agents = agents;
    const actors = new Map<number, Actor>();
    for (const [slot, actor] of this.actors) actors.set(renumber[slot], actor);
    this.actors = actors;
    this.capacity = capacity;
    this.freeHead = NO_SLOT;
    return renumber;
  }

  /**
   * Grows the typed columns by an eighth (the plain ones grow as they are pushed to): little room left unused, for
   * copying each slot about eight times over the table's growth, which is cheap next to filling it.
   */
  private grow(): void {
    this.capacity += this.capacity >> 3;
    this.times.grow(this.capacity);
    this.numbers.grow(this.capacity);
    this.links.grow(this.capacity);
    this.flags = grownRows(this.flags, new Uint8Array(this.capacity));
    this.owners = grownRows(this.owners, new Int32Array(this.capacity).fill(NO_LIST));
  }
}
