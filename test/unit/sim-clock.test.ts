/**
 * The simulator's virtual clock (test/sim/clock.ts): a 4-ary heap over
 * parallel arrays must run events in (time, insertion) order, whatever was
 * scheduled from inside an event, and grow past its initial capacity.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLOCK_INITIAL_CAPACITY, VirtualClock } from '../sim/clock.js';

describe('VirtualClock', () => {
  it('runs events by time, those at the same time in the order they were scheduled', () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.schedule(30, () => ran.push('c'));
    clock.schedule(10, () => ran.push('a1'));
    clock.schedule(20, () => ran.push('b'));
    clock.schedule(10, () => ran.push('a2'));
    clock.schedule(-5, () => ran.push('now')); // a negative delay is 0
    clock.schedule(10, () => ran.push('a3'));
    expect(clock.size).toBe(6);
    clock.runUntil(100);
    expect(ran).toEqual(['now', 'a1', 'a2', 'a3', 'b', 'c']);
    expect(clock.executed).toBe(6);
    expect(clock.size).toBe(0);
  });

  it('runs events up to and including `until`, sets the time to each event, and then reads `until`', () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.schedule(10, () => seen.push(clock.now()));
    clock.schedule(20, () => seen.push(clock.now()));
    clock.schedule(20.5, () => seen.push(clock.now()));
    clock.runUntil(20);
    expect(seen).toEqual([10, 20]);
    expect(clock.now()).toBe(20);
    expect(clock.size).toBe(1);
    clock.runUntil(15); // never backwards
    expect(clock.now()).toBe(20);
    clock.runUntil(25);
    expect(seen).toEqual([10, 20, 20.5]);
    expect(clock.now()).toBe(25);
  });

  it('runs what an event schedules, at its time from the event (0: after the events already due then)', () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.schedule(10, () => {
      ran.push('first');
      clock.schedule(0, () => ran.push('chained'));
      clock.schedule(5, () => ran.push('later'));
    });
    clock.schedule(10, () => ran.push('second'));
    clock.schedule(14, () => ran.push('before later'));
    clock.runUntil(100);
    expect(ran).toEqual(['first', 'second', 'chained', 'before later', 'later']);
  });

  it('keeps the order over many events, past its initial capacity', () => {
    const clock = new VirtualClock();
    const count = 5 * CLOCK_INITIAL_CAPACITY;
    const ran: number[] = [];
    // Times in a scrambled order with many repeats.
    for (let i = 0; i < count; i++) clock.schedule((i * 7919) % 101, () => ran.push(i));
    expect(clock.size).toBe(count);
    clock.runUntil(1_000);
    const expected = Array.from({ length: count }, (_, i) => i).sort(
      (a, b) => ((a * 7919) % 101) - ((b * 7919) % 101) || a - b,
    );
    expect(ran).toEqual(expected);
  });

  it('matches a stable sort by time for any interleaving of schedules and partial runs', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ delay: fc.integer({ min: -3, max: 50 }) }),
            fc.record({ advance: fc.integer({ min: 0, max: 30 }) }),
          ),
          { maxLength: 300 },
        ),
        (steps) => {
          const clock = new VirtualClock();
          const ran: number[] = [];
          const queued: { time: number; id: number }[] = [];
          const expected: number[] = [];
          let id = 0;
          for (const step of steps) {
            if ('delay' in step) {
              const mine = id++;
              queued.push({ time: clock.now() + Math.max(0, step.delay), id: mine });
              clock.schedule(step.delay, () => ran.push(mine));
            } else {
              const until = clock.now() + step.advance;
              // Array.prototype.sort is stable: equal times keep their scheduling order.
              queued.sort((a, b) => a.time - b.time);
              while (queued.length > 0 && (queued[0] as { time: number }).time <= until) {
                expected.push((queued.shift() as { id: number }).id);
              }
              clock.runUntil(until);
            }
          }
          expect(ran).toEqual(expected);
          expect(clock.size).toBe(queued.length);
        },
      ),
    );
  });
});
