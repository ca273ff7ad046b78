import { MemoryUsers, NO_USER } from '../../../lib/stores/memory/memory-users.js';
import { NO_SLOT, SlotLinks } from '../../../lib/stores/memory/slot-list.js';

describe('MemoryUsers', () => {
  it('hands out one row per user, with its id, an epoch of 0 and an empty list', () => {
    const users = new MemoryUsers();
    expect(users.find('alice')).toBe(NO_USER);
    const alice = users.entry('alice');
    const bob = users.entry('bob');
    expect(users.entry('alice')).toBe(alice);
    expect(bob).not.toBe(alice);
    expect(users.find('alice')).toBe(alice);
    expect(users.idOf(bob)).toBe('bob');
    expect(users.epoch(alice)).toBe(0);
    expect(users.lists.head(alice)).toBe(NO_SLOT);
  });

  it('forgets a user who holds nothing, and starts a reused row clean', () => {
    const users = new MemoryUsers();
    const links = new SlotLinks(4);
    const alice = users.entry('alice');
    links.append(users.lists, alice, 0);
    users.forgetIfEmpty(alice);
    expect(users.find('alice')).toBe(alice);
    links.unlink(users.lists, alice, 0);
    users.forgetIfEmpty(alice);
    expect(users.find('alice')).toBe(NO_USER);

    const carol = users.entry('carol');
    expect(carol).toBe(alice);
    expect(users.idOf(carol)).toBe('carol');
    expect(users.lists.head(carol)).toBe(NO_SLOT);
    expect(users.epochOf('alice')).toBe(0);
  });

  it('keeps a user whose epoch moved or who has a field', () => {
    const users = new MemoryUsers();
    const alice = users.entry('alice');
    expect(users.bump(alice)).toBe(1);
    users.forgetIfEmpty(alice);
    expect(users.epochOf('alice')).toBe(1);

    users.setField('bob', 'pref', 'x');
    expect(users.field('bob', 'pref')).toBe('x');
    expect(users.find('bob')).not.toBe(NO_USER);
    users.setField('bob', 'pref', undefined);
    expect(users.field('bob', 'pref')).toBeUndefined();
    expect(users.find('bob')).toBe(NO_USER);
    users.setField('nobody', 'pref', undefined);
    expect(users.find('nobody')).toBe(NO_USER);
  });

  it('keeps every row intact as it grows far past its first capacity', () => {
    const users = new MemoryUsers();
    const links = new SlotLinks(1000);
    const rows = Array.from({ length: 1000 }, (_, i) => users.entry(`user-${i}`));
    rows.forEach((row, i) => {
      links.append(users.lists, row, i);
      for (let j = 0; j < i % 3; j++) users.bump(row);
    });
    rows.forEach((row, i) => {
      expect(users.idOf(row)).toBe(`user-${i}`);
      expect(users.epoch(row)).toBe(i % 3);
      expect([users.lists.head(row), links.tail(users.lists, row), links.next(i)]).toEqual([i, i, NO_SLOT]);
    });
  });

  it('bumps an epoch past what an Int32 holds, exactly', () => {
    const users = new MemoryUsers();
    const alice = users.entry('alice');
    users.restore([['alice', { epoch: 2 ** 31 - 2, fields: [] }]]);
    expect([users.bump(alice), users.bump(alice), users.bump(alice)]).toEqual([2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1]);
    expect(users.epoch(alice)).toBe(2 ** 31 + 1);
    expect(users.epochOf('alice')).toBe(2 ** 31 + 1);
  });

  it('restores epochs an Int32 cannot hold exactly, and keeps them as it grows', () => {
    const huge: Array<[string, number]> = [
      ['a', 2 ** 31 - 1],
      ['b', 2 ** 31],
      ['c', 2 ** 32 + 1],
      ['d', Number.MAX_SAFE_INTEGER],
      ['e', 2 ** 53],
      ['f', 1e300],
      ['g', -(2 ** 31)],
    ];
    const users = new MemoryUsers();
    users.restore(huge.map(([id, epoch]) => [id, { epoch, fields: [] }]));
    // Enough users after them to grow the columns several times.
    for (let i = 0; i < 1000; i++) users.bump(users.entry(`user-${i}`));
    for (const [id, epoch] of huge.slice(0, -1)) expect(users.epochOf(id)).toBe(epoch);
    // A negative epoch is below a new user's 0: the restored user is left as new, holding nothing.
    expect(users.find('g')).toBe(NO_USER);
    expect(users.saved().slice(0, 6)).toEqual(huge.slice(0, -1).map(([id, epoch]) => [id, { epoch, fields: [] }]));
    expect(users.bump(users.find('b'))).toBe(2 ** 31 + 1);
  });

  it('saves epochs and fields, and restores them, skipping what is not well-formed', () => {
    const users = new MemoryUsers();
    users.bump(users.entry('alice'));
    users.setField('bob', 'pref', 'x');
    const saved = users.saved();
    expect(saved).toEqual([
      ['alice', { epoch: 1, fields: [] }],
      ['bob', { epoch: 0, fields: [['pref', 'x']] }],
    ]);
    const restored = new MemoryUsers();
    restored.restore([...saved, ['__proto__', { epoch: 9, fields: [] }], ['eve', { epoch: 1.5, fields: [] }]] as typeof saved);
    expect(restored.epochOf('alice')).toBe(1);
    expect(restored.field('bob', 'pref')).toBe('x');
    expect(restored.find('__proto__')).toBe(NO_USER);
    expect(restored.find('eve')).toBe(NO_USER);
  });
});
