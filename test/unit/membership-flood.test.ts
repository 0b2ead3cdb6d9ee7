import { describe, expect, it } from 'vitest';
import { MAX_BROADCAST_HOPS } from '../../shared/limits.js';
import { Flood } from '../../shared/membership/flood.js';

describe('Flood', () => {
  it('accepts each (origin, seq) once', () => {
    const flood = new Flood<string>();
    expect(flood.seen('o', 1)).toBe(false);
    expect(flood.accept('o', 1)).toBe(true);
    expect(flood.seen('o', 1)).toBe(true);
    expect(flood.accept('o', 1)).toBe(false);
    expect(flood.accept('o', 2)).toBe(true);
    expect(flood.accept('p', 1)).toBe(true);
  });

  it('keeps origin and seq apart in its keys', () => {
    const flood = new Flood<string>();
    expect(flood.accept('a:1', 2)).toBe(true);
    expect(flood.accept('a', 12)).toBe(true);
    expect(flood.accept('a:12', 3)).toBe(true);
  });

  it('forgets the oldest broadcast once full, so its memory stays bounded', () => {
    const flood = new Flood<string>(2);
    flood.accept('o', 1);
    flood.accept('o', 2);
    flood.accept('o', 3);
    expect(flood.seen('o', 1)).toBe(false);
    expect(flood.seen('o', 2)).toBe(true);
    expect(flood.seen('o', 3)).toBe(true);
  });

  it('forwards to the active view minus the sender and the origin', () => {
    const flood = new Flood<string>();
    expect(flood.targets(['a', 'b', 'c', 'o'], 'b', 'o')).toEqual(['a', 'c']);
    expect(flood.targets(['a', 'b'], undefined, 'me')).toEqual(['a', 'b']);
    expect(flood.targets([], 'b', 'o')).toEqual([]);
  });

  it.each<[number, number | undefined | 'invalid']>([
    [MAX_BROADCAST_HOPS, MAX_BROADCAST_HOPS - 1],
    [8, 7],
    [2, 1],
    [1, undefined],
    [0, 'invalid'],
    [-1, 'invalid'],
    [1.5, 'invalid'],
    [Number.NaN, 'invalid'],
    [MAX_BROADCAST_HOPS + 1, 'invalid'],
  ])('hops %s go on as %s', (hops, onward) => {
    expect(Flood.onwardHops(hops)).toBe(onward);
  });
});
