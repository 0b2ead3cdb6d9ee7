/**
 * The broadcast forwarding decision: flood over the active view, deduplicated
 * by (origin, seq) in a bounded RecentSet and limited in hops. Pure, so the
 * browser node and the simulator take the same decisions.
 *
 * `hops` is what the broadcast header carries: the hops it may still travel.
 * The origin sends with DEFAULT_BROADCAST_HOPS; a node that receives `hops`
 * delivers it and passes it on with `hops - 1` while that is at least 1. A
 * claim above MAX_BROADCAST_HOPS is a protocol violation (the codec rejects it
 * first; `onwardHops` checks again so this module stands on its own).
 *
 * Why a flood over HyParView's active views reaches everyone: the active
 * views form a connected graph of degree ~5 whose diameter at 10,000 peers is
 * about 8 (see docs/MEMBERSHIP.md), and every node forwards to all of its
 * neighbours but the one it heard from, so each node sends ~4 copies per
 * broadcast whatever the network's size.
 */
import { RecentSet } from '../dedup.js';
import { BROADCAST_DEDUP_ENTRIES, MAX_BROADCAST_HOPS } from '../limits.js';

export class Flood<Id extends string> {
  private readonly seenKeys: RecentSet;

  /** @param dedupEntries broadcasts remembered (oldest forgotten first). @default BROADCAST_DEDUP_ENTRIES */
  constructor(dedupEntries: number = BROADCAST_DEDUP_ENTRIES) {
    this.seenKeys = new RecentSet(dedupEntries);
  }

  /** Whether (origin, seq) was already accepted, without recording it (e.g. before an expensive signature check). */
  seen(origin: Id, seq: number): boolean {
    return this.seenKeys.has(key(origin, seq));
  }

  /** Record (origin, seq); false if it was already seen, so it is neither delivered nor forwarded again. The origin calls this for its own broadcasts. */
  accept(origin: Id, seq: number): boolean {
    return this.seenKeys.add(key(origin, seq));
  }

  /** Neighbours to pass a broadcast to: the active view, minus the peer it came from and its origin. */
  targets(active: readonly Id[], from: Id | undefined, origin: Id): Id[] {
    return active.filter((peer) => peer !== from && peer !== origin);
  }

  /**
   * The hops to forward with, given the hops a received broadcast claims:
   * `undefined` when it must not go on (spent), `'invalid'` when the claim is
   * not an integer in [1, MAX_BROADCAST_HOPS] (a protocol violation).
   */
  static onwardHops(hops: number): number | undefined | 'invalid' {
    if (!Number.isInteger(hops) || hops < 1 || hops > MAX_BROADCAST_HOPS) return 'invalid';
    return hops > 1 ? hops - 1 : undefined;
  }
}

function key(origin: string, seq: number): string {
  return `${origin}:${seq}`;
}
