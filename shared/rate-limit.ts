/**
 * A token bucket with an injected clock: `capacity` tokens, refilled at
 * `ratePerSecond`. Pure state and arithmetic, no timers, so the server, the
 * browser node and the simulator share it. Kept as two numbers so thousands
 * of connections each holding one cost almost nothing.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0) || !(capacity >= 1)) throw new RangeError('rate must be > 0 and capacity >= 1');
    this.tokens = capacity;
    this.last = now;
  }

  /** Take `cost` tokens if there are enough; returns whether it did. */
  take(now: number, cost = 1): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }
}
