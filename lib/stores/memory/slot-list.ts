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
