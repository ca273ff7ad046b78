/*
 * The lists a MemoryStore threads its slots into (a user's sessions, the anonymous ones), oldest first. The links
 * live in the SlotTable (SlotLinks); a list is only its head, in the SlotLists of its owner. Its tail is the head's
 * PREV link (a back link that closes the chain into a ring one way only: the tail's NEXT is still NO_SLOT), so that
 * an append finds it in O(1) without a second Int32 a list. A list keeps no length: the owners that need one (the
 * creation order, the anonymous sessions) count for themselves, and the others only ask whether it is empty.
 */

/** The "no slot" link: the end of a list, or an empty one. */
export const NO_SLOT = -1;

/** "No list number": the owner of a slot that belongs to no user (an anonymous session). */
export const NO_LIST = -1;

/**
 * Doubly linked lists of slots, each in the order its slots were appended (oldest first), numbered from 0: a list is
 * only its head, one Int32 (4 B a user, and a store with one session per user has as many lists as sessions): the
 * tail is reached through the head's back link, and the owners that need a length keep their own. One object per
 * list (per user) would cost several times that.
 */
export class SlotLists {
  private heads: Int32Array;

  /** Room for `capacity` lists, all empty. */
  constructor(capacity: number) {
    this.heads = new Int32Array(capacity).fill(NO_SLOT);
  }

  /** How many lists there is room for. */
  get capacity(): number {
    return this.heads.length;
  }

  /** The oldest slot of `list`, or {@link NO_SLOT} when it is empty. For its tail, see {@link SlotLinks.tail}. */
  head(list: number): number {
    return this.heads[list];
  }

  /** Empties `list` (a list number handed out again). */
  reset(list: number): void {
    this.heads[list] = NO_SLOT;
  }

  /** Room for `capacity` lists, the existing ones kept and the new ones empty. */
  grow(capacity: number): void {
    const heads = new Int32Array(capacity).fill(NO_SLOT);
    heads.set(this.heads);
    this.heads = heads;
  }

  /**
   * Renumbers the head of `list` after `SlotTable.compact` (old slot -> new slot). The tail needs nothing here: it
   * is a link, renumbered with the others by {@link SlotLinks.compact}.
   */
  renumber(list: number, renumber: Int32Array): void {
    const head = this.heads[list];
    if (head !== NO_SLOT) this.heads[list] = renumber[head];
  }

  /** For {@link SlotLinks}: the head after an append or an unlink. */
  setHead(list: number, head: number): void {
    this.heads[list] = head;
  }
}

const PREV = 0;
const NEXT = 1;
const LINKS = 2;

/**
 * The links of every slot, two Int32 per slot in one array: each slot is in exactly one list (its owner's, the
 * anonymous one, or the table's free list), threaded through here.
 *
 * In a list of {@link SlotLists}, NEXT runs from the head to the tail and ends at {@link NO_SLOT}; PREV runs back
 * from the tail, and the head's PREV is the tail (the head's own slot when it is alone), not NO_SLOT. So "is this
 * slot the head?" is a comparison with `SlotLists.head`, never a test of PREV. The free list uses NEXT only.
 */
export class SlotLinks {
  private links: Int32Array;

  constructor(capacity: number) {
    this.links = new Int32Array(capacity * LINKS);
  }

  next(slot: number): number {
    return this.links[slot * LINKS + NEXT];
  }

  /** The newest slot of list `list` of `lists` (the head's back link), or {@link NO_SLOT} when it is empty. */
  tail(lists: SlotLists, list: number): number {
    const head = lists.head(list);
    return head === NO_SLOT ? NO_SLOT : this.links[head * LINKS + PREV];
  }

  /** Makes `slot` a one-slot chain whose next is `next` (a free list's push). */
  push(slot: number, next: number): void {
    this.links[slot * LINKS + PREV] = NO_SLOT;
    this.links[slot * LINKS + NEXT] = next;
  }

  /** Links `slot` at the end of list `list` of `lists`: the new tail, so the head's back link moves to it. */
  append(lists: SlotLists, list: number, slot: number): void {
    const links = this.links;
    const head = lists.head(list);
    links[slot * LINKS + NEXT] = NO_SLOT;
    if (head === NO_SLOT) {
      links[slot * LINKS + PREV] = slot;
      lists.setHead(list, slot);
      return;
    }
    const tail = links[head * LINKS + PREV];
    links[slot * LINKS + PREV] = tail;
    links[tail * LINKS + NEXT] = slot;
    links[head * LINKS + PREV] = slot;
  }

  /**
   * Takes `slot` out of list `list` of `lists`, which must hold it. The head's PREV is the tail, so whether `slot`
   * is the head is asked of `lists`. Whichever end leaves, the head's back link ends up at the tail that is left.
   */
  unlink(lists: SlotLists, list: number, slot: number): void {
    const links = this.links;
    const head = lists.head(list);
    const prev = links[slot * LINKS + PREV];
    const next = links[slot * LINKS + NEXT];
    if (slot === head) {
      // prev is the tail: the new head (if any) keeps pointing back at it.
      if (next !== NO_SLOT) links[next * LINKS + PREV] = prev;
      lists.setHead(list, next);
      return;
    }
    links[prev * LINKS + NEXT] = next;
    // When `slot` was the tail, prev is the new one, and the head's back link must say so.
    if (next === NO_SLOT) links[head * LINKS + PREV] = prev;
    else links[next * LINKS + PREV] = prev;
  }

  /** Room for `capacity` slots, the links kept. */
  grow(capacity: number): void {
    const links = new Int32Array(capacity * LINKS);
    links.set(this.links);
    this.links = links;
  }

  /**
   * The links renumbered after a compaction (old slot -> new slot, NO_SLOT for free ones), in `capacity` slots. A
   * head's PREV (its list's tail) is a slot like any other and is renumbered with them.
   */
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
