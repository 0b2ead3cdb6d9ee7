import { describe, expect, it } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { PeerCache } from '../../shared/peer-cache.js';
import { signRecord, type SignedRecord } from '../../shared/records.js';
import { newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

async function records(count: number, network = 'n', now = NOW, lifetimeMs = HOUR): Promise<SignedRecord[]> {
  return Promise.all(
    Array.from({ length: count }, async () => signRecord(await newIdentity(), { seq: 1, network, now, lifetimeMs })),
  );
}

describe('PeerCache', () => {
  it('caps the new entries one introducer may place, so no peer can flush the cache', async () => {
    const cache = new PeerCache(200, 16);
    const batch = await records(40);
    const outcomes = batch.map((r) => cache.offer(r, 'mallory', NOW));
    expect(outcomes.filter((o) => o === 'added')).toHaveLength(16);
    expect(outcomes.slice(16).every((o) => o === 'introducer-full')).toBe(true);
    const [honest] = await records(1);
    if (honest === undefined) throw new Error('no record');
    expect(cache.offer(honest, 'alice', NOW)).toBe('added');
  });

  it('never evicts tried entries to make room for untried ones', async () => {
    const cache = new PeerCache(4, 16);
    const tried = await records(4);
    tried.forEach((r, i) => cache.markTried(r, NOW + i));
    const [stranger] = await records(1);
    if (stranger === undefined) throw new Error('no record');
    expect(cache.offer(stranger, 'x', NOW + 10)).toBe('cache-full');
    expect(cache.all().every((e) => e.tried)).toBe(true);
    // A newly tried peer takes the place of the least recently seen tried one.
    cache.markTried(stranger, NOW + 20);
    expect(cache.get(tried[0]?.record.id as PeerId)).toBeUndefined();
    expect(cache.get(stranger.record.id)?.tried).toBe(true);
  });

  it('evicts expired entries first, then the oldest new one', async () => {
    const cache = new PeerCache(3, 16);
    const [old] = await records(1, 'n', NOW - 2 * HOUR);
    const fresh = await records(3);
    if (old === undefined) throw new Error('no record');
    cache.offer(old, 'a', NOW - 2 * HOUR);
    cache.offer(fresh[0] as SignedRecord, 'b', NOW);
    cache.offer(fresh[1] as SignedRecord, 'c', NOW + 1);
    expect(cache.offer(fresh[2] as SignedRecord, 'd', NOW + 2 * 60_000)).toBe('added');
    expect(cache.get(old.record.id)).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('replaces a record only with a newer sequence number', async () => {
    const alice = await newIdentity();
    const cache = new PeerCache();
    const v1 = await signRecord(alice, { seq: 1, network: 'n', now: NOW });
    const v2 = await signRecord(alice, { seq: 2, network: 'n', now: NOW });
    expect(cache.offer(v2, 'x', NOW)).toBe('added');
    expect(cache.offer(v1, 'x', NOW)).toBe('stale');
    expect(cache.offer(v2, 'x', NOW)).toBe('stale');
    expect(cache.get(alice.id)?.signed.record.seq).toBe(2);
  });

  it('restores from storage trusting nothing: bad shapes, forged, foreign-network, expired and own records are dropped', async () => {
    const { ed25519 } = await import('../helpers/client.js');
    const self = await newIdentity();
    const good = await records(2);
    const [foreign] = await records(1, 'other');
    const [expired] = await records(1, 'n', NOW - 3 * HOUR);
    const own = await signRecord(self, { seq: 1, network: 'n', now: NOW });
    const forged = `${(good[0] as SignedRecord).text.slice(0, -2)}AA`;
    const stored = [
      { r: (good[0] as SignedRecord).text, t: true, i: null, s: NOW },
      { r: (good[1] as SignedRecord).text, t: false, i: 'peer', s: NOW },
      { r: forged, t: false, i: 'peer', s: NOW },
      { r: foreign?.text, t: false, i: 'peer', s: NOW },
      { r: expired?.text, t: false, i: 'peer', s: NOW },
      { r: own.text, t: true, i: null, s: NOW },
      { r: 42, t: 'yes' },
      null,
      'garbage',
    ];
    const { cache, dropped } = await PeerCache.restore(stored, ed25519, { now: NOW, network: 'n', self: self.id });
    expect(cache.size).toBe(2);
    expect(cache.get((good[0] as SignedRecord).record.id)?.tried).toBe(true);
    expect(cache.get((good[1] as SignedRecord).record.id)?.tried).toBe(false);
    expect(dropped).toBe(7);
    expect(
      (await PeerCache.restore({ not: 'an array' }, ed25519, { now: NOW, network: 'n', self: self.id })).cache.size,
    ).toBe(0);
    const roundTrip = await PeerCache.restore(cache.toStored(), ed25519, { now: NOW, network: 'n', self: self.id });
    expect(roundTrip.cache.size).toBe(2);
    expect(roundTrip.dropped).toBe(0);
  });

  it('samples tried entries first and leaves out what it is told to', async () => {
    const cache = new PeerCache();
    const [a, b, c] = await records(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error('no records');
    cache.offer(a, 'x', NOW);
    cache.markTried(b, NOW);
    cache.offer(c, 'x', NOW);
    const sample = cache.sample(2, () => 0.5, new Set([c.record.id]));
    expect(sample.map((r) => r.record.id)).toEqual([b.record.id, a.record.id]);
  });
});
