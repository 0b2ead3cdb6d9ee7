/**
 * The simulator's virtual clock and event queue: a binary heap ordered by
 * time, then by insertion (so events at the same time run in the order they
 * were scheduled, which keeps each link FIFO and every run deterministic).
 */
interface Event {
  readonly time: number;
  readonly order: number;
  readonly run: () => void;
}

export class VirtualClock {
  private readonly heap: Event[] = [];
  private counter = 0;
  private current = 0;
  /** Events run so far. */
  executed = 0;

  now(): number {
    return this.current;
  }

  /** Run `run` after `delay` virtual milliseconds (at least 0). */
  schedule(delay: number, run: () => void): void {
    const event = { time: this.current + Math.max(0, delay), order: this.counter++, run };
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as Event;
      if (!before(event, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = event;
  }

  /** Run every event up to and including time `until`; the clock then reads `until`. */
  runUntil(until: number): void {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0] as Event;
      if (top.time > until) break;
      this.pop();
      this.current = top.time;
      this.executed++;
      top.run();
    }
    this.current = Math.max(this.current, until);
  }

  get size(): number {
    return this.heap.length;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as Event;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right] as Event, heap[left] as Event) ? right : left;
      if (!before(heap[child] as Event, last)) break;
      heap[i] = heap[child] as Event;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.order < b.order);
}
