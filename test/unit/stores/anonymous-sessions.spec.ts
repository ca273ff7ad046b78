import { AnonymousSessions } from '../../../lib/stores/memory/anonymous-sessions.js';
import { KeyIndex } from '../../../lib/stores/memory/key-index.js';
import { SlotTable } from '../../../lib/stores/memory/slot-table.js';
import { NO_LIST } from '../../../lib/stores/memory/slot-list.js';
import type { SessionRecord } from '../../../lib/stores/session-record.js';
import type { StoreLimits } from '../../../lib/stores/session-store.js';

const RECORD: SessionRecord = { epoch: 0, createdAt: 1, lastSeenAt: 1, idleExpiresAt: 2, absoluteExpiresAt: 3, data: {} };

/** A table, its key index and the anonymous sessions over them, removing what they evict as a store would. */
function setUp() {
  const table = new SlotTable({ idOf: () => 'nobody' });
  const index = new KeyIndex((slot) => table.key(slot));
  const evicted: string[] = [];
  const remove = (slot: number) => {
    const key = table.key(slot)!;
    anonymous.removed(slot, key);
    index.remove(key);
    table.release(slot);
    return key;
  };
  const anonymous: AnonymousSessions = new AnonymousSessions(table, index, (slot) => evicted.push(remove(slot)));
  let next = 0;
  const add = (ip: string | undefined, limits: StoreLimits): string => {
    const key = `k${next++}`;
    const slot = table.allocate(key, NO_LIST, RECORD, ip, undefined);
    index.add(key, slot);
    anonymous.added(slot, key, limits);
    return key;
  };
  return { table, index, evicted, anonymous, add, remove: (key: string) => remove(index.get(key)) };
}

describe('AnonymousSessions', () => {
  it('evicts the oldest of the same address past maxPerAddress, then the oldest of all past maxAnonymous', () => {
    const { evicted, add } = setUp();
    const limits = { maxAnonymous: 4, maxPerAddress: 2 };
    const b = add('b', limits);
    const [a1, a2, a3] = [add('a', limits), add('a', limits), add('a', limits)];
    expect(evicted).toEqual([a1]);
    const none = [add(undefined, limits), add(undefined, limits)];
    // Five anonymous sessions: the oldest of all (b's) goes; each group is within its bound.
    expect(evicted).toEqual([a1, b]);
    expect([a2, a3, ...none].every((key) => !evicted.includes(key))).toBe(true);
  });

  it('keeps no group for an address whose sessions are all gone', () => {
    const { anonymous, add, remove } = setUp();
    const limits = { maxAnonymous: 1_000, maxPerAddress: 1 };
    const keys = Array.from({ length: 100 }, (_, i) => add(`192.0.2.${i}`, limits));
    add('198.51.100.1', limits);
    add('198.51.100.1', limits);
    expect(anonymous.addresses).toBe(101);
    for (const key of keys) remove(key);
    expect(anonymous.addresses).toBe(1);
  });

  it('follows the table through a compaction', () => {
    const { table, index, evicted, anonymous, add, remove } = setUp();
    const limits = { maxAnonymous: 3, maxPerAddress: 2 };
    const keys = [add('a', limits), add('b', limits), add('c', limits)];
    remove(keys[0]!);
    const renumber = table.compact();
    index.renumber(renumber);
    anonymous.renumber(renumber);
    const [d1, d2] = [add('d', limits), add('d', limits)];
    // Four sessions past maxAnonymous 3: the oldest still there (b's) goes, found through the renumbered list.
    expect(evicted).toEqual([keys[1]]);
    expect(index.size).toBe(3);
    for (const key of [keys[2]!, d1, d2]) expect(table.key(index.get(key))).toBe(key);
  });
});
