/**
 * The record cache behind rejoining (after qp2p's bootstrap cache: at most
 * MAX_CACHED_RECORDS verified records), built to hold against an attacker
 * with free keys after Bitcoin Core's addrman. Three tables:
 *
 * - tried: peers we held a connection with for MIN_TRIED_CONNECTION_MS (the
 *   caller decides when, and calls promote()). Each ID has one bucket, by the
 *   keyed hash of the ID. In a full bucket the incumbent is evicted only after
 *   it fails a reachability test the node runs (test-before-evict); only
 *   MAX_PENDING_EVICTION_TESTS newcomers wait at once, and a test not decided
 *   in EVICTION_TEST_TIMEOUT_MS keeps the incumbent.
 * - server: PEER_CACHE_SERVER_SHARE records from signaling servers' samples,
 *   which no peer can write; the oldest leaves first.
 * - new: records heard of from peers, in buckets chosen by the keyed hash of
 *   the introducer (PEER_CACHE_BUCKETS_PER_SOURCE of them per introducer). An
 *   entry introduced by a tried peer (or a tab of this browser) is "vouched":
 *   only another vouched entry may displace it, so records from connections
 *   that lasted seconds cannot push out those from long-lived ones.
 *
 * Expired records leave first. Pure logic: storage, clocks, the salt and the
 * reachability tests themselves are the caller's (see peer-cache-store.ts and
 * web/node/peer-book.ts).
 */
import type { PeerId } from './identity/peer-id.js';
import {
  EVICTION_TEST_TIMEOUT_MS,
  MAX_PENDING_EVICTION_TESTS,
  PEER_CACHE_BUCKET_SLOTS,
  PEER_CACHE_BUCKETS_PER_SOURCE,
  PEER_CACHE_NEW_BUCKETS,
  PEER_CACHE_SALT_BYTES,
  PEER_CACHE_SERVER_SHARE,
  PEER_CACHE_TRIED_BUCKETS,
} from './limits.js';
import { BucketPlacement } from './peer-cache-buckets.js';
import { checkRecordTimes, supersedes, type SignedRecord } from './records.js';

/** Introducers of records from a signaling server's sample: `signaling:<url>`. */
export const SERVER_INTRODUCER_PREFIX = 'signaling:';
/** The introducer of records from tabs of this browser. */
export const LOCAL_INTRODUCER = 'local';

export type CacheTable = 'tried' | 'new' | 'server';

export interface CacheEntry {
  readonly signed: SignedRecord;
  readonly table: CacheTable;
  /** Who told us of it: a peer ID, `signaling:<url>` or `local`. Absent once tried. */
  readonly introducer: string | undefined;
  /** A new entry whose introducer was tried (or a tab of this browser) when it came. */
  readonly vouched: boolean;
  /** When we last heard of it, or (tried) last held a connection with it (ms). */
  readonly lastSeen: number;
}

export type OfferOutcome = 'added' | 'updated' | 'stale' | 'bucket-full';
/**
 * What promote() did: `tried` (now in the tried table), `refreshed` (was
 * already), `testing` (its bucket is full: the incumbent is to be tested, see
 * dueTest), `tests-full` (refused: MAX_PENDING_EVICTION_TESTS newcomers wait
 * already, or one waits on that incumbent).
 */
export type PromoteOutcome = 'tried' | 'refreshed' | 'testing' | 'tests-full';

/** The cache's shape and rules; every field defaults to its constant in shared/limits.ts. */
export interface CachePolicy {
  readonly triedBuckets: number;
  readonly newBuckets: number;
  readonly bucketSlots: number;
  readonly bucketsPerSource: number;
  readonly serverShare: number;
  readonly maxPendingTests: number;
  readonly testTimeoutMs: number;
  /**
   * Evict a tried incumbent only once it fails a reachability test (the
   * default). False evicts it at once, as the cache did before issue 15: the
   * adversary bench sets it to show what the test prevents.
   */
  readonly testBeforeEvict: boolean;
}

export const DEFAULT_CACHE_POLICY: CachePolicy = {
  triedBuckets: PEER_CACHE_TRIED_BUCKETS,
  newBuckets: PEER_CACHE_NEW_BUCKETS,
  bucketSlots: PEER_CACHE_BUCKET_SLOTS,
  bucketsPerSource: PEER_CACHE_BUCKETS_PER_SOURCE,
  serverShare: PEER_CACHE_SERVER_SHARE,
  maxPendingTests: MAX_PENDING_EVICTION_TESTS,
  testTimeoutMs: EVICTION_TEST_TIMEOUT_MS,
  testBeforeEvict: true,
};

/** What the cache refused or decided, for the node's diagnostics. */
export interface CacheCounters {
  /** New records refused: their bucket held only entries they may not displace. */
  bucketFull: number;
  /** Tried newcomers that found their bucket full, so its incumbent is to be tested. */
  testsQueued: number;
  /** Tried newcomers refused: MAX_PENDING_EVICTION_TESTS waited already, or one on that incumbent. */
  testsRefused: number;
  /** Incumbents that proved reachable: kept, and their newcomer dropped. */
  testsPassed: number;
  /** Tests not decided within EVICTION_TEST_TIMEOUT_MS: incumbent kept. */
  testsExpired: number;
  /** Tried incumbents evicted for a newcomer (after failing a test, unless testBeforeEvict is off). */
  evicted: number;
}

interface Held extends CacheEntry {
  /** The entry's bucket in its table (0 in the server share, which has none). */
  readonly bucket: number;
}

interface EvictionTest {
  readonly newcomer: SignedRecord;
  readonly queuedAt: number;
  startedAt: number | undefined;
}

export class PeerCache {
  readonly policy: CachePolicy;
  private readonly entries = new Map<string, Held>();
  /** Pending reachability tests, by the incumbent tested; oldest first. */
  private readonly tests = new Map<PeerId, EvictionTest>();
  private readonly placement: BucketPlacement;
  private readonly counts: CacheCounters = {
    bucketFull: 0,
    testsQueued: 0,
    testsRefused: 0,
    testsPassed: 0,
    testsExpired: 0,
    evicted: 0,
  };

  /** `salt`: PEER_CACHE_SALT_BYTES secret random bytes, kept with the cache (see peer-cache-store.ts). */
  constructor(
    readonly salt: Uint8Array,
    policy: Partial<CachePolicy> = {},
  ) {
    if (salt.length !== PEER_CACHE_SALT_BYTES) throw new RangeError(`the salt is ${PEER_CACHE_SALT_BYTES} bytes`);
    this.policy = { ...DEFAULT_CACHE_POLICY, ...policy };
    this.placement = new BucketPlacement(salt, this.policy);
  }

  /** Most entries held at once: both tables' buckets and the server share. */
  get capacity(): number {
    const { triedBuckets, newBuckets, bucketSlots, serverShare } = this.policy;
    return (triedBuckets + newBuckets) * bucketSlots + serverShare;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: PeerId): CacheEntry | undefined {
    return this.entries.get(id);
  }

  all(): CacheEntry[] {
    return [...this.entries.values()];
  }

  counters(): Readonly<CacheCounters> {
    return { ...this.counts };
  }

  /** A verified record heard from `introducer` (a peer ID, `signaling:<url>` or `local`). */
  offer(signed: SignedRecord, introducer: string, now: number): OfferOutcome {
    const id = signed.record.id;
    const held = this.entries.get(id);
    if (held !== undefined) return this.refresh(held, signed, introducer, now);
    if (this.fromServer(introducer)) {
      this.makeServerRoom(now);
      this.entries.set(id, { signed, table: 'server', bucket: 0, introducer, vouched: false, lastSeen: now });
      return 'added';
    }
    const vouched = this.vouches(introducer);
    const bucket = this.placement.new(introducer, id);
    if (!this.makeNewRoom(bucket, vouched, now)) {
      this.counts.bucketFull++;
      return 'bucket-full';
    }
    this.entries.set(id, { signed, table: 'new', bucket, introducer, vouched, lastSeen: now });
    return 'added';
  }

  /**
   * A connection with this peer has lasted MIN_TRIED_CONNECTION_MS: into the
   * tried table, where a full bucket's incumbent is tested before it goes.
   */
  promote(signed: SignedRecord, now: number): PromoteOutcome {
    const id = signed.record.id;
    const held = this.entries.get(id);
    const best = held === undefined || supersedes(signed.record, held.signed.record) ? signed : held.signed;
    if (held?.table === 'tried') {
      this.entries.set(id, { ...held, signed: best, lastSeen: now });
      return 'refreshed';
    }
    for (const test of this.tests.values()) if (test.newcomer.record.id === id) return 'testing';
    const bucket = this.placement.tried(id);
    const incumbent = this.triedIncumbent(bucket, now);
    if (incumbent !== undefined) {
      const incumbentId = incumbent.signed.record.id;
      if (this.policy.testBeforeEvict) {
        if (this.tests.has(incumbentId) || this.tests.size >= this.policy.maxPendingTests) {
          this.counts.testsRefused++;
          return 'tests-full';
        }
        this.tests.set(incumbentId, { newcomer: best, queuedAt: now, startedAt: undefined });
        this.counts.testsQueued++;
        return 'testing';
      }
      this.entries.delete(incumbentId);
      this.counts.evicted++;
    }
    this.putTried(best, bucket, now);
    return 'tried';
  }

  /** We hold (or just held) a connection with this tried peer: it was seen now. */
  seen(id: PeerId, now: number): boolean {
    const held = this.entries.get(id);
    if (held?.table !== 'tried') return false;
    this.entries.set(id, { ...held, lastSeen: now });
    return true;
  }

  /** The oldest reachability test not yet started: the incumbent to dial, if any. */
  dueTest(now: number): PeerId | undefined {
    this.settleTests(now);
    for (const [incumbent, test] of this.tests) if (test.startedAt === undefined) return incumbent;
    return undefined;
  }

  /** The node has started dialling `incumbent` for its test: a failure from now on counts. */
  startTest(incumbent: PeerId, now: number): void {
    const test = this.tests.get(incumbent);
    if (test !== undefined) test.startedAt = now;
  }

  /** `peer` proved reachable (a connection, or a signed answer): a test of it passes, and it stays. */
  reachable(peer: PeerId, now: number): boolean {
    const passed = this.tests.delete(peer);
    if (passed) this.counts.testsPassed++;
    this.seen(peer, now);
    return passed;
  }

  /**
   * Our attempt at `peer` failed. If it was being tested, it is evicted and
   * the newcomer that waited takes the room: returned, so the caller can act
   * on a newly tried peer. Failures before the test started do not count.
   */
  unreachable(peer: PeerId, now: number): SignedRecord | undefined {
    const test = this.tests.get(peer);
    if (test?.startedAt === undefined) return undefined;
    this.tests.delete(peer);
    if (this.entries.get(peer)?.table === 'tried') {
      this.entries.delete(peer);
      this.counts.evicted++;
    }
    const newcomer = test.newcomer;
    if (!checkRecordTimes(newcomer.record, now).ok) return undefined;
    const bucket = this.placement.tried(newcomer.record.id);
    if (this.triedIncumbent(bucket, now) !== undefined) return undefined;
    this.putTried(newcomer, bucket, now);
    return newcomer;
  }

  remove(id: PeerId): boolean {
    this.tests.delete(id);
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
    this.settleTests(now);
    return removed;
  }

  /**
   * Put a stored entry back as it was, evicting nothing (restoring a cache
   * written by this code never needs to); false when its place is full.
   */
  load(
    signed: SignedRecord,
    stored: { tried: boolean; introducer: string; vouched: boolean },
    lastSeen: number,
  ): boolean {
    const id = signed.record.id;
    if (this.entries.has(id)) return false;
    if (stored.tried) {
      const bucket = this.placement.tried(id);
      if (this.inBucket('tried', bucket).length >= this.policy.bucketSlots) return false;
      this.putTried(signed, bucket, lastSeen);
      return true;
    }
    const introducer = stored.introducer;
    if (this.fromServer(introducer)) {
      if (this.all().filter((e) => e.table === 'server').length >= this.policy.serverShare) return false;
      this.entries.set(id, { signed, table: 'server', bucket: 0, introducer, vouched: false, lastSeen });
      return true;
    }
    const bucket = this.placement.new(introducer, id);
    if (this.inBucket('new', bucket).length >= this.policy.bucketSlots) return false;
    this.entries.set(id, { signed, table: 'new', bucket, introducer, vouched: stored.vouched, lastSeen });
    return true;
  }

  /** Up to `k` random records, tried ones first, leaving out `exclude`. */
  sample(k: number, random: () => number, exclude: ReadonlySet<PeerId> = new Set()): SignedRecord[] {
    const pick = (tried: boolean): CacheEntry[] =>
      this.all().filter((e) => (e.table === 'tried') === tried && !exclude.has(e.signed.record.id));
    const shuffle = (list: CacheEntry[]): CacheEntry[] => {
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [list[i], list[j]] = [list[j] as CacheEntry, list[i] as CacheEntry];
      }
      return list;
    };
    return [...shuffle(pick(true)), ...shuffle(pick(false))].slice(0, k).map((e) => e.signed);
  }

  /** A record held already: a newer one replaces it; the server's word or a tried introducer's raises its standing. */
  private refresh(held: Held, signed: SignedRecord, introducer: string, now: number): OfferOutcome {
    const id = signed.record.id;
    let next: Held = supersedes(signed.record, held.signed.record) ? { ...held, signed, lastSeen: now } : held;
    if (held.table === 'new' && this.fromServer(introducer)) {
      // In the server's sample too: moved to the share no peer can write.
      this.entries.delete(id);
      this.makeServerRoom(now);
      next = { ...next, table: 'server', bucket: 0, introducer, vouched: false, lastSeen: now };
    } else if (held.table === 'new' && !held.vouched && this.vouches(introducer)) {
      next = { ...next, vouched: true };
    }
    if (next === held) return 'stale';
    this.entries.set(id, next);
    return 'updated';
  }

  private fromServer(introducer: string): boolean {
    return this.policy.serverShare > 0 && introducer.startsWith(SERVER_INTRODUCER_PREFIX);
  }

  /** Whether records from `introducer` are vouched for: a tried peer, or a tab of this browser (same origin: it could write our storage anyway). */
  private vouches(introducer: string): boolean {
    return introducer === LOCAL_INTRODUCER || this.entries.get(introducer)?.table === 'tried';
  }

  private putTried(signed: SignedRecord, bucket: number, now: number): void {
    this.entries.set(signed.record.id, {
      signed,
      table: 'tried',
      bucket,
      introducer: undefined,
      vouched: false,
      lastSeen: now,
    });
  }

  private inBucket(table: CacheTable, bucket: number): Held[] {
    return [...this.entries.values()].filter((e) => e.table === table && e.bucket === bucket);
  }

  /** Room in a full new bucket: an expired entry, else the oldest one a newcomer of this standing may displace. */
  private makeNewRoom(bucket: number, vouched: boolean, now: number): boolean {
    const members = this.inBucket('new', bucket);
    if (members.length < this.policy.bucketSlots) return true;
    const victim = this.expiredIn(members, now) ?? oldest(members.filter((e) => vouched || !e.vouched));
    if (victim === undefined) return false;
    this.entries.delete(victim.signed.record.id);
    return true;
  }

  private makeServerRoom(now: number): void {
    const members = [...this.entries.values()].filter((e) => e.table === 'server');
    if (members.length < this.policy.serverShare) return;
    const victim = this.expiredIn(members, now) ?? oldest(members);
    if (victim !== undefined) this.entries.delete(victim.signed.record.id);
  }

  /** Undefined when the tried bucket has room (an expired entry is let go for it); else its incumbent, the least recently seen. */
  private triedIncumbent(bucket: number, now: number): Held | undefined {
    const members = this.inBucket('tried', bucket);
    if (members.length < this.policy.bucketSlots) return undefined;
    const expired = this.expiredIn(members, now);
    if (expired === undefined) return oldest(members);
    this.entries.delete(expired.signed.record.id);
    return undefined;
  }

  private expiredIn(members: readonly Held[], now: number): Held | undefined {
    return members.find((e) => !checkRecordTimes(e.signed.record, now).ok);
  }

  /** Drop tests that timed out (the incumbent stays) or whose incumbent left anyway (the newcomer takes the room). */
  private settleTests(now: number): void {
    for (const [incumbent, test] of this.tests) {
      if (now - test.queuedAt > this.policy.testTimeoutMs) {
        this.tests.delete(incumbent);
        this.counts.testsExpired++;
      } else if (this.entries.get(incumbent)?.table !== 'tried') {
        this.tests.delete(incumbent);
        const bucket = this.placement.tried(test.newcomer.record.id);
        if (checkRecordTimes(test.newcomer.record, now).ok && this.triedIncumbent(bucket, now) === undefined)
          this.putTried(test.newcomer, bucket, now);
      }
    }
  }
}

function oldest(entries: readonly Held[]): Held | undefined {
  let found: Held | undefined;
  for (const entry of entries) if (found === undefined || entry.lastSeen < found.lastSeen) found = entry;
  return found;
}
