import { describe, expect, it } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import {
  EVICTION_TEST_TIMEOUT_MS,
  MAX_CACHED_RECORDS,
  MAX_PENDING_EVICTION_TESTS,
  PEER_CACHE_BUCKET_SLOTS,
  PEER_CACHE_BUCKETS_PER_SOURCE,
  PEER_CACHE_SALT_BYTES,
  PEER_CACHE_SERVER_SHARE,
} from '../../shared/limits.js';
import { BucketPlacement } from '../../shared/peer-cache-buckets.js';
import { DEFAULT_CACHE_POLICY, PeerCache, type CachePolicy } from '../../shared/peer-cache.js';
import { signRecord, type SignedRecord } from '../../shared/records.js';
import { newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const SALT = new Uint8Array(PEER_CACHE_SALT_BYTES).fill(7);
const SERVER = 'signaling:wss://signal.example.com/ws';

async function records(count: number, network = 'n', now = NOW, lifetimeMs = HOUR): Promise<SignedRecord[]> {
  return Promise.all(
    Array.from({ length: count }, async () => signRecord(await newIdentity(), { seq: 1, network, now, lifetimeMs })),
  );
}

async function record(now = NOW, lifetimeMs = HOUR): Promise<SignedRecord> {
  const [one] = await records(1, 'n', now, lifetimeMs);
  if (one === undefined) throw new Error('no record');
  return one;
}

function cache(policy: Partial<CachePolicy> = {}): PeerCache {
  return new PeerCache(SALT, policy);
}

const ids = (list: readonly SignedRecord[]): PeerId[] => list.map((r) => r.record.id);

describe('PeerCache: shape', () => {
  it('holds MAX_CACHED_RECORDS: the tried and new buckets and the server share', () => {
    expect(cache().capacity).toBe(MAX_CACHED_RECORDS);
    expect(Number.isInteger(DEFAULT_CACHE_POLICY.newBuckets)).toBe(true);
  });

  it('places by the secret salt: the same salt, the same buckets; another salt, others', async () => {
    const layout = { triedBuckets: 64, newBuckets: 64, bucketsPerSource: 2 };
    const one = new BucketPlacement(SALT, layout);
    const same = new BucketPlacement(SALT.slice(), layout);
    const other = new BucketPlacement(new Uint8Array(PEER_CACHE_SALT_BYTES).fill(8), layout);
    const list = ids(await records(16));
    expect(list.map((id) => one.tried(id))).toEqual(list.map((id) => same.tried(id)));
    expect(list.map((id) => one.tried(id))).not.toEqual(list.map((id) => other.tried(id)));
    expect(list.map((id) => one.new('x', id))).not.toEqual(list.map((id) => other.new('x', id)));
  });

  it('puts one introducer’s records in at most PEER_CACHE_BUCKETS_PER_SOURCE buckets', async () => {
    const placement = new BucketPlacement(SALT, DEFAULT_CACHE_POLICY);
    const buckets = new Set(ids(await records(40)).map((id) => placement.new('mallory', id)));
    expect(buckets.size).toBeLessThanOrEqual(PEER_CACHE_BUCKETS_PER_SOURCE);
  });
});

describe('PeerCache: the new table', () => {
  it('lets one introducer fill only its own buckets: at most their slots, and nothing of others outside them', async () => {
    const c = cache();
    const honest = await records(24);
    // One introducer each: spread over the table.
    honest.forEach((r, i) => c.offer(r, `honest-${i}`, NOW));
    const held = honest.filter((r) => c.get(r.record.id) !== undefined);
    const flood = await records(60);
    flood.forEach((r, i) => c.offer(r, 'mallory', NOW + 1 + i));
    // Its later records displace its earlier ones: never more than its buckets hold.
    const placed = flood.filter((r) => c.get(r.record.id) !== undefined).length;
    expect(placed).toBeGreaterThan(0);
    expect(placed).toBeLessThanOrEqual(PEER_CACHE_BUCKETS_PER_SOURCE * PEER_CACHE_BUCKET_SLOTS);
    const placement = new BucketPlacement(SALT, c.policy);
    const mallorys = new Set(ids(flood).map((id) => placement.new('mallory', id)));
    // Honest entries outside mallory's buckets are all still there.
    for (const r of held) {
      const i = honest.indexOf(r);
      if (!mallorys.has(placement.new(`honest-${i}`, r.record.id))) expect(c.get(r.record.id)).toBeDefined();
    }
  });

  it('never lets an entry from an untried introducer displace a vouched one (introduced by a tried peer)', async () => {
    // One new bucket of two slots, so every record contests the same place.
    const c = cache({ newBuckets: 1, bucketSlots: 2, bucketsPerSource: 1 });
    const alice = await record();
    c.promote(alice, NOW);
    const vouched = await records(2);
    for (const r of vouched) expect(c.offer(r, alice.record.id, NOW)).toBe('added');
    expect(vouched.map((r) => c.get(r.record.id)?.vouched)).toEqual([true, true]);
    const stranger = await record();
    expect(c.offer(stranger, 'mallory', NOW + 1)).toBe('bucket-full');
    expect(c.counters().bucketFull).toBe(1);
    // Another vouched record displaces the oldest vouched one.
    const later = await record();
    expect(c.offer(later, alice.record.id, NOW + 2)).toBe('added');
    expect(c.get(vouched[0]?.record.id as PeerId)).toBeUndefined();
    // A record held already is vouched for when a tried peer introduces it too.
    const c2 = cache({ newBuckets: 1, bucketSlots: 2, bucketsPerSource: 1 });
    c2.promote(alice, NOW);
    c2.offer(stranger, 'mallory', NOW);
    expect(c2.offer(stranger, alice.record.id, NOW)).toBe('updated');
    expect(c2.get(stranger.record.id)?.vouched).toBe(true);
  });

  it('takes an expired entry’s place first, then the oldest one', async () => {
    const c = cache({ newBuckets: 1, bucketSlots: 3, bucketsPerSource: 1 });
    const old = await record(NOW - 2 * HOUR);
    const fresh = await records(3);
    c.offer(old, 'a', NOW - 2 * HOUR);
    c.offer(fresh[0] as SignedRecord, 'b', NOW);
    c.offer(fresh[1] as SignedRecord, 'c', NOW + 1);
    expect(c.offer(fresh[2] as SignedRecord, 'd', NOW + 2 * 60_000)).toBe('added');
    expect(c.get(old.record.id)).toBeUndefined();
    const newest = await record();
    expect(c.offer(newest, 'e', NOW + 3 * 60_000)).toBe('added');
    expect(c.get(fresh[0]?.record.id as PeerId)).toBeUndefined();
    expect(c.size).toBe(3);
  });

  it('replaces a record only with a newer sequence number', async () => {
    const alice = await newIdentity();
    const c = cache();
    const v1 = await signRecord(alice, { seq: 1, network: 'n', now: NOW });
    const v2 = await signRecord(alice, { seq: 2, network: 'n', now: NOW });
    expect(c.offer(v2, 'x', NOW)).toBe('added');
    expect(c.offer(v1, 'x', NOW)).toBe('stale');
    expect(c.offer(v2, 'x', NOW)).toBe('stale');
    expect(c.get(alice.id)?.signed.record.seq).toBe(2);
  });
});

describe('PeerCache: the server’s share', () => {
  it('keeps the server’s sample however many records peers offer', async () => {
    const c = cache();
    const sample = await records(PEER_CACHE_SERVER_SHARE);
    for (const r of sample) expect(c.offer(r, SERVER, NOW)).toBe('added');
    for (const r of await records(150)) c.offer(r, `mallory-${r.record.id}`, NOW + 1);
    expect(sample.every((r) => c.get(r.record.id)?.table === 'server')).toBe(true);
  });

  it('makes room for a newer sample by letting the oldest server records go, and moves a record the server vouches for out of the new table', async () => {
    const c = cache({ serverShare: 2 });
    const [a, b, d] = await records(3);
    if (!a || !b || !d) throw new Error('no records');
    c.offer(a, SERVER, NOW);
    c.offer(b, SERVER, NOW + 1);
    c.offer(d, 'peer', NOW);
    expect(c.offer(d, SERVER, NOW + 2)).toBe('updated');
    expect(c.get(d.record.id)?.table).toBe('server');
    expect(c.get(a.record.id)).toBeUndefined();
    expect(c.get(b.record.id)?.table).toBe('server');
  });
});

describe('PeerCache: the tried table (test-before-evict)', () => {
  /** One tried bucket of one slot: every promotion after the first contests it. */
  const tight = (): PeerCache => cache({ triedBuckets: 1, bucketSlots: 1 });

  it('promotes into room, and refreshes a tried peer', async () => {
    const c = tight();
    const alice = await record();
    c.offer(alice, SERVER, NOW);
    expect(c.promote(alice, NOW + 1)).toBe('tried');
    expect(c.get(alice.record.id)).toMatchObject({ table: 'tried', introducer: undefined, lastSeen: NOW + 1 });
    expect(c.promote(alice, NOW + 2)).toBe('refreshed');
    expect(c.get(alice.record.id)?.lastSeen).toBe(NOW + 2);
  });

  it('evicts a full bucket’s incumbent only once a started test fails, and then admits the newcomer', async () => {
    const c = tight();
    const [alice, bob] = await records(2);
    if (!alice || !bob) throw new Error('no records');
    c.promote(alice, NOW);
    expect(c.promote(bob, NOW + 1)).toBe('testing');
    expect(c.promote(bob, NOW + 2)).toBe('testing');
    expect(c.get(bob.record.id)).toBeUndefined();
    expect(c.dueTest(NOW + 2)).toBe(alice.record.id);
    expect(c.unreachable(alice.record.id, NOW + 3)).toBeUndefined();
    expect(c.get(alice.record.id)?.table).toBe('tried');
    c.startTest(alice.record.id, NOW + 3);
    expect(c.dueTest(NOW + 3)).toBeUndefined();
    expect(c.unreachable(alice.record.id, NOW + 4)?.record.id).toBe(bob.record.id);
    expect(c.get(alice.record.id)).toBeUndefined();
    expect(c.get(bob.record.id)?.table).toBe('tried');
    expect(c.counters()).toMatchObject({ testsQueued: 1, evicted: 1, testsPassed: 0 });
  });

  it('keeps an incumbent that proves reachable, and drops the newcomer', async () => {
    const c = tight();
    const [alice, bob] = await records(2);
    if (!alice || !bob) throw new Error('no records');
    c.promote(alice, NOW);
    c.promote(bob, NOW + 1);
    expect(c.reachable(alice.record.id, NOW + 2)).toBe(true);
    expect(c.get(alice.record.id)).toMatchObject({ table: 'tried', lastSeen: NOW + 2 });
    expect(c.get(bob.record.id)).toBeUndefined();
    expect(c.dueTest(NOW + 2)).toBeUndefined();
    expect(c.counters()).toMatchObject({ testsPassed: 1, evicted: 0 });
  });

  it('keeps the incumbent when a test is not decided within EVICTION_TEST_TIMEOUT_MS', async () => {
    const c = tight();
    const [alice, bob] = await records(2);
    if (!alice || !bob) throw new Error('no records');
    c.promote(alice, NOW);
    c.promote(bob, NOW);
    c.startTest(alice.record.id, NOW);
    expect(c.dueTest(NOW + EVICTION_TEST_TIMEOUT_MS)).toBeUndefined();
    c.expire(NOW + EVICTION_TEST_TIMEOUT_MS + 1);
    expect(c.unreachable(alice.record.id, NOW + EVICTION_TEST_TIMEOUT_MS + 2)).toBeUndefined();
    expect(c.get(alice.record.id)?.table).toBe('tried');
    expect(c.counters()).toMatchObject({ testsExpired: 1, evicted: 0 });
  });

  it('holds at most MAX_PENDING_EVICTION_TESTS waiting newcomers, and one per incumbent; more are refused and counted', async () => {
    const slots = MAX_PENDING_EVICTION_TESTS + 1;
    const c = cache({ triedBuckets: 1, bucketSlots: slots });
    const incumbents = await records(slots);
    incumbents.forEach((r, i) => c.promote(r, NOW + i));
    const newcomers = await records(slots + 1);
    // The oldest incumbent is contested: one test, then refusals.
    expect(c.promote(newcomers[0] as SignedRecord, NOW + 100)).toBe('testing');
    expect(c.promote(newcomers[1] as SignedRecord, NOW + 101)).toBe('tests-full');
    // Each passed-over incumbent refreshed, the next-oldest is contested in turn.
    for (let i = 1; i < MAX_PENDING_EVICTION_TESTS; i++) {
      c.seen(incumbents[i - 1]?.record.id as PeerId, NOW + 200 + i);
      expect(c.promote(newcomers[i + 1] as SignedRecord, NOW + 200 + i)).toBe('testing');
    }
    c.seen(incumbents[MAX_PENDING_EVICTION_TESTS - 1]?.record.id as PeerId, NOW + 300);
    expect(c.promote(newcomers[slots] as SignedRecord, NOW + 301)).toBe('tests-full');
    expect(c.counters()).toMatchObject({ testsQueued: MAX_PENDING_EVICTION_TESTS, testsRefused: 2 });
    expect(incumbents.every((r) => c.get(r.record.id)?.table === 'tried')).toBe(true);
  });

  it('evicts at once with testBeforeEvict off (the policy before issue 15, for the bench)', async () => {
    const c = cache({ triedBuckets: 1, bucketSlots: 1, testBeforeEvict: false });
    const [alice, bob] = await records(2);
    if (!alice || !bob) throw new Error('no records');
    c.promote(alice, NOW);
    expect(c.promote(bob, NOW + 1)).toBe('tried');
    expect(c.get(alice.record.id)).toBeUndefined();
    expect(c.counters().evicted).toBe(1);
  });

  it('gives an expired incumbent’s place to the newcomer without a test', async () => {
    const c = tight();
    const alice = await record(NOW - 2 * HOUR);
    const bob = await record();
    c.promote(alice, NOW - 2 * HOUR);
    expect(c.promote(bob, NOW)).toBe('tried');
    expect(c.get(alice.record.id)).toBeUndefined();
    expect(c.counters().testsQueued).toBe(0);
  });

  it('never evicts tried entries for untried ones', async () => {
    const c = cache({ newBuckets: 1, bucketSlots: 1, bucketsPerSource: 1, triedBuckets: 1, serverShare: 0 });
    const alice = await record();
    c.promote(alice, NOW);
    for (const r of await records(5)) c.offer(r, `x-${r.record.id}`, NOW + 1);
    expect(c.get(alice.record.id)?.table).toBe('tried');
  });
});

describe('PeerCache: reading', () => {
  it('samples tried entries first and leaves out what it is told to', async () => {
    const c = cache();
    const [a, b, d] = await records(3);
    if (a === undefined || b === undefined || d === undefined) throw new Error('no records');
    c.offer(a, 'x', NOW);
    c.promote(b, NOW);
    c.offer(d, 'x', NOW);
    const sample = c.sample(2, () => 0.5, new Set([d.record.id]));
    expect(sample.map((r) => r.record.id)).toEqual([b.record.id, a.record.id]);
  });

  it('drops expired records, whichever table holds them', async () => {
    const c = cache();
    const [a, b, d] = await records(3, 'n', NOW, 60_000);
    if (a === undefined || b === undefined || d === undefined) throw new Error('no records');
    c.offer(a, 'x', NOW);
    c.promote(b, NOW);
    c.offer(d, SERVER, NOW);
    expect(c.expire(NOW + HOUR)).toBe(3);
    expect(c.size).toBe(0);
  });
});
