/**
 * Where the peer cache puts an entry: its bucket, from SipHash-2-4 keyed by
 * the cache's secret salt (after addrman's GetTriedBucket / GetNewBucket). An
 * attacker who cannot learn the salt cannot make IDs that land in a bucket of
 * its choosing, however many keys it makes; and one introducer's records land
 * in only a few buckets, so it can only ever displace what shares those.
 */
import { concatBytes, utf8 } from './bytes.js';
import type { PeerId } from './identity/peer-id.js';
import { sipHash24 } from './siphash.js';

export interface BucketLayout {
  readonly triedBuckets: number;
  readonly newBuckets: number;
  /** New-table buckets one introducer's records may use. */
  readonly bucketsPerSource: number;
}

/** Separates the hashed fields, and names what each hash is for. */
const SEPARATOR = new Uint8Array([0]);

export class BucketPlacement {
  constructor(
    private readonly salt: Uint8Array,
    private readonly layout: BucketLayout,
  ) {}

  /** The tried-table bucket of `id`: by the ID alone, so no introducer has a say. */
  tried(id: PeerId): number {
    return this.hash(['tried', id], this.layout.triedBuckets);
  }

  /**
   * The new-table bucket of `id` as introduced by `introducer`: one of the
   * introducer's PEER_CACHE_BUCKETS_PER_SOURCE buckets, chosen by the ID.
   */
  new(introducer: string, id: PeerId): number {
    const pick = this.hash(['pick', introducer, id], this.layout.bucketsPerSource);
    return this.hash(['new', introducer, String(pick)], this.layout.newBuckets);
  }

  private hash(fields: readonly string[], buckets: number): number {
    const parts: Uint8Array[] = [];
    for (const field of fields) parts.push(utf8(field), SEPARATOR);
    return Number(sipHash24(this.salt, concatBytes(...parts)) % BigInt(buckets));
  }
}
