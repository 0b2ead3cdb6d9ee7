/**
 * The record cache behind rejoining (after qp2p's bootstrap cache): at most
 * MAX_CACHED_RECORDS verified records, split into "tried" (we completed an
 * authenticated connection with the peer) and "new" (only heard of). Each new
 * entry remembers who introduced it, and no introducer may place more than
 * MAX_NEW_PER_INTRODUCER, so no single peer can flush the cache. Tried
 * entries are never evicted to make room for untried ones. Expired records
 * leave. Pure logic: storage and clocks are the caller's.
 */
import type { Ed25519 } from './identity/ed25519.js';
import type { PeerId } from './identity/peer-id.js';
import { MAX_CACHED_RECORDS, MAX_NEW_PER_INTRODUCER } from './limits.js';
import { checkRecordTimes, supersedes, verifyRecord, type SignedRecord } from './records.js';

export interface CacheEntry {
  readonly signed: SignedRecord;
  readonly tried: boolean;
  /** Who told us of it: a peer ID, or `signaling:<url>`. Absent once tried. */
  readonly introducer: string | undefined;
  /** When we last heard of or connected to it (ms). */
  readonly lastSeen: number;
}

export type OfferOutcome = 'added' | 'updated' | 'stale' | 'introducer-full' | 'cache-full';

/** The stored form of one entry (JSON in IndexedDB). */
export interface StoredEntry {
  readonly r: string;
  readonly t: boolean;
  readonly i: string | null;
  readonly s: number;
}

export class PeerCache {
  private readonly entries = new Map<PeerId, CacheEntry>();

  constructor(
    private readonly capacity = MAX_CACHED_RECORDS,
    private readonly perIntroducer = MAX_NEW_PER_INTRODUCER,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: PeerId): CacheEntry | undefined {
    return this.entries.get(id);
  }

  all(): CacheEntry[] {
    return [...this.entries.values()];
  }

  /** A verified record heard from `introducer`. */
  offer(signed: SignedRecord, introducer: string, now: number): OfferOutcome {
    const id = signed.record.id;
    const held = this.entries.get(id);
    if (held !== undefined) {
      if (!supersedes(signed.record, held.signed.record)) return 'stale';
      this.entries.set(id, { ...held, signed, lastSeen: now });
      return 'updated';
    }
    let introduced = 0;
    for (const entry of this.entries.values()) if (!entry.tried && entry.introducer === introducer) introduced++;
    if (introduced >= this.perIntroducer) return 'introducer-full';
    if (!this.makeRoom(now, false)) return 'cache-full';
    this.entries.set(id, { signed, tried: false, introducer, lastSeen: now });
    return 'added';
  }

  /** We completed an authenticated connection with this peer. */
  markTried(signed: SignedRecord, now: number): void {
    const id = signed.record.id;
    const held = this.entries.get(id);
    if (held === undefined && !this.makeRoom(now, true)) return;
    const record = held === undefined || supersedes(signed.record, held.signed.record) ? signed : held.signed;
    this.entries.set(id, { signed: record, tried: true, introducer: undefined, lastSeen: now });
  }

  remove(id: PeerId): boolean {
    return this.entries.delete(id);
  }

  /** Drop expired records; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const [id, entry] of this.entries) {
      if (!checkRecordTimes(entry.signed.record, now).ok) {
        this.entries.delete(id);
        removed++;
      }
    }
    return removed;
  }

  /** Up to `k` random records, tried ones first, leaving out `exclude`. */
  sample(k: number, random: () => number, exclude: ReadonlySet<PeerId> = new Set()): SignedRecord[] {
    const pick = (tried: boolean): CacheEntry[] =>
      this.all().filter((e) => e.tried === tried && !exclude.has(e.signed.record.id));
    const shuffle = (list: CacheEntry[]): CacheEntry[] => {
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [list[i], list[j]] = [list[j] as CacheEntry, list[i] as CacheEntry];
      }
      return list;
    };
    return [...shuffle(pick(true)), ...shuffle(pick(false))].slice(0, k).map((e) => e.signed);
  }

  /** Make room for one entry; a tried newcomer may evict the least recent tried one. */
  private makeRoom(now: number, forTried: boolean): boolean {
    if (this.entries.size < this.capacity) return true;
    this.expire(now);
    if (this.entries.size < this.capacity) return true;
    const victim = this.oldest(false) ?? (forTried ? this.oldest(true) : undefined);
    if (victim === undefined) return false;
    this.entries.delete(victim);
    return true;
  }

  private oldest(tried: boolean): PeerId | undefined {
    let found: CacheEntry | undefined;
    for (const entry of this.entries.values()) {
      if (entry.tried === tried && (found === undefined || entry.lastSeen < found.lastSeen)) found = entry;
    }
    return found?.signed.record.id;
  }

  toStored(): StoredEntry[] {
    return this.all().map((e) => ({ r: e.signed.text, t: e.tried, i: e.introducer ?? null, s: e.lastSeen }));
  }

  /**
   * Rebuild from storage, trusting nothing: each entry's shape is checked and
   * its record verified again (signature, network, times). Whatever fails is
   * dropped and counted. Never throws.
   */
  static async restore(
    stored: unknown,
    ed: Ed25519,
    options: { readonly now: number; readonly network: string; readonly self: PeerId },
    capacity = MAX_CACHED_RECORDS,
    perIntroducer = MAX_NEW_PER_INTRODUCER,
  ): Promise<{ cache: PeerCache; dropped: number }> {
    const cache = new PeerCache(capacity, perIntroducer);
    if (!Array.isArray(stored)) return { cache, dropped: stored === undefined ? 0 : 1 };
    let dropped = 0;
    const items = (stored.slice(0, capacity * 2) as unknown[]).map(parseStored);
    // Verified side by side (native Ed25519 runs them in parallel), then
    // inserted in stored order so the cache's rules apply as before.
    const verified = await Promise.all(
      items.map((entry) =>
        entry === undefined
          ? Promise.resolve(undefined)
          : verifyRecord(ed, entry.r, { now: options.now, network: options.network }),
      ),
    );
    items.forEach((entry, i) => {
      const result = verified[i];
      if (entry === undefined || result === undefined || !result.ok || result.value.record.id === options.self) {
        dropped++;
        return;
      }
      const lastSeen = Math.min(entry.s, options.now);
      if (entry.t) cache.markTried(result.value, lastSeen);
      else if (cache.offer(result.value, entry.i ?? 'storage', lastSeen) !== 'added') dropped++;
    });
    if (stored.length > capacity * 2) dropped += stored.length - capacity * 2;
    return { cache, dropped };
  }
}

function parseStored(item: unknown): StoredEntry | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const { r, t, i, s } = item as Record<string, unknown>;
  if (typeof r !== 'string' || typeof t !== 'boolean' || !Number.isSafeInteger(s) || (s as number) < 0)
    return undefined;
  if (i !== null && (typeof i !== 'string' || i.length > 300)) return undefined;
  return { r, t, i, s: s as number };
}
