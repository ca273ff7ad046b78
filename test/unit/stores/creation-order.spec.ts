import { CreationOrder } from '../../../lib/stores/memory/creation-order.js';
import { NO_SLOT } from '../../../lib/stores/memory/slot-list.js';

describe('CreationOrder', () => {
  it('keeps slots in the order they were appended, whatever their numbers', () => {
    const order = new CreationOrder();
    expect(order.oldest).toBe(NO_SLOT);
    for (const slot of [5, 2, 9, 0]) order.append(slot);
    order.unlink(2);
    order.append(2);
    expect(order.slots()).toEqual([5, 9, 0, 2]);
    order.unlink(5);
    expect(order.oldest).toBe(9);
    expect(order.size).toBe(3);
  });

  it('grows past its first room and keeps the order through a compaction', () => {
    const order = new CreationOrder();
    // Newest first by number: slot 999 is the oldest.
    for (let slot = 999; slot >= 0; slot--) order.append(slot);
    for (let slot = 0; slot < 1_000; slot += 2) order.unlink(slot);
    // Odd slots move to the lowest numbers in their numeric order, as SlotTable.compact moves them.
    const renumber = new Int32Array(1_000).fill(NO_SLOT);
    for (let slot = 1; slot < 1_000; slot += 2) renumber[slot] = (slot - 1) / 2;
    order.compact(renumber);
    expect(order.slots()).toEqual(Array.from({ length: 500 }, (_, i) => 499 - i));
    order.append(500);
    expect(order.oldest).toBe(499);
    expect(order.slots().at(-1)).toBe(500);
  });
});
