import { NO_SLOT, SlotLinks, SlotLists } from '../../../lib/stores/memory/slot-list.js';

/** A small deterministic generator (xorshift32), so that a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
}

/**
 * The slots of `list` from its head by NEXT links, at most `limit` of them: a broken list that loops comes back
 * longer than any list can be rather than hanging the test.
 */
function walk(links: SlotLinks, lists: SlotLists, list: number, limit = 1_000): number[] {
  const slots: number[] = [];
  for (let slot = lists.head(list); slot !== NO_SLOT && slots.length <= limit; slot = links.next(slot)) slots.push(slot);
  return slots;
}

/** What a list looks like from outside: its order, its head and its tail (the head's back link). */
function seen(links: SlotLinks, lists: SlotLists, list: number): { order: number[]; head: number; tail: number } {
  return { order: walk(links, lists, list), head: lists.head(list), tail: links.tail(lists, list) };
}

function expected(order: number[]): { order: number[]; head: number; tail: number } {
  return { order, head: order[0] ?? NO_SLOT, tail: order.at(-1) ?? NO_SLOT };
}

/** One list (number 0) holding `slots` in that order, in links with room for 16 slots. */
function listOf(...slots: number[]): { links: SlotLinks; lists: SlotLists } {
  const links = new SlotLinks(16);
  const lists = new SlotLists(1);
  for (const slot of slots) links.append(lists, 0, slot);
  return { links, lists };
}

describe('SlotLists and SlotLinks', () => {
  it('give an empty list no head and no tail', () => {
    const { links, lists } = listOf();
    expect(seen(links, lists, 0)).toEqual(expected([]));
  });

  it('make one slot both the head and the tail, and empty the list again when it leaves', () => {
    const { links, lists } = listOf(7);
    expect(seen(links, lists, 0)).toEqual(expected([7]));
    expect(links.next(7)).toBe(NO_SLOT);
    links.unlink(lists, 0, 7);
    expect(seen(links, lists, 0)).toEqual(expected([]));
    links.append(lists, 0, 3);
    expect(seen(links, lists, 0)).toEqual(expected([3]));
  });

  it('keep the tail through an unlink of the head, and append after it', () => {
    const { links, lists } = listOf(4, 9, 2);
    links.unlink(lists, 0, 4);
    expect(seen(links, lists, 0)).toEqual(expected([9, 2]));
    links.append(lists, 0, 5);
    expect(seen(links, lists, 0)).toEqual(expected([9, 2, 5]));
  });

  it('move the tail back through an unlink of the tail, and append after the new one', () => {
    const { links, lists } = listOf(4, 9, 2);
    links.unlink(lists, 0, 2);
    expect(seen(links, lists, 0)).toEqual(expected([4, 9]));
    links.append(lists, 0, 5);
    expect(seen(links, lists, 0)).toEqual(expected([4, 9, 5]));
    links.unlink(lists, 0, 5);
    links.unlink(lists, 0, 9);
    expect(seen(links, lists, 0)).toEqual(expected([4]));
  });

  it('keep both ends through an unlink in the middle', () => {
    const { links, lists } = listOf(4, 9, 2);
    links.unlink(lists, 0, 9);
    expect(seen(links, lists, 0)).toEqual(expected([4, 2]));
    links.unlink(lists, 0, 4);
    expect(seen(links, lists, 0)).toEqual(expected([2]));
    links.unlink(lists, 0, 2);
    expect(seen(links, lists, 0)).toEqual(expected([]));
  });

  it('renumber the tail with the links in a compaction', () => {
    const { links, lists } = listOf(9, 3, 12);
    const renumber = new Int32Array(16).fill(NO_SLOT);
    [renumber[9], renumber[3], renumber[12]] = [2, 0, 1];
    links.compact(renumber, 4);
    lists.renumber(0, renumber);
    expect(seen(links, lists, 0)).toEqual(expected([2, 0, 1]));
    links.append(lists, 0, 3);
    expect(seen(links, lists, 0)).toEqual(expected([2, 0, 1, 3]));
  });

  it('keep every list through growth, the new ones empty, and empty a list on reset', () => {
    const links = new SlotLinks(4);
    const lists = new SlotLists(2);
    links.append(lists, 0, 0);
    links.append(lists, 1, 1);
    links.append(lists, 0, 2);
    lists.grow(5);
    links.grow(8);
    expect(lists.capacity).toBe(5);
    links.append(lists, 4, 6);
    links.append(lists, 1, 7);
    expect([0, 1, 2, 3, 4].map((list) => seen(links, lists, list))).toEqual([[0, 2], [1, 7], [], [], [6]].map(expected));
    lists.reset(1);
    expect(seen(links, lists, 1)).toEqual(expected([]));
  });

  it('agree with arrays through many random appends, unlinks and compactions over several lists', () => {
    const SLOTS = 40;
    const LISTS = 5;
    const next = random(20_250_917);
    const links = new SlotLinks(SLOTS);
    const lists = new SlotLists(LISTS);
    const model: number[][] = Array.from({ length: LISTS }, () => []);
    // Which cases the walk went through: each must come up, or the test proves less than it says.
    const cases = { appendToEmpty: 0, append: 0, unlinkOnly: 0, unlinkHead: 0, unlinkTail: 0, unlinkMiddle: 0, compact: 0 };
    for (let step = 0; step < 5_000; step++) {
      const held = model.flat();
      const free = Array.from({ length: SLOTS }, (_, slot) => slot).filter((slot) => !held.includes(slot));
      // Phases of 250 steps that fill and drain, so that lists are often empty or of one slot and sometimes long.
      const appendPercent = Math.floor(step / 250) % 2 === 0 ? 70 : 30;
      const roll = next(100);
      if (roll < 4 && held.length > 0) {
        // A random renumbering: the held slots onto distinct numbers anywhere in the room, the free ones NO_SLOT.
        const numbers = Array.from({ length: SLOTS }, (_, slot) => slot);
        for (let i = numbers.length - 1; i > 0; i--) {
          const j = next(i + 1);
          [numbers[i], numbers[j]] = [numbers[j]!, numbers[i]!];
        }
        const renumber = new Int32Array(SLOTS).fill(NO_SLOT);
        held.forEach((slot, i) => (renumber[slot] = numbers[i]!));
        links.compact(renumber, SLOTS);
        for (let list = 0; list < LISTS; list++) {
          lists.renumber(list, renumber);
          model[list] = model[list]!.map((slot) => renumber[slot]!);
        }
        cases.compact++;
      } else if ((roll < appendPercent && free.length > 0) || held.length === 0) {
        const slot = free[next(free.length)]!;
        const list = next(LISTS);
        cases[model[list]!.length === 0 ? 'appendToEmpty' : 'append']++;
        links.append(lists, list, slot);
        model[list]!.push(slot);
      } else {
        const slot = held[next(held.length)]!;
        const list = model.findIndex((slots) => slots.includes(slot));
        const slots = model[list]!;
        const at = slots.indexOf(slot);
        cases[slots.length === 1 ? 'unlinkOnly' : at === 0 ? 'unlinkHead' : at === slots.length - 1 ? 'unlinkTail' : 'unlinkMiddle']++;
        links.unlink(lists, list, slot);
        slots.splice(at, 1);
      }
      const actual = model.map((_, list) => seen(links, lists, list));
      expect({ step, lists: actual }).toEqual({ step, lists: model.map(expected) });
    }
    for (const [name, count] of Object.entries(cases)) expect([name, count > 20]).toEqual([name, true]);
  });
});
