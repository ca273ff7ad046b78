/*
 * The lists a MemoryStore threads its slots into (a user's sessions, the anonymous ones), oldest first. The links
 * live in the SlotTable (SlotLinks); a list is only its two ends and its length, in the SlotLists of its owner.
 */

/** The "no slot" link: the end of a list, or an empty one. */
export const NO_SLOT = -1;

/** "No list number": the owner of a slot that belongs to no user (an anonymous session). */
export const NO_LIST = -1;

const HEAD = 0;
const TAIL = 1;
const COUNT = 2;
const ENDS = 3;

/**
 * Doubly linked lists of slots, each in the order its slots were appended (oldest first), numbered from 0: a list is
 * only its two ends and its length, three Int32 side by side. One object per list (per user) would cost several
 * times that.
 */
export class SlotLists {
  private ends: Int32Array;

  /** Room for `capacity` lists, all empty. */
  constructor(capacity: number) {
    this.ends = emptyEnds(capacity);
  }

  /** How many lists there is room for. */
  get capacity(): number {
    return this.ends.length / ENDS;
  }

  head(list: number): number {
    return this.ends[list * ENDS + HEAD];
  }

  tail(list: number): number {
    return this.ends[list * ENDS + TAIL];
  }

  count(list: number): number {
    return this.ends[list * ENDS + COUNT];
  }

  /** Empties `list` (a list number handed out again). */
  reset(list: number): void {
    this.ends[list * ENDS + HEAD] = NO_SLOT;
    this.ends[list * ENDS + TAIL] = NO_SLOT;
    this.ends[list * ENDS + COUNT] = 0;
  }

  /** Room for `capacity` lists, the existing ones kept and the new ones empty. */
  grow(capacity: number): void {
    const ends = emptyEnds(capacity);
    ends.set(this.ends);
    this.ends = ends;
  }

  /** Renumbers the ends of `list` after `SlotTable.compact` (old slot -> new slot). */
  renumber(list: number, renumber: Int32Array): void {
    const at = list * ENDS;
    if (this.ends[at + HEAD] === NO_SLOT) return;
    this.ends[at + HEAD] = renumber[this.ends[at + HEAD]];
    this.ends[at + TAIL] = renumber[this.ends[at + TAIL]];
  }

  /** For {@link SlotLinks}: the ends and length after an append or an unlink. */
  setEnds(list: number, head: number, tail: number, count: number): void {
    const at = list * ENDS;
    this.ends[at + HEAD] = head;
    this.ends[at + TAIL] = tail;
    this.ends[at + COUNT] = count;
  }
}

function emptyEnds(capacity: number): Int32Array {
  const ends = new Int32Array(capacity * ENDS).fill(NO_SLOT);
  for (let at = COUNT; at < ends.length; at += ENDS) ends[at] = 0;
  return ends;
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

  /** Links `slot` at the end of list `list` of `lists`. */
  append(lists: SlotLists, list: number, slot: number): void {
    const links = this.links;
    const tail = lists.tail(list);
    links[slot * LINKS + PREV] = tail;
    links[slot * LINKS + NEXT] = NO_SLOT;
    if (tail !== NO_SLOT) links[tail * LINKS + NEXT] = slot;
    lists.setEnds(list, tail === NO_SLOT ? slot : lists.head(list), slot, lists.count(list) + 1);
  }

  /** Takes `slot` out of list `list` of `lists`, which must hold it. */
  unlink(lists: SlotLists, list: number, slot: number): void {
    const links = this.links;
    const prev = links[slot * LINKS + PREV];
    const next = links[slot * LINKS + NEXT];
    let head = lists.head(list);
    let tail = lists.tail(list);
    if (prev === NO_SLOT) head = next;
    else links[prev * LINKS + NEXT] = next;
    if (next === NO_SLOT) tail = prev;
    else links[next * LINKS + PREV] = prev;
    lists.setEnds(list, head, tail, lists.count(list) - 1);
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
