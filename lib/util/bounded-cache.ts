/**
 * A map that forgets its oldest entry past `capacity`; reads do not reorder, so that a hit costs one lookup.
 *
 * The insertion order is kept in a ring of keys rather than read from the map: after many deletions from its front,
 * a `Map`'s first key is found by skipping the deleted slots, which made every eviction cost up to `capacity` steps
 * (100,000 sessions expiring at once took over a second in the socket registry's cache).
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();
  private readonly order: K[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.has(key)) {
      this.entries.set(key, value);
      return;
    }
    if (this.entries.size >= this.capacity) this.entries.delete(this.order[this.next]);
    this.entries.set(key, value);
    this.order[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
  }
}
