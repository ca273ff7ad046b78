import { NO_SLOT } from '../../../lib/stores/memory/slot-list.js';
import { SlotNumbers } from '../../../lib/stores/memory/slot-numbers.js';

const DAY = 86_400_000;
const CREATED = 1_700_000_000_000;
/** 2023-11-14: a due second is counted from it. */
const BASE = 1_700_000_000;

/** Epochs: those an Int32 holds as themselves, then those it cannot (including the two values reserved inline). */
const INLINE_EPOCHS = [0, 1, 2 ** 31 - 1, -1, -(2 ** 31) + 2];
const WIDE_EPOCHS = [2 ** 31, 1.5, 2 ** 53, -(2 ** 31), -(2 ** 31) + 1, -0, Number.NaN, 1e300];

describe('SlotNumbers', () => {
  it('gives back every epoch exactly, keeping only those an Int32 cannot hold in the side map', () => {
    const numbers = new SlotNumbers(16, BASE);
    const epochs = [...INLINE_EPOCHS, ...WIDE_EPOCHS];
    epochs.forEach((epoch, slot) => numbers.put(slot, epoch, CREATED, undefined));
    epochs.forEach((epoch, slot) => expect(Object.is(numbers.epoch(slot), epoch)).toBe(true));
    expect(numbers.wideCount).toBe(WIDE_EPOCHS.length);
  });

  it('gives back authenticatedAt exactly, from absent to far before or after createdAt', () => {
    const numbers = new SlotNumbers(16, BASE);
    const cases: Array<[createdAt: number, authenticatedAt: number | undefined, wide: boolean]> = [
      [CREATED, undefined, false],
      [CREATED, CREATED, false],
      [CREATED, CREATED + 20 * DAY, false],
      [CREATED, CREATED - 20 * DAY, false],
      [CREATED, CREATED + 30 * DAY, true],
      [CREATED, CREATED - 40 * DAY, true],
      [CREATED, CREATED + 0.5, true],
      [CREATED + 0.25, CREATED + 1000.25, false],
      [0.1, 0.3, true],
      [CREATED, CREATED - 2 ** 31, true],
      [CREATED, CREATED - 2 ** 31 + 1, true],
      [CREATED, Number.NaN, true],
    ];
    cases.forEach(([createdAt, authenticatedAt], slot) => numbers.put(slot, 0, createdAt, authenticatedAt));
    cases.forEach(([createdAt, authenticatedAt], slot) => {
      // Object.is, so that NaN must come back as NaN and not as "absent".
      expect(Object.is(numbers.authenticatedAt(slot, createdAt), authenticatedAt)).toBe(true);
    });
    expect(numbers.wideCount).toBe(cases.filter(([, , wide]) => wide).length);
  });

  it('gives back due seconds exactly past 2038 and 2106, and before 1970', () => {
    const seconds = [BASE, 2 ** 31 + 100, 2 ** 32 + 5, 8.64e12, 0, -1e10, BASE + 0.5];
    const wide = [2 ** 32 + 5, 8.64e12, -1e10, BASE + 0.5];
    for (const numbers of [new SlotNumbers(8, BASE), new SlotNumbers(8)]) {
      seconds.forEach((second, slot) => numbers.setDueSecond(slot, second));
      seconds.forEach((second, slot) => expect(numbers.dueSecond(slot)).toBe(second));
    }
    const numbers = new SlotNumbers(8, BASE);
    seconds.forEach((second, slot) => numbers.setDueSecond(slot, second));
    expect(numbers.wideCount).toBe(wide.length);
  });

  it('drops a side value once the number fits again', () => {
    const numbers = new SlotNumbers(1, BASE);
    numbers.put(0, 2 ** 40, CREATED, CREATED + 30 * DAY);
    numbers.setDueSecond(0, 2 ** 33);
    expect(numbers.wideCount).toBe(3);
    numbers.setEpoch(0, 2);
    numbers.setAuthenticatedAt(0, CREATED, undefined);
    numbers.setDueSecond(0, BASE + 60);
    expect(numbers.wideCount).toBe(0);
    expect([numbers.epoch(0), numbers.authenticatedAt(0, CREATED), numbers.dueSecond(0)]).toEqual([2, undefined, BASE + 60]);
  });

  it('drops the side values of a released slot, and the slot starts clean when reused', () => {
    const numbers = new SlotNumbers(2, BASE);
    numbers.put(0, 2 ** 40, CREATED, CREATED - 40 * DAY);
    numbers.setDueSecond(0, 2 ** 33);
    numbers.put(1, 2 ** 41, CREATED, undefined);
    numbers.release(0);
    expect(numbers.wideCount).toBe(1);
    numbers.put(0, 3, CREATED, CREATED);
    numbers.setDueSecond(0, BASE);
    expect([numbers.epoch(0), numbers.authenticatedAt(0, CREATED), numbers.dueSecond(0)]).toEqual([3, CREATED, BASE]);
    expect(numbers.epoch(1)).toBe(2 ** 41);
    expect(numbers.wideCount).toBe(1);
  });

  it('keeps inline and side values as it grows', () => {
    const numbers = new SlotNumbers(1, BASE);
    for (let slot = 0; slot < 100; slot++) {
      if (slot > 0) numbers.grow(slot + 1);
      numbers.put(slot, slot % 2 ? 2 ** 40 + slot : slot, CREATED, slot % 3 ? CREATED + slot : CREATED + 30 * DAY + slot);
      numbers.setDueSecond(slot, slot % 5 ? BASE + slot : 2 ** 33 + slot);
    }
    for (let slot = 0; slot < 100; slot++) {
      expect(numbers.epoch(slot)).toBe(slot % 2 ? 2 ** 40 + slot : slot);
      expect(numbers.authenticatedAt(slot, CREATED)).toBe(slot % 3 ? CREATED + slot : CREATED + 30 * DAY + slot);
      expect(numbers.dueSecond(slot)).toBe(slot % 5 ? BASE + slot : 2 ** 33 + slot);
    }
  });

  it('moves inline and side values to their new slots on compaction and drops those of dropped slots', () => {
    const numbers = new SlotNumbers(6, BASE);
    for (let slot = 0; slot < 6; slot++) {
      numbers.put(slot, slot % 2 ? 2 ** 40 + slot : slot, CREATED, slot < 3 ? CREATED + slot : CREATED - 40 * DAY - slot);
      numbers.setDueSecond(slot, BASE + slot);
    }
    // Slots 1 and 4 dropped as compact finds them: not released first, their side values must not survive.
    const renumber = Int32Array.from([0, NO_SLOT, 1, 2, NO_SLOT, 3]);
    numbers.compact(renumber, 4);
    const kept = [0, 2, 3, 5];
    kept.forEach((from, to) => {
      expect(numbers.epoch(to)).toBe(from % 2 ? 2 ** 40 + from : from);
      expect(numbers.authenticatedAt(to, CREATED)).toBe(from < 3 ? CREATED + from : CREATED - 40 * DAY - from);
      expect(numbers.dueSecond(to)).toBe(BASE + from);
    });
    // Slot 3: wide epoch and authenticatedAt; slot 5: both wide.
    expect(numbers.wideCount).toBe(4);
  });
});
