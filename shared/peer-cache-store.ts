/**
 * The peer cache's stored form (JSON-like, in IndexedDB) and its restore.
 * What comes back from storage is untrusted input: parsed once here, with
 * caps, every record verified again (signature, network, times), and put
 * back by the cache's own rules without evicting anything, most recently
 * seen first. Whatever fails is dropped and counted; a corrupt store never
 * throws and never displaces a good entry. The salt that places entries in
 * buckets is kept with them (a cache with a lost or corrupt salt starts a
 * fresh one, and entries that no longer fit are dropped).
 */
import { fromHex, toHex } from './bytes.js';
import type { Ed25519 } from './identity/ed25519.js';
import { parsePeerId, type PeerId } from './identity/peer-id.js';
import { MAX_ENDPOINT_BYTES, PEER_CACHE_ANCHORS, PEER_CACHE_SALT_BYTES } from './limits.js';
import { PeerCache, SERVER_INTRODUCER_PREFIX, type CachePolicy } from './peer-cache.js';
import { MAX_RECORD_TEXT_CHARS, verifyRecord } from './records.js';

/** The stored form's version; a bare array is the form before it (no salt, no anchors). */
export const PEER_CACHE_STORE_VERSION = 2;
/** Longest introducer kept: `signaling:` and the longest endpoint URL (a peer ID is shorter). */
export const MAX_STORED_INTRODUCER_CHARS = SERVER_INTRODUCER_PREFIX.length + MAX_ENDPOINT_BYTES;

/** One entry as stored. */
export interface StoredEntry {
  /** The record's text (base64url). */
  readonly r: string;
  /** Tried. */
  readonly t: boolean;
  /** Introducer, null once tried. */
  readonly i: string | null;
  /** Last seen (ms). */
  readonly s: number;
  /** Vouched for (absent in the form before version 2). */
  readonly v?: boolean;
}

export interface StoredCache {
  readonly v: typeof PEER_CACHE_STORE_VERSION;
  /** The salt, in hex. */
  readonly salt: string;
  /** The anchors: peer IDs to dial first. */
  readonly anchors: readonly string[];
  readonly entries: readonly StoredEntry[];
}

/** What to store for `cache`, with `anchors` to dial first next time. */
export function storedForm(cache: PeerCache, anchors: readonly PeerId[]): StoredCache {
  return {
    v: PEER_CACHE_STORE_VERSION,
    salt: toHex(cache.salt),
    anchors: anchors.slice(0, PEER_CACHE_ANCHORS),
    entries: cache.all().map((e) => ({
      r: e.signed.text,
      t: e.table === 'tried',
      i: e.introducer ?? null,
      s: e.lastSeen,
      v: e.vouched,
    })),
  };
}

export interface RestoredCache {
  readonly cache: PeerCache;
  /** Stored anchors that came back as tried entries. */
  readonly anchors: PeerId[];
  /** Stored entries, anchors and a salt that were unusable, and so left out. */
  readonly dropped: number;
}

export interface RestoreOptions {
  readonly now: number;
  readonly network: string;
  /** Our own ID: our record is never cached. */
  readonly self: PeerId;
  /** A fresh random salt (PEER_CACHE_SALT_BYTES), used when none usable is stored. */
  readonly freshSalt: Uint8Array;
  readonly policy?: Partial<CachePolicy>;
}

interface Parsed {
  readonly salt: Uint8Array | undefined;
  readonly anchors: readonly unknown[];
  readonly entries: readonly unknown[];
  /** Things stored that are unusable as a whole: not a cache at all, or a corrupt salt. */
  readonly unusable: number;
}

/** Rebuild the cache from storage, trusting nothing (see the file's comment). Never throws. */
export async function restoreCache(stored: unknown, ed: Ed25519, options: RestoreOptions): Promise<RestoredCache> {
  const parsed = parseTop(stored);
  const cache = new PeerCache(parsed.salt ?? options.freshSalt, options.policy);
  let dropped = parsed.unusable;
  const items = parsed.entries.slice(0, cache.capacity).map(parseEntry);
  dropped += parsed.entries.length - items.length;
  // Verified side by side (native Ed25519 runs them in parallel).
  const verified = await Promise.all(
    items.map((entry) =>
      entry === undefined
        ? Promise.resolve(undefined)
        : verifyRecord(ed, entry.r, { now: options.now, network: options.network }),
    ),
  );
  // Most recently seen first: should entries no longer fit (a new salt), those stay.
  const order = items.map((_, i) => i).sort((a, b) => (items[b]?.s ?? 0) - (items[a]?.s ?? 0));
  for (const i of order) {
    const entry = items[i];
    const result = verified[i];
    if (entry === undefined || result === undefined || !result.ok || result.value.record.id === options.self) {
      dropped++;
      continue;
    }
    const stored = { tried: entry.t, introducer: entry.i ?? 'storage', vouched: entry.v ?? false };
    if (!cache.load(result.value, stored, Math.min(entry.s, options.now))) dropped++;
  }
  const anchors: PeerId[] = [];
  for (const item of parsed.anchors.slice(0, PEER_CACHE_ANCHORS)) {
    const id = parsePeerId(item);
    if (id.ok && cache.get(id.value)?.table === 'tried' && !anchors.includes(id.value)) anchors.push(id.value);
    else dropped++;
  }
  dropped += Math.max(0, parsed.anchors.length - PEER_CACHE_ANCHORS);
  return { cache, anchors, dropped };
}

function parseTop(stored: unknown): Parsed {
  const nothing = { salt: undefined, anchors: [], entries: [] };
  if (stored === undefined) return { ...nothing, unusable: 0 };
  // The form before version 2: entries alone.
  if (Array.isArray(stored)) return { ...nothing, entries: stored, unusable: 0 };
  if (typeof stored !== 'object' || stored === null) return { ...nothing, unusable: 1 };
  const { v, salt, anchors, entries } = stored as Record<string, unknown>;
  if (v !== PEER_CACHE_STORE_VERSION || !Array.isArray(entries)) return { ...nothing, unusable: 1 };
  const parsedSalt = parseSalt(salt);
  const anchorList = Array.isArray(anchors) ? anchors : [];
  return {
    salt: parsedSalt,
    anchors: anchorList,
    entries,
    unusable: (parsedSalt === undefined ? 1 : 0) + (anchorList === anchors ? 0 : 1),
  };
}

function parseSalt(salt: unknown): Uint8Array | undefined {
  if (typeof salt !== 'string' || !new RegExp(`^[0-9a-f]{${2 * PEER_CACHE_SALT_BYTES}}$`).test(salt)) return undefined;
  return fromHex(salt);
}

function parseEntry(item: unknown): StoredEntry | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const { r, t, i, s, v } = item as Record<string, unknown>;
  if (typeof r !== 'string' || r.length > MAX_RECORD_TEXT_CHARS || typeof t !== 'boolean') return undefined;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) return undefined;
  if (i !== null && (typeof i !== 'string' || i.length > MAX_STORED_INTRODUCER_CHARS)) return undefined;
  if (v !== undefined && typeof v !== 'boolean') return undefined;
  return { r, t, i, s, ...(v === undefined ? {} : { v }) };
}
