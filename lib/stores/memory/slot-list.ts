/*
 * The lists a MemoryStore threads its slots into (a user's sessions, the anonymous ones), oldest first. The links
 * themselves live in the SlotTable's columns; a list is only its two ends and its length, kept by whoever owns it.
 */

/** Who a connected session belongs to. The table reads only the id, which a session's record reports as `userId`. */
export interface SlotOwner {
  readonly id: string;
}

/** A doubly linked list of slots, in the order they were appended (oldest first). */
export interface SlotList {
  head: number;
  tail: number;
  count: number;
}

/** The "no slot" link: the end of a list, or an empty one. */
export const NO_SLOT = -1;

/** A new, empty list. */
export function emptySlotList(): SlotList {
  return { head: NO_SLOT, tail: NO_SLOT, count: 0 };
}

/** Renumbers the ends of a list after `SlotTable.compact`. */
export function renumberList(list: SlotList, renumber: Int32Array): void {
  if (list.head === NO_SLOT) return;
  list.head = renumber[list.head];
  list.tail = renumber[list.tail];
}

const PREV = 0;
const NEXT = 1;
const LINKS = 2;

/**
 * The links of every slot, two Int32 per slot in one array: each slot is in exactly one list (its owner's, the
 * anonymous one, or the table's free list), threaded through here.
 */
export class SlotLinks {
  private links: Int32Array;

  constructor(capacity: number) {
    this.links = new Int32Array(capacity * LINKS);
  }

  next(slot: number): number {
    return this.links[slot * LINKS + NEXT];
  }

  /** Makes `slot` a one-slot chain whose next is `next` (a free list's push). */
  push(slot: number, next: number): void {
    this.links[slot * LINKS + PREV] = NO_SLOT;
    this.links[slot * LINKS + NEXT] = next;
  }

  /** Links `slot` at the end of `list`. */
  append(list: SlotList, slot: number): void {
    const links = this.links;
    links[slot * LINKS + PREV] = list.tail;
    links[slot * LINKS + NEXT] = NO_SLOT;
    if (list.tail === NO_SLOT) list.head = slot;
    else links[list.tail * LINKS + NEXT] = slot;
    list.tail = slot;
    list.count++;
  }

  /** Takes `slot` out of `list`, which must hold it. */
  unlink(list: SlotList, slot: number): void {
    const links = this.links;
    const prev = links[slot * LINKS + PREV];
    const next = links[slot * LINKS + NEXT];
    if (prev === NO_SLOT) list.head = next;
    else links[prev * LINKS + NEXT] = next;
    if (next === NO_SLOT) list.tail = prev;
    else links[next * LINKS + PREV] = prev;
    list.count--;
  }

  /** Room for `capacity` slots, the links kept. */
  grow(capacity: number): void {
    const links = new Int32Array(capacity * LINKS);
    links.set(this.links);
    this.links = links;
  }

  /** The links renumbered after a compaction (old slot -> new slot, NO_SLOT for free ones), in `capacity` slots. */
  compact(renumber: Int32Array, capacity: number): void {
    const links = new Int32Array(capacity * LINKS);
    for (let slot = 0; slot < renumber.length; slot++) {
      const to = renumber[slot];
      if (to === NO_SLOT) continue;
      const prev = this.links[slot * LINKS + PREV];
      const next = this.links[slot * LINKS + NEXT];
      links[to * LINKS + PREV] = prev === NO_SLOT ? NO_SLOT : renumber[prev];
      links[to * LINKS + NEXT] = next === NO_SLOT ? NO_SLOT : renumber[next];
    }
    this.links = links;
  }
}
