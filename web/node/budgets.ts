/**
 * Token buckets kept per key (a neighbour, a claimed origin), bounded in
 * count: past `capacity` keys the one used longest ago is forgotten. For
 * budgets keyed by what a remote party chooses, so that holding them never
 * grows without bound; a forgotten key starts again with a full burst, which
 * is all a party gains by naming many keys, so every such budget has another
 * bound behind it (a per-link one).
 */
import { RecentMap } from '../../shared/recent-map.js';
import { TokenBucket } from '../../shared/rate-limit.js';

/** A sustained rate per second and a burst; Infinity for both switches the budget off (the bench does). */
export interface Rate {
  readonly rate: number;
  readonly burst: number;
}

export class KeyedBuckets<K> {
  private readonly buckets: RecentMap<K, TokenBucket>;

  constructor(
    private readonly limit: Rate,
    capacity: number,
  ) {
    this.buckets = new RecentMap(capacity);
  }

  /** Take `cost` from `key`'s budget if it holds that much; returns whether it did. */
  take(key: K, now: number, cost = 1): boolean {
    const bucket = this.buckets.get(key) ?? new TokenBucket(this.limit.rate, this.limit.burst, now);
    // Set again on every use: the key used longest ago is the one forgotten.
    this.buckets.set(key, bucket);
    return bucket.take(now, cost);
  }

  forget(key: K): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * A token bucket (TokenBucket's arithmetic) that can also be asked what it
 * holds without taking: for a decision made before costly work (checking a
 * signature) whose token is spent only once the work shows it is due.
 */
export class Budget {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: Rate,
    now: number,
  ) {
    if (!(limit.rate > 0) || !(limit.burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
    this.tokens = limit.burst;
    this.last = now;
  }

  /** Whether `cost` could be taken now. */
  allows(now: number, cost = 1): boolean {
    this.refill(now);
    return this.tokens >= cost;
  }

  /** Take `cost` if there is that much; returns whether it did. */
  take(now: number, cost = 1): boolean {
    if (!this.allows(now, cost)) return false;
    this.tokens -= cost;
    return true;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) * this.limit.rate) / 1000);
    this.last = now;
  }
}
