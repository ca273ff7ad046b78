import { BoundedCache } from '../../../lib/util/bounded-cache.js';

describe('BoundedCache', () => {
  it('returns what was set and undefined for what was not', () => {
    const cache = new BoundedCache<string, number>(3);
    cache.set('a', 1);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
  });

  it('forgets the oldest entry past its capacity, whatever was read', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a read does not make 'a' younger
    cache.set('c', 3);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
    expect(cache.get('c')).toBe(3);
  });

  it('overwrites a key in place without growing', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    expect(cache.get('a')).toBe(10);
    expect(cache.get('b')).toBe(2);
  });
});

describe('BoundedCache past its capacity', () => {
  it('keeps exactly the newest entries through many evictions', () => {
    const cache = new BoundedCache<number, number>(1000);
    for (let i = 0; i < 50_000; i++) cache.set(i, i);
    expect(cache.get(48_999)).toBeUndefined();
    expect(cache.get(49_000)).toBe(49_000);
    expect(cache.get(49_999)).toBe(49_999);
  });
});
