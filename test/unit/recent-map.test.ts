import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentMap } from '../../shared/recent-map.js';

describe('RecentMap', () => {
  it('refuses a capacity below one or not whole', () => {
    expect(() => new RecentMap(0)).toThrow(RangeError);
    expect(() => new RecentMap(1.5)).toThrow(RangeError);
  });

  it('forgets the oldest entry once over capacity and returns it', () => {
    const map = new RecentMap<string, number>(2);
    expect(map.set('a', 1)).toBeUndefined();
    expect(map.set('b', 2)).toBeUndefined();
    expect(map.set('c', 3)).toEqual(['a', 1]);
    expect([...map.keys()]).toEqual(['b', 'c']);
    expect(map.has('a')).toBe(false);
    expect(map.get('c')).toBe(3);
  });

  it('makes a key set again the newest, so it outlives older ones', () => {
    const map = new RecentMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 10);
    expect(map.set('c', 3)).toEqual(['b', 2]);
    expect([...map.values()]).toEqual([10, 3]);
  });

  it('does not reorder on get', () => {
    const map = new RecentMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.get('a');
    map.set('c', 3);
    expect(map.has('a')).toBe(false);
  });

  it('deletes and clears', () => {
    const map = new RecentMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect(map.size).toBe(1);
    map.clear();
    expect(map.size).toBe(0);
  });

  it('never holds more than its capacity, and always the most recently set keys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }),
        (capacity, keys) => {
          const map = new RecentMap<number, number>(capacity);
          const order: number[] = [];
          for (const key of keys) {
            map.set(key, key);
            const at = order.indexOf(key);
            if (at >= 0) order.splice(at, 1);
            order.push(key);
          }
          expect(map.size).toBeLessThanOrEqual(capacity);
          expect([...map.keys()]).toEqual(order.slice(-capacity));
        },
      ),
    );
  });
});
