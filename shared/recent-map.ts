/**
 * A bounded map that forgets its oldest entry once full: for per-peer state
 * keyed by values a remote party chooses (sessions, routes, back-off), so
 * what one party provokes never grows without bound. "Oldest" is by last
 * `set`: setting a key again makes it the newest. Reads do not reorder.
 */
export class RecentMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a whole number of at least 1');
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Store `value` as the newest entry; returns the entry forgotten to make room, if any. */
  set(key: K, value: V): [K, V] | undefined {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size <= this.capacity) return undefined;
    const oldest = this.entries.entries().next();
    if (oldest.done === true) return undefined;
    this.entries.delete(oldest.value[0]);
    return oldest.value;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Keys, oldest first. */
  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  /** Values, oldest first. */
  values(): IterableIterator<V> {
    return this.entries.values();
  }
}
