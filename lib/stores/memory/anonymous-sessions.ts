import type { StoreLimits } from '../session-store.js';
import { NO_ROW, type KeyLookup } from './key-index.js';
import { NO_SLOT, SlotLists } from './slot-list.js';
import type { SlotTable } from './slot-table.js';

const ALL = 0;

/**
 * The anonymous sessions of a MemoryStore and their two bounds (`StoreLimits`): all of them in creation order, for
 * `maxAnonymous`, and the same grouped by client address, for `maxPerAddress`, so that a flood from one address
 * evicts that address's own sessions and no one else's. Sessions without an address share one group.
 *
 * The creation order is a list threaded through the table's links (an anonymous slot is in no user's list). The
 * groups hold keys rather than slots, so that compaction leaves them as they are; an empty group is dropped, so that
 * an address seen once costs nothing once its sessions are gone.
 */
export class AnonymousSessions {
  /** One list, number {@link ALL}. */
  private readonly all = new SlotLists(1);
  /** How many slots {@link all} holds, for `maxAnonymous`: SlotLists keeps no length. */
  private count = 0;
  /** Address (undefined: none) -> keys of its sessions, oldest first (a Set keeps insertion order). */
  private readonly byAddress = new Map<string | undefined, Set<string>>();

  /**
   * @param index finds the slot of a key in the store.
   * @param evict removes the session in a slot (and tells who listens); it calls {@link removed} back.
   */
  constructor(
    private readonly table: SlotTable,
    private readonly index: KeyLookup,
    private readonly evict: (slot: number) => void,
  ) {}

  /** How many addresses hold anonymous sessions now. */
  get addresses(): number {
    return this.byAddress.size;
  }

  /**
   * Takes in the session just stored in `slot`, then evicts past the bounds: the oldest of its own address past
   * `maxPerAddress`, then the oldest of all past `maxAnonymous`. A listener told of an eviction may change the
   * store, so both counts are read again after each one.
   */
  added(slot: number, key: string, limits: StoreLimits): void {
    this.table.append(this.all, ALL, slot);
    this.count++;
    const ip = this.table.ip(slot);
    let group = this.byAddress.get(ip);
    if (group === undefined) {
      group = new Set();
      this.byAddress.set(ip, group);
    }
    group.add(key);
    const { maxPerAddress } = limits;
    for (let oldest = this.oldestPast(ip, maxPerAddress); oldest !== undefined; oldest = this.oldestPast(ip, maxPerAddress)) {
      this.evict(oldest);
    }
    while (this.count > limits.maxAnonymous && this.all.head(ALL) !== NO_SLOT) this.evict(this.all.head(ALL));
  }

  /** Forgets the session in `slot` (removed for any reason), before the table frees the slot. */
  removed(slot: number, key: string): void {
    this.table.unlink(this.all, ALL, slot);
    this.count--;
    const ip = this.table.ip(slot);
    const group = this.byAddress.get(ip);
    group?.delete(key);
    if (group?.size === 0) this.byAddress.delete(ip);
  }

  /** After `SlotTable.compact`. */
  renumber(renumber: Int32Array): void {
    this.all.renumber(ALL, renumber);
  }

  /** The slot of the oldest session of `ip` while the address holds more than `max`; undefined within the bound. */
  private oldestPast(ip: string | undefined, max: number | undefined): number | undefined {
    const group = this.byAddress.get(ip);
    if (max === undefined || group === undefined || group.size <= max) return undefined;
    const key = group.values().next().value;
    const slot = key === undefined ? NO_ROW : this.index.get(key);
    return slot === NO_ROW ? undefined : slot;
  }
}
