import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../shared/bytes.js';
import { MAX_CACHED_RECORDS, PEER_CACHE_ANCHORS, PEER_CACHE_SALT_BYTES } from '../../shared/limits.js';
import { PeerCache } from '../../shared/peer-cache.js';
import {
  MAX_STORED_INTRODUCER_CHARS,
  PEER_CACHE_STORE_VERSION,
  restoreCache,
  storedForm,
  type RestoreOptions,
} from '../../shared/peer-cache-store.js';
import { signRecord, type SignedRecord } from '../../shared/records.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const SALT = new Uint8Array(PEER_CACHE_SALT_BYTES).fill(5);
const FRESH = new Uint8Array(PEER_CACHE_SALT_BYTES).fill(6);

async function records(count: number, network = 'n', now = NOW): Promise<SignedRecord[]> {
  return Promise.all(
    Array.from({ length: count }, async () =>
      signRecord(await newIdentity(), { seq: 1, network, now, lifetimeMs: HOUR }),
    ),
  );
}

async function options(extra: Partial<RestoreOptions> = {}): Promise<RestoreOptions> {
  return { now: NOW, network: 'n', self: (await newIdentity()).id, freshSalt: FRESH, ...extra };
}

describe('the stored peer cache', () => {
  it('round-trips: entries in their tables, the salt, vouching, last-seen times and anchors', async () => {
    const cache = new PeerCache(SALT);
    const [a, b, c, d] = await records(4);
    if (!a || !b || !c || !d) throw new Error('no records');
    cache.promote(a, NOW - 10);
    cache.offer(b, 'signaling:wss://s.example.com/ws', NOW - 5);
    cache.offer(c, a.record.id, NOW - 3);
    cache.offer(d, 'stranger', NOW - 1);
    const stored = storedForm(cache, [a.record.id]);
    expect(stored).toMatchObject({ v: PEER_CACHE_STORE_VERSION, salt: toHex(SALT), anchors: [a.record.id] });
    // As IndexedDB would hand it back: a structured clone.
    const restored = await restoreCache(structuredClone(stored), ed25519, await options());
    expect(restored.dropped).toBe(0);
    expect(restored.anchors).toEqual([a.record.id]);
    expect(restored.cache.salt).toEqual(SALT);
    expect(restored.cache.all().sort(byId)).toEqual(cache.all().sort(byId));
  });

  it('trusts nothing: bad shapes, forged, foreign-network, expired and own records are dropped and counted', async () => {
    const self = await newIdentity();
    const good = await records(2);
    const [foreign] = await records(1, 'other');
    const [expired] = await records(1, 'n', NOW - 3 * HOUR);
    const own = await signRecord(self, { seq: 1, network: 'n', now: NOW });
    const forged = `${(good[0] as SignedRecord).text.slice(0, -2)}AA`;
    const entries = [
      { r: (good[0] as SignedRecord).text, t: true, i: null, s: NOW },
      { r: (good[1] as SignedRecord).text, t: false, i: 'peer', s: NOW, v: false },
      { r: forged, t: false, i: 'peer', s: NOW },
      { r: foreign?.text, t: false, i: 'peer', s: NOW },
      { r: expired?.text, t: false, i: 'peer', s: NOW },
      { r: own.text, t: true, i: null, s: NOW },
      { r: (good[1] as SignedRecord).text, t: false, i: 'x'.repeat(MAX_STORED_INTRODUCER_CHARS + 1), s: NOW },
      { r: (good[1] as SignedRecord).text, t: false, i: 'peer', s: -1 },
      { r: (good[1] as SignedRecord).text, t: false, i: 'peer', s: NOW, v: 'yes' },
      { r: 42, t: 'yes' },
      null,
      'garbage',
    ];
    const stored = { v: PEER_CACHE_STORE_VERSION, salt: toHex(SALT), anchors: [], entries };
    const { cache, dropped } = await restoreCache(stored, ed25519, await options({ self: self.id }));
    expect(cache.size).toBe(2);
    expect(cache.get((good[0] as SignedRecord).record.id)?.table).toBe('tried');
    expect(cache.get((good[1] as SignedRecord).record.id)?.table).toBe('new');
    expect(dropped).toBe(10);
  });

  it('reads the form before version 2 (entries alone) under a fresh salt', async () => {
    const [a, b] = await records(2);
    if (!a || !b) throw new Error('no records');
    const legacy = [
      { r: a.text, t: true, i: null, s: NOW },
      { r: b.text, t: false, i: 'signaling:wss://s.example.com/ws', s: NOW },
    ];
    const restored = await restoreCache(legacy, ed25519, await options());
    expect(restored.dropped).toBe(0);
    expect(restored.cache.salt).toEqual(FRESH);
    expect(restored.cache.get(a.record.id)?.table).toBe('tried');
    expect(restored.cache.get(b.record.id)?.table).toBe('server');
  });

  it('starts empty, counting one drop, from something that is no cache; from nothing, counts none', async () => {
    for (const stored of [{ not: 'a cache' }, 'text', 42, null, { v: 3, entries: [] }, { v: 2, entries: 'x' }]) {
      const restored = await restoreCache(stored, ed25519, await options());
      expect(restored.cache.size).toBe(0);
      expect(restored.dropped).toBe(1);
    }
    const empty = await restoreCache(undefined, ed25519, await options());
    expect([empty.cache.size, empty.dropped]).toEqual([0, 0]);
    expect(empty.cache.salt).toEqual(FRESH);
  });

  it('replaces a corrupt salt with the fresh one (counted); entries that no longer fit are dropped, the most recently seen kept', async () => {
    const [a, b, c] = await records(3);
    if (!a || !b || !c) throw new Error('no records');
    const entries = [a, b, c].map((r, i) => ({ r: r.text, t: true, i: null, s: NOW - 10 + i }));
    const stored = { v: PEER_CACHE_STORE_VERSION, salt: 'not hex', anchors: [], entries };
    // One tried slot: only the most recently seen (c) fits.
    const tight = { triedBuckets: 1, bucketSlots: 1 };
    const restored = await restoreCache(stored, ed25519, await options({ policy: tight }));
    expect(restored.cache.salt).toEqual(FRESH);
    expect(restored.cache.all().map((e) => e.signed.record.id)).toEqual([c.record.id]);
    expect(restored.dropped).toBe(1 + 2);
  });

  it('caps what it reads: at most the cache’s capacity of entries and PEER_CACHE_ANCHORS anchors', async () => {
    const [a, b, c] = await records(3);
    if (!a || !b || !c) throw new Error('no records');
    const entries = [a, b, c].map((r) => ({ r: r.text, t: true, i: null, s: NOW }));
    const padding = Array.from({ length: MAX_CACHED_RECORDS }, () => null);
    const anchors = [a.record.id, b.record.id, c.record.id, 'not an id'];
    const stored = { v: PEER_CACHE_STORE_VERSION, salt: toHex(SALT), anchors, entries: [...entries, ...padding] };
    const restored = await restoreCache(stored, ed25519, await options());
    expect(restored.cache.size).toBe(3);
    expect(restored.anchors).toEqual([a.record.id, b.record.id].slice(0, PEER_CACHE_ANCHORS));
    // Nulls within the cap, the rest over it, and the anchors over the cap.
    expect(restored.dropped).toBe(MAX_CACHED_RECORDS + 3 - 3 + (anchors.length - PEER_CACHE_ANCHORS));
  });

  it('keeps only anchors that came back as tried entries', async () => {
    const [a, b] = await records(2);
    if (!a || !b) throw new Error('no records');
    const entries = [
      { r: a.text, t: false, i: 'peer', s: NOW },
      { r: b.text, t: true, i: null, s: NOW },
    ];
    const stored = { v: PEER_CACHE_STORE_VERSION, salt: toHex(SALT), anchors: [a.record.id, b.record.id], entries };
    const restored = await restoreCache(stored, ed25519, await options());
    expect(restored.anchors).toEqual([b.record.id]);
    expect(restored.dropped).toBe(1);
    const notAList = await restoreCache({ ...stored, anchors: 'b' }, ed25519, await options());
    expect([notAList.anchors, notAList.dropped, notAList.cache.size]).toEqual([[], 1, 2]);
  });

  it('never throws, whatever storage hands back, and garbage never displaces a good entry', async () => {
    const [good] = await records(1);
    if (!good) throw new Error('no record');
    const base = await options();
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.array(fc.anything(), { maxLength: 20 }), async (anything, garbage) => {
        const alone = await restoreCache(anything, ed25519, base);
        expect(alone.cache.size).toBeLessThanOrEqual(MAX_CACHED_RECORDS);
        const entries = [...garbage, { r: good.text, t: true, i: null, s: NOW }];
        const mixed = await restoreCache({ v: 2, salt: toHex(SALT), anchors: garbage, entries }, ed25519, base);
        expect(mixed.cache.get(good.record.id)?.table).toBe('tried');
      }),
      { numRuns: 300 },
    );
  });
});

function byId(a: { signed: SignedRecord }, b: { signed: SignedRecord }): number {
  return a.signed.record.id < b.signed.record.id ? -1 : 1;
}
