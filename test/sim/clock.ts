/**
 * The simulator's virtual clock and event queue: a heap ordered by time, then
 * by insertion (so events at the same time run in the order they were
 * scheduled, which keeps each link FIFO and every run deterministic).
 *
 * Every simulated message and tick goes through it (150 million events for
 * `SIM_PEERS=100000 npm run sim`), so it is laid out for speed: a 4-ary heap
 * (half the levels of a binary one, and a node's children side by side) over
 * parallel arrays, times and insertion orders in Float64Arrays and callbacks
 * in a plain array, so comparisons read contiguous memory and no event object
 * is allocated. Any correct heap pops the same sequence (the order is total),
 * so the layout does not change a run's results.
 */

/** Children per heap node. */
export const CLOCK_HEAP_ARITY = 4;
/** Slots the queue starts with; it doubles when full. */
export const CLOCK_INITIAL_CAPACITY = 1024;

export class VirtualClock {
  /** Event times (virtual ms) by heap slot. */
  private times = new Float64Array(CLOCK_INITIAL_CAPACITY);
  /** Insertion order by heap slot (unique; exact as a double up to 2^53 events). */
  private orders = new Float64Array(CLOCK_INITIAL_CAPACITY);
  /** Callbacks by heap slot; a slot past `length` holds undefined, so a run event can be collected. */
  private readonly runs: ((() => void) | undefined)[] = [];
  private length = 0;
  private counter = 0;
  private current = 0;
  /** Events run so far. */
  executed = 0;

  now(): number {
    return this.current;
  }

  /** Run `run` after `delay` virtual milliseconds (at least 0). */
  schedule(delay: number, run: () => void): void {
    const time = this.current + Math.max(0, delay);
    const order = this.counter++;
    if (this.length === this.times.length) this.grow();
    const { times, orders, runs } = this;
    let i = this.length++;
    while (i > 0) {
      const parent = ((i - 1) / CLOCK_HEAP_ARITY) | 0;
      // Every queued event was scheduled before this one: at an equal time it comes first.
      if ((times[parent] as number) <= time) break;
      times[i] = times[parent] as number;
      orders[i] = orders[parent] as number;
      runs[i] = runs[parent];
      i = parent;
    }
    times[i] = time;
    orders[i] = order;
    runs[i] = run;
  }

  /** Run every event up to and including time `until`; the clock then reads `until`. */
  runUntil(until: number): void {
    while (this.length > 0) {
      const time = this.times[0] as number;
      if (time > until) break;
      const run = this.runs[0] as () => void;
      this.removeFirst();
      this.current = time;
      this.executed++;
      run();
    }
    this.current = Math.max(this.current, until);
  }

  /** Events waiting. */
  get size(): number {
    return this.length;
  }

  /** Drop the first event: the last one takes its place and sinks to where it belongs. */
  private removeFirst(): void {
    const { times, orders, runs } = this;
    const n = --this.length;
    const time = times[n] as number;
    const order = orders[n] as number;
    const run = runs[n];
    runs[n] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const first = CLOCK_HEAP_ARITY * i + 1;
      if (first >= n) break;
      const end = Math.min(first + CLOCK_HEAP_ARITY, n);
      let best = first;
      let bestTime = times[first] as number;
      let bestOrder = orders[first] as number;
      for (let c = first + 1; c < end; c++) {
        const t = times[c] as number;
        if (t < bestTime || (t === bestTime && (orders[c] as number) < bestOrder)) {
          best = c;
          bestTime = t;
          bestOrder = orders[c] as number;
        }
      }
      if (time < bestTime || (time === bestTime && order < bestOrder)) break;
      times[i] = bestTime;
      orders[i] = bestOrder;
      runs[i] = runs[best];
      i = best;
    }
    times[i] = time;
    orders[i] = order;
    runs[i] = run;
  }

  private grow(): void {
    const times = new Float64Array(2 * this.times.length);
    const orders = new Float64Array(2 * this.orders.length);
    times.set(this.times);
    orders.set(this.orders);
    this.times = times;
    this.orders = orders;
  }
}
