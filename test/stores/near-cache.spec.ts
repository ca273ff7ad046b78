import { performance } from 'node:perf_hooks';
import { NearCache, recordBytes } from '../../lib/stores/redis/redis-near-cache.js';
import { decodeRecordHash, encodeRecord } from '../../lib/stores/redis/redis-record.js';
import { reportMeasurement } from '../support/measurement.js';
import { makeRecord } from './store-contract.js';

describe('NearCache (the cache alone)', () => {
  const bounds = { maxEntries: 100, maxBytes: 1_000_000 };

  it('does not keep a read that an invalidation or a flush overtook, and keeps one that none did', () => {
    const cache = new NearCache(bounds, () => true);
    const record = makeRecord({ userId: 'gina' });

    const overtaken = cache.beginRead('k');
    cache.invalidate('k');
    cache.endRead(overtaken, record);
    expect(cache.lookup('k')).toBeUndefined();

    // Two reads of one key in flight, the key invalidated while both are: neither is kept.
    const first = cache.beginRead('k');
    const second = cache.beginRead('k');
    cache.invalidate('k');
    cache.endRead(first, record);
    cache.endRead(second, record);
    expect(cache.lookup('k')).toBeUndefined();

    const flushed = cache.beginRead('k');
    cache.flush();
    cache.endRead(flushed, record);
    expect(cache.lookup('k')).toBeUndefined();

    const clean = cache.beginRead('k');
    cache.endRead(clean, record);
    expect(cache.lookup('k')).toEqual(record);
  });

  it('calls a read in flight current (one to join) until its end, an invalidation of its key, a flush or a loss of trust', () => {
    let trusted = true;
    const cache = new NearCache(bounds, () => trusted);
    const read = cache.beginRead('k');
    expect(cache.current(read)).toBe(true);
    cache.invalidate('other');
    expect(cache.current(read)).toBe(true);
    cache.endRead(read, makeRecord());
    expect(cache.current(read)).toBe(false);

    const invalidated = cache.beginRead('k');
    cache.invalidate('k');
    expect(cache.current(invalidated)).toBe(false);
    // A read begun after the invalidation, while the overtaken one is still out, shares its key's mark: not current.
    expect(cache.current(cache.beginRead('k'))).toBe(false);

    const flushed = cache.beginRead('f');
    cache.flush();
    expect(cache.current(flushed)).toBe(false);

    const distrusted = cache.beginRead('t');
    trusted = false;
    expect(cache.current(distrusted)).toBe(false);
    expect(cache.current(cache.beginRead('u'))).toBe(false);
    trusted = true;
    expect(cache.current(distrusted)).toBe(true);
  });

  it('serves nothing while not trusted, keeps no read begun while not trusted, and no copy made before a flush', () => {
    let trusted = false;
    const cache = new NearCache(bounds, () => trusted);
    const untracked = cache.beginRead('k');
    trusted = true;
    cache.endRead(untracked, makeRecord());
    expect(cache.lookup('k')).toBeUndefined();
    cache.endRead(cache.beginRead('k'), makeRecord());
    trusted = false;
    expect(cache.lookup('k')).toBeUndefined();
    trusted = true;
    expect(cache.lookup('k')).toBeDefined();
    cache.flush();
    expect(cache.lookup('k')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.heldBytes).toBe(0);
  });

  it('serves a user’s copy as it is only under a lease of that user’s epoch that is still good', () => {
    let trusted = true;
    const cache = new NearCache(bounds, () => trusted);
    const now = 1_000_000;
    cache.endRead(cache.beginRead('anon'), makeRecord());
    const gina = makeRecord({ userId: 'gina', epoch: 3 });
    cache.endRead(cache.beginRead('k'), gina);
    // An anonymous copy needs no lease; a user's copy without one is left to the store's read.
    expect(cache.leased('anon', now)).toBeDefined();
    expect(cache.leased('k', now)).toBeUndefined();
    expect(cache.lookup('k')).toBeDefined();

    // A lease of another user, or of an epoch past the copy's, is not kept.
    cache.lease('k', { userId: 'hugo', epoch: 3, until: now + 100 });
    cache.lease('k', { userId: 'gina', epoch: 4, until: now + 100 });
    expect(cache.leased('k', now)).toBeUndefined();

    const lease = { userId: 'gina', epoch: 3, until: now + 100 };
    cache.lease('k', lease);
    expect(cache.leased('k', now)).toEqual(gina);
    expect(cache.leased('k', now + 100)).toBeUndefined();
    trusted = false;
    expect(cache.leased('k', now)).toBeUndefined();
    trusted = true;
    // Revoked by its cache (until 0): the copy is no longer served as it is.
    lease.until = 0;
    expect(cache.leased('k', now)).toBeUndefined();

    // A copy stored again (after an invalidation) holds no lease of the one before.
    lease.until = now + 100;
    cache.invalidate('k');
    cache.endRead(cache.beginRead('k'), gina);
    expect(cache.leased('k', now)).toBeUndefined();
    cache.lease('nothing-held', lease);
    expect(cache.leased('nothing-held', now)).toBeUndefined();
  });

  it('counts the bytes of the strings it holds', () => {
    const cache = new NearCache(bounds, () => true);
    const small = makeRecord();
    const large = makeRecord({ data: { 'b:blob': 'x'.repeat(10_000) } });
    expect(recordBytes('k', large) - recordBytes('k', small)).toBeGreaterThan(20_000);
    cache.endRead(cache.beginRead('a'), small);
    cache.endRead(cache.beginRead('b'), large);
    expect(cache.heldBytes).toBe(recordBytes('a', small) + recordBytes('b', large));
    cache.invalidate('b');
    expect(cache.heldBytes).toBe(recordBytes('a', small));
  });

  it('evicts the least recently used, giving an entry read since it was last passed over a second chance', () => {
    const cache = new NearCache({ maxEntries: 3, maxBytes: 1_000_000 }, () => true);
    const keep = (key: string) => cache.endRead(cache.beginRead(key), makeRecord({ userId: key }));
    const held = () => ['a', 'b', 'c', 'd', 'e'].filter((key) => cache.lookup(key) !== undefined);
    keep('a');
    keep('b');
    keep('c');
    expect(cache.lookup('a')?.userId).toBe('a');
    keep('d');
    // 'a' was read: 'b', the least recently used, went.
    expect(held()).toEqual(['a', 'c', 'd']);
    // held() read all three: each is passed over once, unmarked, and then the oldest of them ('c') goes; the entry
    // just stored never does.
    keep('e');
    expect(held()).toEqual(['a', 'd', 'e']);
    expect(cache.size).toBe(3);
    expect(cache.heldBytes).toBe(['a', 'd', 'e'].reduce((sum, key) => sum + recordBytes(key, makeRecord({ userId: key })), 0));
  });

  it('drops the copy an invalidation message names through keyOf, and nothing for a name keyOf does not know', () => {
    const cache = new NearCache(
      bounds,
      () => true,
      (name) => (name.startsWith('p:s:') ? name.slice(4) : undefined),
    );
    cache.endRead(cache.beginRead('a'), makeRecord());
    cache.endRead(cache.beginRead('b'), makeRecord());
    cache.invalidated('a');
    cache.invalidated('p:u:b');
    expect(cache.size).toBe(2);
    cache.invalidated('p:s:a');
    expect(cache.lookup('a')).toBeUndefined();
    expect(cache.lookup('b')).toBeDefined();
    // A read in flight of the key named is not kept either.
    const read = cache.beginRead('c');
    cache.invalidated('p:s:c');
    cache.endRead(read, makeRecord());
    expect(cache.lookup('c')).toBeUndefined();
  });

  it('hands out copies of every field, which the caller may change without changing the cache', () => {
    const cache = new NearCache(bounds, () => true);
    const record = makeRecord({ userId: 'ines', data: JSON.parse('{"s:cart":"[1]","__proto__":"plain"}') as Record<string, string> });
    Object.assign(record, { authenticatedAt: 5, browserSessionCookie: true, actorId: 'admin', actorEpoch: 2 });
    cache.endRead(cache.beginRead('k'), record);
    const copy = cache.lookup('k')!;
    expect(copy).toEqual(record);
    expect(Object.keys(copy.data).sort()).toEqual(['__proto__', 's:cart']);
    expect(copy.data['__proto__']).toBe('plain');
    copy.data['s:cart'] = '[2]';
    copy.lastSeenAt = 0;
    expect(cache.lookup('k')).toEqual(record);
    expect(Object.prototype).not.toHaveProperty('s:cart');
  });

  it('measures a hit (a copy) against decoding the HGETALL reply, as a read without the cache would', () => {
    const record = makeRecord({ userId: 'hana', data: { 's:cart': '[1,2,3]', 'b:theme': '"dark"' } });
    const reply = encodeRecord(record);
    const cache = new NearCache(bounds, () => true);
    cache.endRead(cache.beginRead('k'), record);
    const N = 200_000;
    const time = (run: () => unknown) => {
      const started = performance.now();
      for (let i = 0; i < N; i++) run();
      return ((performance.now() - started) * 1e6) / N;
    };
    time(() => cache.lookup('k'));
    time(() => decodeRecordHash(reply));
    const hit = time(() => cache.lookup('k'));
    const decode = time(() => decodeRecordHash(reply));
    expect(decodeRecordHash(reply)).toEqual(cache.lookup('k'));
    reportMeasurement(
      `near cache: a hit (lookup and copy) ${hit.toFixed(0)} ns, decoding the HGETALL reply ${decode.toFixed(0)} ns ` +
        `(Node ${process.versions.node}; ${recordBytes('k', record)} estimated bytes held for this record)`,
    );
  });
});
