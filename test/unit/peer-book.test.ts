import { recordingCore } from '../helpers/node-core.js';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import {
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_ENDPOINTS,
  MAX_RECORDS_PER_MESSAGE,
  MIN_TRIED_CONNECTION_MS,
  PEER_CACHE_SALT_BYTES,
  SEAL_KEY_BYTES,
} from '../../shared/limits.js';
import { PeerCache, type CachePolicy } from '../../shared/peer-cache.js';
import { restoreCache, storedForm } from '../../shared/peer-cache-store.js';
import { parseChannelFrame } from '../../shared/protocol/channel.js';
import { signRecord, verifyRecord, type SignedRecord } from '../../shared/records.js';
import { cacheKey } from '../../web/node/boot.js';
import type { NodeCore } from '../../web/node/core.js';
import {
  PERSIST_DELAY_MS,
  PeerBook,
  signOwnRecord,
  type OwnRecordSettings,
  type PeerBookHost,
  type PeerBookOptions,
} from '../../web/node/peer-book.js';
import { memoryStore, type KeyValueStore } from '../../web/storage/store.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const NETWORK = 'lobby';
const HOUR = 3_600_000;
const SETTINGS: OwnRecordSettings = { urls: ['wss://signal.example.com/ws'], name: 'Ada' };
const SALT = new Uint8Array(PEER_CACHE_SALT_BYTES).fill(9);

/** A host that records every call. */
class FakeHost implements PeerBookHost {
  readonly passive: PeerId[][] = [];
  readonly learned: (readonly string[])[] = [];
  readonly renewed: SignedRecord[] = [];
  readonly frames: { readonly peer: PeerId; readonly frame: Uint8Array }[] = [];
  readonly changes: number[] = [];

  addPassive(ids: readonly PeerId[]): void {
    this.passive.push([...ids]);
  }
  learnEndpoints(endpoints: readonly string[]): void {
    this.learned.push(endpoints);
  }
  recordRenewed(record: SignedRecord): void {
    this.renewed.push(record);
  }
  sendFrame(peer: PeerId, frame: Uint8Array): void {
    this.frames.push({ peer, frame });
  }
  changed(known: number): void {
    this.changes.push(known);
  }
}

/** Memory storage that records each write and can be made to refuse them. */
class RecordingStore implements KeyValueStore {
  readonly kind = 'memory' as const;
  readonly writes: { readonly key: string; readonly value: unknown }[] = [];
  failure: Error | undefined;
  private readonly inner = memoryStore();

  get(key: string): Promise<unknown> {
    return this.inner.get(key);
  }
  async set(key: string, value: unknown): Promise<void> {
    this.writes.push({ key, value });
    if (this.failure !== undefined) throw this.failure;
    await this.inner.set(key, value);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

/** Ed25519 that counts verifications. */
function countingEd25519(): Ed25519 & { verifies: number } {
  const counting = {
    name: ed25519.name,
    verifies: 0,
    generate: () => ed25519.generate(),
    fromSeed: (seed: Uint8Array) => ed25519.fromSeed(seed),
    verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => {
      counting.verifies++;
      return ed25519.verify(publicKey, message, signature);
    },
  };
  return counting;
}

interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly peer: PeerId | undefined;
}

interface Setup {
  readonly self: Identity;
  readonly core: NodeCore;
  readonly book: PeerBook;
  readonly host: FakeHost;
  readonly cache: PeerCache;
  readonly store: RecordingStore;
  readonly problems: Problem[];
  readonly warnings: { readonly message: string; readonly fields: object | undefined }[];
  readonly initial: SignedRecord;
  clock: number;
  connected: PeerId[];
}

async function setup(
  options: { ed?: Ed25519; settings?: OwnRecordSettings; book?: PeerBookOptions; policy?: Partial<CachePolicy> } = {},
): Promise<Setup> {
  const self = await newIdentity();
  const settings = options.settings ?? SETTINGS;
  const initial = await signOwnRecord(self, NETWORK, settings, undefined, NOW, undefined);
  const host = new FakeHost();
  const cache = new PeerCache(SALT, options.policy);
  const store = new RecordingStore();
  const { core, state, problems, warnings } = recordingCore(self, {
    clock: NOW,
    network: NETWORK,
    ed25519: options.ed ?? ed25519,
  });
  const book = new PeerBook(core, host, cache, store, settings, initial, options.book);
  return Object.assign(state, { self, core, book, host, cache, store, problems, warnings, initial });
}

interface PeerOptions {
  readonly seq?: number;
  readonly now?: number;
  readonly lifetimeMs?: number;
  readonly network?: string;
  readonly name?: string;
}

/** A peer's record, signed by it. */
async function recordOf(identity: Identity, options: PeerOptions = {}): Promise<SignedRecord> {
  return signRecord(identity, {
    seq: options.seq ?? 1,
    network: options.network ?? NETWORK,
    now: options.now ?? NOW,
    lifetimeMs: options.lifetimeMs ?? HOUR,
    endpoints: [`wss://${identity.id.slice(0, 8).toLowerCase()}.example.com/ws`],
    ...(options.name === undefined ? {} : { name: options.name }),
  });
}

async function peers(count: number, options: PeerOptions = {}): Promise<SignedRecord[]> {
  return Promise.all(Array.from({ length: count }, async () => recordOf(await newIdentity(), options)));
}

/** A confirmed channel to `peer` that lasts MIN_TRIED_CONNECTION_MS, then closes: the peer becomes tried. */
function lasting(s: Setup, peer: PeerId, ms = MIN_TRIED_CONNECTION_MS): void {
  s.connected.push(peer);
  s.book.reached(peer);
  s.clock += ms;
  s.connected = s.connected.filter((p) => p !== peer);
  s.book.lost(peer);
}

function one<T>(list: readonly T[]): T {
  if (list.length !== 1) throw new Error(`expected one, got ${list.length}`);
  return list[0] as T;
}

/** The records in a RECORDS frame, verified. */
async function recordsIn(frame: Uint8Array, now = NOW): Promise<SignedRecord[]> {
  const parsed = parseChannelFrame(frame);
  if (!parsed.ok || parsed.value.type !== 'records') throw new Error('not a records frame');
  return Promise.all(
    parsed.value.records.map(async (bytes) => {
      const result = await verifyRecord(ed25519, bytes, { now, network: NETWORK });
      if (!result.ok) throw result.error;
      return result.value;
    }),
  );
}

const FROM_PEER = 'record from a peer';
const WELCOME = 'signaling:wss://signal.example.com/ws';

beforeEach(() => {
  // Only the persistence timer is faked: Ed25519 and the clock are real (the book's clock is injected).
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PeerBook.intake', () => {
  it('verifies every record and charges each bad one to its sender, with the label and the record’s code', async () => {
    const s = await setup();
    const [good] = await peers(1);
    const [foreign] = await peers(1, { network: 'elsewhere' });
    const [expired] = await peers(1, { now: NOW - 3 * HOUR });
    const [future] = await peers(1, { now: NOW + MAX_CLOCK_SKEW_MS + 60_000 });
    const [honest] = await peers(1);
    if (!good || !foreign || !expired || !future || !honest) throw new Error('no records');
    const forged = honest.bytes.slice();
    forged[forged.length - 40] = (forged[forged.length - 40] ?? 0) ^ 1;
    const mallory = (await newIdentity()).id;
    await s.book.intake([forged, foreign.text, good.text, expired.bytes, 'not a record!', future.text], {
      introducer: mallory,
      label: FROM_PEER,
      from: mallory,
    });
    expect(s.problems).toEqual([
      {
        code: ErrorCode.RECORD_BAD_SIGNATURE,
        message: `${FROM_PEER}: record signature does not verify`,
        peer: mallory,
      },
      { code: ErrorCode.NETWORK_MISMATCH, message: `${FROM_PEER}: record belongs to another network`, peer: mallory },
      { code: ErrorCode.RECORD_EXPIRED, message: `${FROM_PEER}: record expired`, peer: mallory },
      {
        code: ErrorCode.RECORD_MALFORMED,
        message: `${FROM_PEER}: record is not canonical base64url`,
        peer: mallory,
      },
      {
        code: ErrorCode.RECORD_FUTURE_DATED,
        message: `${FROM_PEER}: record issued in the future beyond the allowed clock skew`,
        peer: mallory,
      },
    ]);
    expect(s.book.contacts()).toEqual([good.record.id]);
    expect(s.host.passive).toEqual([[good.record.id]]);
  });

  it('charges bad records from a server to no peer', async () => {
    const s = await setup();
    const [foreign] = await peers(1, { network: 'elsewhere' });
    await s.book.intake([foreign?.text ?? ''], { introducer: 'signaling:wss://s.example.com/ws', label: 'welcome' });
    expect(s.problems).toEqual([
      { code: ErrorCode.NETWORK_MISMATCH, message: 'welcome: record belongs to another network', peer: undefined },
    ]);
    expect(s.book.size).toBe(0);
    expect(s.host.changes).toEqual([]);
  });

  it('skips our own record, without complaint', async () => {
    const s = await setup();
    const [alice] = await peers(1);
    const newerOwn = await signOwnRecord(s.self, NETWORK, SETTINGS, undefined, NOW + 1, s.initial);
    await s.book.intake([s.initial.text, newerOwn.bytes, alice?.text ?? ''], { introducer: 'local', label: 'tabs' });
    expect(s.book.has(s.self.id)).toBe(false);
    expect(s.book.contacts()).toEqual([alice?.record.id]);
    expect(s.problems).toEqual([]);
  });

  it('with `only`, caches that peer’s record and no other', async () => {
    const s = await setup();
    const [alice, bob] = await peers(2);
    if (!alice || !bob) throw new Error('no records');
    const from = alice.record.id;
    await s.book.intake([bob.text, alice.text], { introducer: from, label: 'introduced record', from, only: from });
    expect(s.book.contacts()).toEqual([from]);
    expect(s.book.has(bob.record.id)).toBe(false);
    expect(s.host.passive).toEqual([[from]]);
    expect(s.problems).toEqual([]);
  });

  it('caches records as introduced by the source’s introducer, and hands the new peers to addPassive in one call', async () => {
    const s = await setup();
    const batch = await peers(3);
    const introducer = 'signaling:wss://s.example.com/ws';
    await s.book.intake(
      batch.map((r) => r.text),
      { introducer, label: 'welcome' },
    );
    for (const record of batch) {
      const entry = s.cache.get(record.record.id);
      expect(entry?.introducer).toBe(introducer);
      expect(entry?.table).toBe('server');
      expect(entry?.signed.text).toBe(record.text);
    }
    expect(s.host.passive).toEqual([batch.map((r) => r.record.id)]);
    expect(s.host.changes).toEqual([3]);
    expect(s.book.recordOf(batch[0]?.record.id as PeerId)?.text).toBe(batch[0]?.text);
  });

  it('emits `changed` but calls no addPassive for an updated record, and neither for a stale one', async () => {
    const s = await setup();
    const alice = await newIdentity();
    const source = { introducer: 'local', label: 'tabs' };
    await s.book.intake([(await recordOf(alice, { seq: 1 })).text], source);
    expect(s.host.passive).toHaveLength(1);
    expect(s.host.changes).toEqual([1]);
    await s.book.intake([(await recordOf(alice, { seq: 2, name: 'Alice' })).text], source);
    expect(s.host.passive).toHaveLength(1);
    expect(s.host.changes).toEqual([1, 1]);
    expect(s.book.recordOf(alice.id)?.record.seq).toBe(2);
    // Older, and equal with other contents: neither replaces what is held.
    await s.book.intake([(await recordOf(alice, { seq: 1, name: 'Old' })).text], source);
    await s.book.intake([(await recordOf(alice, { seq: 2, name: 'Other' })).text], source);
    expect(s.host.changes).toEqual([1, 1]);
    expect(s.book.recordOf(alice.id)?.record.name).toBe('Alice');
  });

  it('keeps the connected peer’s own record for its connection, not as a passive candidate; others in the batch are offered as usual', async () => {
    const s = await setup();
    const [bob, carol] = await peers(2);
    if (!bob || !carol) throw new Error('no records');
    const from = bob.record.id;
    s.connected = [from];
    s.book.reached(from);
    await s.book.intake([bob.bytes, carol.bytes], {
      introducer: from,
      label: FROM_PEER,
      from,
      connectedPeer: (id) => id === from,
    });
    // Not tried yet: the connection has only begun.
    expect(s.cache.get(from)?.table).toBe('new');
    expect(s.host.learned).toEqual([]);
    expect(s.cache.get(carol.record.id)).toMatchObject({ table: 'new', introducer: from, vouched: false });
    expect(s.host.passive).toEqual([[carol.record.id]]);
    expect(s.host.changes).toEqual([2]);
    // It lasts: tried with the record that came over the channel, and its URLs learned.
    s.clock += MIN_TRIED_CONNECTION_MS;
    await s.book.maintain();
    expect(s.cache.get(from)).toMatchObject({ table: 'tried', introducer: undefined, signed: { text: bob.text } });
    expect(s.host.learned).toEqual([bob.record.endpoints]);
  });

  it('does not verify again a record text it holds', async () => {
    const counting = countingEd25519();
    const s = await setup({ ed: counting });
    const [a, b, c] = await peers(3);
    if (!a || !b || !c) throw new Error('no records');
    const source = { introducer: 'local', label: 'tabs' };
    await s.book.intake([a.text, b.text], source);
    expect(counting.verifies).toBe(2);
    await s.book.intake([a.text, b.text, c.text], source);
    expect(counting.verifies).toBe(3);
    expect(s.book.size).toBe(3);
    // Only the new one counted as news.
    expect(s.host.passive).toEqual([[a.record.id, b.record.id], [c.record.id]]);
  });
});

describe('PeerBook: what the node tells it', () => {
  it('keep() caches a record the membership verified, without addPassive', async () => {
    const s = await setup();
    const alice = await newIdentity();
    const introducer = (await newIdentity()).id;
    s.book.keep(await recordOf(alice), introducer);
    expect(s.cache.get(alice.id)?.introducer).toBe(introducer);
    expect(s.host.passive).toEqual([]);
    expect(s.host.changes).toEqual([1]);
    s.book.keep(await recordOf(alice), introducer);
    expect(s.host.changes).toEqual([1]);
    s.book.keep(await recordOf(alice, { seq: 2 }), introducer);
    expect(s.host.changes).toEqual([1, 1]);
  });

  it('a connection that lasts MIN_TRIED_CONNECTION_MS makes its peer tried (and learns its endpoints); an unknown peer changes nothing', async () => {
    const s = await setup();
    const [alice] = await peers(1);
    if (!alice) throw new Error('no record');
    await s.book.intake([alice.text], { introducer: 'local', label: 'tabs' });
    vi.advanceTimersByTime(PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
    lasting(s, alice.record.id, MIN_TRIED_CONNECTION_MS - 1);
    expect(s.cache.get(alice.record.id)?.table).toBe('new');
    expect(s.book.stats().tooShort).toBe(1);
    lasting(s, alice.record.id);
    expect(s.cache.get(alice.record.id)).toMatchObject({ table: 'tried', lastSeen: s.clock });
    expect(s.host.learned).toEqual([alice.record.endpoints]);
    // Being tried is saved too.
    vi.advanceTimersByTime(PERSIST_DELAY_MS);
    // No anchor: the connection has closed.
    expect(s.store.writes[1]?.value).toEqual(storedForm(s.cache, []));
    expect(s.store.writes[1]?.value).toMatchObject({ entries: [{ r: alice.text, t: true, i: null, s: s.clock }] });
    lasting(s, (await newIdentity()).id);
    expect(s.host.learned).toHaveLength(1);
    expect(s.book.size).toBe(1);
  });

  it('forgetUntried() removes an untried peer only', async () => {
    const s = await setup();
    const [untried, tried] = await peers(2);
    if (!untried || !tried) throw new Error('no records');
    await s.book.intake([untried.text, tried.text], { introducer: 'local', label: 'tabs' });
    lasting(s, tried.record.id);
    s.book.forgetUntried(untried.record.id);
    s.book.forgetUntried(tried.record.id);
    s.book.forgetUntried((await newIdentity()).id);
    expect(s.book.has(untried.record.id)).toBe(false);
    expect(s.book.has(tried.record.id)).toBe(true);
  });

  it('ranks contacts and known peers: tried, the server’s sample, vouched, others; each most recently seen first', async () => {
    const s = await setup();
    const [a, b, c, d, e, f] = await peers(6);
    if (!a || !b || !c || !d || !e || !f) throw new Error('no records');
    const alice = await newIdentity();
    const named = await recordOf(alice, { name: 'Alice', seq: 9 });
    const stranger = (await newIdentity()).id;
    const source = { introducer: stranger, label: 'peer' };
    await s.book.intake([a.text, b.text, d.text], source);
    lasting(s, b.record.id);
    await s.book.intake([c.text, named.text], source);
    lasting(s, d.record.id);
    await s.book.intake([e.text], { introducer: 'signaling:wss://s.example.com/ws', label: 'welcome' });
    s.clock += 1;
    // Introduced by a tried peer: vouched.
    await s.book.intake([f.text], { introducer: b.record.id, label: 'peer' });
    const order = [d, b, e, f, c].map((r) => r.record.id);
    expect(s.book.contacts()).toEqual([...order, alice.id, a.record.id]);
    expect(s.book.knownPeers().map((p) => [p.id, p.tried])).toEqual([
      [d.record.id, true],
      [b.record.id, true],
      [e.record.id, false],
      [f.record.id, false],
      [c.record.id, false],
      [alice.id, false],
      [a.record.id, false],
    ]);
    expect(s.book.knownPeers().find((p) => p.id === alice.id)).toEqual({
      id: alice.id,
      name: 'Alice',
      tried: false,
      seq: 9,
      expiresAt: NOW + HOUR,
      endpoints: named.record.endpoints,
    });
  });
});

describe('PeerBook: signaling URLs learned from peers (issue 15, item 10)', () => {
  /** A record listing `endpoints`. */
  async function listing(endpoints: string[]): Promise<SignedRecord> {
    return signRecord(await newIdentity(), { seq: 1, network: NETWORK, now: NOW, lifetimeMs: HOUR, endpoints });
  }

  it('refuses (and counts) the URLs of a peer that is not tried, and learns them once it is', async () => {
    const s = await setup();
    const peer = await listing(['wss://one.example.org/ws', 'wss://two.example.org/ws', SETTINGS.urls[0] as string]);
    const id = peer.record.id;
    s.connected = [id];
    s.book.reached(id);
    await s.book.intake([peer.text], { introducer: id, label: FROM_PEER, from: id, connectedPeer: (p) => p === id });
    expect(s.host.learned).toEqual([]);
    // Ours is not counted: it is no news.
    expect(s.book.stats().urlsUntried).toBe(2);
    s.clock += MIN_TRIED_CONNECTION_MS;
    await s.book.maintain();
    expect(s.host.learned).toEqual([['wss://one.example.org/ws', 'wss://two.example.org/ws']]);
    // Tried from now on: when it connects again, learned at once, nothing more refused.
    s.book.reached(id);
    expect(s.host.learned).toHaveLength(2);
    expect(s.book.stats().urlsUntried).toBe(2);
  });

  it('refuses (and counts) private and loopback URLs when ours are public', async () => {
    const s = await setup();
    const peer = await listing([
      'ws://127.0.0.1:8787/ws',
      'wss://10.0.0.5/ws',
      'wss://[fd00::1]/ws',
      'wss://public.example.org/ws',
    ]);
    await s.book.intake([peer.text], { introducer: 'local', label: 'tabs' });
    lasting(s, peer.record.id);
    expect(s.host.learned).toEqual([['wss://public.example.org/ws']]);
    expect(s.book.stats().urlsPrivate).toBe(3);
  });

  it('learns private URLs when ours are private too (a LAN or a developer’s machine)', async () => {
    const s = await setup({ settings: { urls: ['ws://localhost:8787/ws'], name: undefined } });
    const endpoints = ['ws://127.0.0.1:8787/ws', 'ws://192.168.1.20:8787/ws', 'wss://public.example.org/ws'];
    const peer = await listing(endpoints);
    await s.book.intake([peer.text], { introducer: 'local', label: 'tabs' });
    lasting(s, peer.record.id);
    expect(s.host.learned).toEqual([endpoints]);
    expect(s.book.stats().urlsPrivate).toBe(0);
  });
});

describe('PeerBook: tried peers and anchors (issue 15, item 7)', () => {
  it('evicts a tried peer for another only once it fails a reachability test', async () => {
    // One tried slot: the second tried peer contests the first.
    const s = await setup({ policy: { triedBuckets: 1, bucketSlots: 1 } });
    const [alice, bob] = await peers(2);
    if (!alice || !bob) throw new Error('no records');
    // From the server's sample: its share is not cut down to one slot per bucket.
    await s.book.intake([alice.text, bob.text], { introducer: WELCOME, label: 'welcome' });
    lasting(s, alice.record.id);
    lasting(s, bob.record.id);
    expect(s.cache.get(alice.record.id)?.table).toBe('tried');
    expect(s.cache.get(bob.record.id)?.table).toBe('server');
    expect(s.book.dueReachabilityTest()).toBe(alice.record.id);
    // A failure before the test starts proves nothing.
    s.book.unreachable(alice.record.id);
    expect(s.cache.get(alice.record.id)?.table).toBe('tried');
    s.book.testStarted(alice.record.id);
    expect(s.book.dueReachabilityTest()).toBeUndefined();
    s.host.learned.length = 0;
    s.book.unreachable(alice.record.id);
    expect(s.book.has(alice.record.id)).toBe(false);
    expect(s.cache.get(bob.record.id)?.table).toBe('tried');
    expect(s.host.learned).toEqual([bob.record.endpoints]);
    expect(s.book.stats()).toMatchObject({ testsQueued: 1, evicted: 1 });
  });

  it('keeps a tried peer that answers its test (a connection, or a signed decline)', async () => {
    const s = await setup({ policy: { triedBuckets: 1, bucketSlots: 1 } });
    const [alice, bob, carol] = await peers(3);
    if (!alice || !bob || !carol) throw new Error('no records');
    await s.book.intake([alice.text, bob.text, carol.text], { introducer: WELCOME, label: 'welcome' });
    lasting(s, alice.record.id);
    lasting(s, bob.record.id);
    // Alice connects again: she is there.
    s.book.reached(alice.record.id);
    expect(s.book.dueReachabilityTest()).toBeUndefined();
    lasting(s, carol.record.id);
    expect(s.book.dueReachabilityTest()).toBe(alice.record.id);
    s.book.reachable(alice.record.id);
    expect(s.cache.get(alice.record.id)?.table).toBe('tried');
    expect(s.cache.get(carol.record.id)?.table).toBe('server');
    expect(s.book.stats()).toMatchObject({ testsQueued: 2, testsPassed: 2, evicted: 0 });
  });

  it('saves its longest-lived tried neighbours as anchors, and dials restored anchors first', async () => {
    const s = await setup();
    const [a, b, c, d] = await peers(4);
    if (!a || !b || !c || !d) throw new Error('no records');
    await s.book.intake([a.text, b.text, c.text, d.text], { introducer: 'local', label: 'tabs' });
    s.connected = [b.record.id, a.record.id, c.record.id];
    s.book.reached(b.record.id);
    s.clock += 1_000;
    s.book.reached(a.record.id);
    s.clock += MIN_TRIED_CONNECTION_MS;
    s.book.reached(c.record.id);
    await s.book.maintain();
    await s.book.close();
    const stored = s.store.writes.at(-1)?.value;
    // b and a have lasted (b longer); c has just come.
    expect(stored).toMatchObject({ anchors: [b.record.id, a.record.id] });

    const restored = await restoreCache(stored, ed25519, {
      now: s.clock,
      network: NETWORK,
      self: s.self.id,
      freshSalt: SALT,
    });
    expect(restored.anchors).toEqual([b.record.id, a.record.id]);
    const again = new PeerBook(s.core, s.host, restored.cache, s.store, SETTINGS, s.initial, {
      anchors: restored.anchors,
    });
    expect(again.contacts().slice(0, 2)).toEqual([b.record.id, a.record.id]);
  });
});

describe('PeerBook: sending records', () => {
  it('sendTo() sends our record first, then others, never the recipient’s or ours', async () => {
    const s = await setup();
    const others = await peers(3);
    const [bob] = await peers(1);
    if (!bob) throw new Error('no record');
    await s.book.intake(
      [...others, bob].map((r) => r.text),
      { introducer: 'local', label: 'tabs' },
    );
    // Even if our own record were in the cache (the book never puts it there), it is not sent as another's.
    s.cache.offer(s.initial, 'local', NOW);
    s.book.sendTo(bob.record.id);
    const frame = one(s.host.frames);
    expect(frame.peer).toBe(bob.record.id);
    const sent = await recordsIn(frame.frame);
    expect(sent[0]?.bytes).toEqual(s.book.record.bytes);
    expect(
      sent
        .slice(1)
        .map((r) => r.record.id)
        .sort(),
    ).toEqual(others.map((r) => r.record.id).sort());
  });

  it('sendTo() sends at most MAX_RECORDS_PER_MESSAGE records', async () => {
    // One bucket big enough for them all: this is about sending, not the cache's buckets.
    const s = await setup({ policy: { newBuckets: 1, bucketsPerSource: 1, bucketSlots: 64 } });
    const many = await peers(MAX_RECORDS_PER_MESSAGE + 8);
    const introducer = (await newIdentity()).id;
    for (const record of many) s.book.keep(record, introducer);
    expect(s.book.size).toBe(many.length);
    const [bob] = await peers(1);
    s.book.sendTo(bob?.record.id as PeerId);
    const sent = await recordsIn(one(s.host.frames).frame);
    expect(sent).toHaveLength(MAX_RECORDS_PER_MESSAGE);
    expect(sent[0]?.record.id).toBe(s.self.id);
    expect(new Set(sent.map((r) => r.record.id)).size).toBe(MAX_RECORDS_PER_MESSAGE);
  });

  it('exchange() sends to each connected peer', async () => {
    const s = await setup();
    const [bob, carol] = await peers(2);
    if (!bob || !carol) throw new Error('no records');
    s.connected = [bob.record.id, carol.record.id];
    await s.book.intake([bob.text, carol.text], { introducer: 'local', label: 'tabs' });
    s.book.exchange();
    expect(s.host.frames.map((f) => f.peer)).toEqual([bob.record.id, carol.record.id]);
    const toBob = await recordsIn(s.host.frames[0]?.frame ?? new Uint8Array());
    expect(toBob.map((r) => r.record.id)).toEqual([s.self.id, carol.record.id]);
  });
});

describe('PeerBook: our record and upkeep', () => {
  it('maintain() drops expired records and emits `changed`; with none expired it emits nothing', async () => {
    const s = await setup();
    const [shortLived] = await peers(1, { lifetimeMs: 60_000 });
    const [longLived] = await peers(1);
    if (!shortLived || !longLived) throw new Error('no records');
    await s.book.intake([shortLived.text, longLived.text], { introducer: 'local', label: 'tabs' });
    s.host.changes.length = 0;
    s.clock = NOW + 60_000 + MAX_CLOCK_SKEW_MS;
    await s.book.maintain();
    expect(s.host.changes).toEqual([]);
    s.clock += 1;
    await s.book.maintain();
    expect(s.book.contacts()).toEqual([longLived.record.id]);
    expect(s.host.changes).toEqual([1]);
    expect(s.host.renewed).toEqual([]);
  });

  it('maintain() renews our record once half its lifetime is spent, and sends it to every neighbour', async () => {
    const s = await setup();
    const [bob] = await peers(1, { lifetimeMs: DEFAULT_RECORD_LIFETIME_MS });
    s.connected = [bob?.record.id as PeerId];
    const half = DEFAULT_RECORD_LIFETIME_MS / 2;
    s.clock = NOW + half;
    await s.book.maintain();
    expect(s.host.renewed).toEqual([]);
    expect(s.book.record).toBe(s.initial);
    s.clock = NOW + half + 1;
    await s.book.maintain();
    const renewed = one(s.host.renewed);
    expect(s.book.record).toBe(renewed);
    expect(renewed.record.seq).toBeGreaterThan(s.initial.record.seq);
    expect(renewed.record.issuedAt).toBe(s.clock);
    expect(renewed.record.expiresAt).toBe(s.clock + DEFAULT_RECORD_LIFETIME_MS);
    expect(renewed.record.endpoints).toEqual(SETTINGS.urls);
    expect(renewed.record.name).toBe(SETTINGS.name);
    expect((await verifyRecord(ed25519, renewed.text, { now: s.clock, network: NETWORK })).ok).toBe(true);
    const frame = one(s.host.frames);
    expect(frame.peer).toBe(bob?.record.id);
    expect((await recordsIn(frame.frame, s.clock))[0]?.text).toBe(renewed.text);
    // Renewed: not again until half of the new lifetime is spent.
    await s.book.maintain();
    expect(s.host.renewed).toHaveLength(1);
  });

  it('setSealKey() publishes the key in a new record, which later renewals keep', async () => {
    const s = await setup();
    const [bob] = await peers(1, { lifetimeMs: DEFAULT_RECORD_LIFETIME_MS });
    s.connected = [bob?.record.id as PeerId];
    expect(s.initial.record.sealKey).toBeUndefined();
    const key = Uint8Array.from({ length: SEAL_KEY_BYTES }, (_, i) => i + 1);
    await s.book.setSealKey(key);
    const withKey = one(s.host.renewed);
    expect(s.book.record).toBe(withKey);
    expect(withKey.record.seq).toBeGreaterThan(s.initial.record.seq);
    const verified = await verifyRecord(ed25519, withKey.bytes, { now: NOW, network: NETWORK });
    expect(verified.ok && verified.value.record.sealKey).toEqual(key);
    expect((await recordsIn(one(s.host.frames).frame))[0]?.text).toBe(withKey.text);
    s.clock = NOW + DEFAULT_RECORD_LIFETIME_MS;
    await s.book.maintain();
    expect(s.book.record.record.sealKey).toEqual(key);
    expect(s.book.record.record.seq).toBeGreaterThan(withKey.record.seq);
  });
});

describe('PeerBook: persistence', () => {
  it('writes a burst of changes once, PERSIST_DELAY_MS after the first, under the network’s cache key', async () => {
    const s = await setup();
    const [a, b, c] = await peers(3);
    if (!a || !b || !c) throw new Error('no records');
    await s.book.intake([a.text, b.text], { introducer: 'local', label: 'tabs' });
    vi.advanceTimersByTime(PERSIST_DELAY_MS - 1);
    s.book.keep(c, a.record.id);
    lasting(s, a.record.id);
    expect(s.store.writes).toEqual([]);
    vi.advanceTimersByTime(1);
    const write = one(s.store.writes);
    expect(write.key).toBe(cacheKey(NETWORK));
    expect(write.key).toBe(`cache:${NETWORK}`);
    // The stored form restores to the same entries, the changes after the first included.
    const restored = await restoreCache(write.value, ed25519, {
      now: s.clock,
      network: NETWORK,
      self: s.self.id,
      freshSalt: new Uint8Array(PEER_CACHE_SALT_BYTES),
    });
    expect(restored.dropped).toBe(0);
    expect(restored.cache.salt).toEqual(SALT);
    expect(storedForm(restored.cache, [])).toEqual(storedForm(s.cache, []));
    expect(restored.cache.size).toBe(3);
    expect(restored.cache.get(a.record.id)?.table).toBe('tried');
    expect(restored.cache.get(c.record.id)?.introducer).toBe(a.record.id);
    vi.advanceTimersByTime(10 * PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
    // A later change is written in its turn.
    s.book.forgetUntried(b.record.id);
    const [d] = await peers(1);
    await s.book.intake([d?.text ?? ''], { introducer: 'local', label: 'tabs' });
    vi.advanceTimersByTime(PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(2);
    expect(s.store.writes[1]?.value).toEqual(storedForm(s.cache, []));
  });

  it('writes nothing while nothing changes', async () => {
    const s = await setup();
    const [a] = await peers(1);
    await s.book.intake([a?.text ?? ''], { introducer: 'local', label: 'tabs' });
    vi.advanceTimersByTime(PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
    await s.book.intake([a?.text ?? ''], { introducer: 'local', label: 'tabs' });
    await s.book.maintain();
    s.book.exchange();
    vi.advanceTimersByTime(10 * PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
  });

  it('close() writes at once, and nothing is written or announced after it', async () => {
    const s = await setup();
    const [a, b] = await peers(2);
    if (!a || !b) throw new Error('no records');
    s.connected = [a.record.id];
    await s.book.intake([a.text], { introducer: 'local', label: 'tabs' });
    await s.book.close();
    const write = one(s.store.writes);
    expect(write).toEqual({ key: cacheKey(NETWORK), value: storedForm(s.cache, []) });
    vi.advanceTimersByTime(10 * PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
    await s.book.intake([b.text], { introducer: 'local', label: 'tabs' });
    lasting(s, b.record.id);
    vi.advanceTimersByTime(10 * PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
    // A renewal after close keeps the record current but tells no one.
    await s.book.setSealKey(new Uint8Array(SEAL_KEY_BYTES).fill(7));
    expect(s.book.record.record.sealKey).toEqual(new Uint8Array(SEAL_KEY_BYTES).fill(7));
    expect(s.host.renewed).toEqual([]);
    expect(s.host.frames).toEqual([]);
  });

  it('warns about a store whose writes fail, and never throws', async () => {
    const s = await setup();
    const failure = new Error('QuotaExceededError');
    s.store.failure = failure;
    const [a] = await peers(1);
    await s.book.intake([a?.text ?? ''], { introducer: 'local', label: 'tabs' });
    await vi.advanceTimersByTimeAsync(PERSIST_DELAY_MS);
    expect(s.store.writes).toHaveLength(1);
    expect(s.warnings).toEqual([{ message: 'could not save the peer cache', fields: { error: failure } }]);
    await expect(s.book.close()).resolves.toBeUndefined();
    expect(s.warnings).toHaveLength(2);
  });
});

describe('signOwnRecord', () => {
  it('keeps valid endpoints only, each once, at most MAX_RECORD_ENDPOINTS of them', async () => {
    const self = await newIdentity();
    const valid = ['wss://a.example.com/ws', 'wss://b.example.com', 'ws://127.0.0.1:8787/ws', 'wss://[::1]:9000/x'];
    const urls = [
      valid[0],
      'https://not-a-socket.example.com',
      valid[0],
      'wss://bad port.example.com',
      valid[1],
      'ws://example.com:70000',
      valid[2],
      valid[1],
      valid[3],
      'wss://e.example.com/ws',
    ] as string[];
    expect(valid).toHaveLength(MAX_RECORD_ENDPOINTS);
    const signed = await signOwnRecord(self, NETWORK, { urls, name: undefined }, undefined, NOW, undefined);
    expect(signed.record.endpoints).toEqual(valid);
    expect(signed.record.name).toBeUndefined();
    expect(signed.record.sealKey).toBeUndefined();
    const verified = await verifyRecord(ed25519, signed.text, { now: NOW, network: NETWORK });
    expect(verified.ok && verified.value.record).toEqual(signed.record);
  });

  it('signs the name and seal key it is given, valid for the default lifetime', async () => {
    const self = await newIdentity();
    const key = new Uint8Array(SEAL_KEY_BYTES).fill(3);
    const signed = await signOwnRecord(self, NETWORK, SETTINGS, key, NOW, undefined);
    expect(signed.record).toMatchObject({
      id: self.id,
      seq: NOW,
      issuedAt: NOW,
      expiresAt: NOW + DEFAULT_RECORD_LIFETIME_MS,
      network: NETWORK,
      name: 'Ada',
      sealKey: key,
    });
    expect((await verifyRecord(ed25519, signed.bytes, { now: NOW, network: NETWORK })).ok).toBe(true);
  });

  it('numbers each record above the last, even when the clock goes back', async () => {
    const self = await newIdentity();
    const first = await signOwnRecord(self, NETWORK, SETTINGS, undefined, NOW, undefined);
    const earlier = await signOwnRecord(self, NETWORK, SETTINGS, undefined, NOW - HOUR, first);
    expect(earlier.record.seq).toBe(NOW + 1);
    const later = await signOwnRecord(self, NETWORK, SETTINGS, undefined, NOW + HOUR, earlier);
    expect(later.record.seq).toBe(NOW + HOUR);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -HOUR, max: HOUR }), { minLength: 1, maxLength: 6 }),
        async (offsets) => {
          let previous: SignedRecord | undefined;
          for (const offset of offsets) {
            const next = await signOwnRecord(self, NETWORK, SETTINGS, undefined, NOW + offset, previous);
            if (previous !== undefined) expect(next.record.seq).toBeGreaterThan(previous.record.seq);
            expect(next.record.seq).toBeGreaterThanOrEqual(NOW + offset);
            previous = next;
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
