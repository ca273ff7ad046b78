import { NO_SLOT, SlotLinks, SlotLists } from './slot-list.js';

/** The one list of {@link CreationOrder}. */
const ALL = 0;

const FIRST_CAPACITY = 64;

/**
 * The sessions of a MemoryStore by slot, oldest first, for `maxSessions`: a list threaded through links of its own
 * (two Int32 a slot), since a SlotTable reuses slot numbers (they do not tell which session is older) and its own
 * links hold each slot in its owner's list. Grown as slots are appended (by an eighth, as the table), renumbered
 * and shrunk with the table by {@link compact}.
 */
export class CreationOrder {
  private links = new SlotLinks(FIRST_CAPACITY);
  private capacity = FIRST_CAPACITY;
  private readonly list = new SlotLists(1);
  /** The list's length, for `maxSessions`: SlotLists keeps none. */
  private count = 0;

  /** How many slots the order holds. */
  get size(): number {
    return this.count;
  }

  /** The oldest slot, or {@link NO_SLOT} when it holds none. */
  get oldest(): number {
    return this.list.head(ALL);
  }

  /** Appends `slot` (which it must not hold) as the newest. */
  append(slot: number): void {
    if (slot >= this.capacity) {
      this.capacity = Math.max(slot + 1, this.capacity + (this.capacity >> 3));
      this.links.grow(this.capacity);
    }
    this.links.append(this.list, ALL, slot);
    this.count++;
  }

  /** Takes out `slot`, which it must hold. */
  unlink(slot: number): void {
    this.links.unlink(this.list, ALL, slot);
    this.count--;
  }

  /** The slots, oldest first: a copy, so that removing them one by one is safe. */
  slots(): number[] {
    const slots: number[] = [];
    for (let slot = this.list.head(ALL); slot !== NO_SLOT; slot = this.links.next(slot)) slots.push(slot);
    return slots;
  }

  /** Renumbers the slots after `SlotTable.compact` (old slot -> new slot), keeping their order, in fewer links. */
  compact(renumber: Int32Array): void {
    const count = this.size;
    this.capacity = Math.max(FIRST_CAPACITY, count + (count >> 1));
    this.links.compact(renumber, this.capacity);
    this.list.renumber(ALL, renumber);
  }
}
