/**
 * The node's book of peers. Every signed record that comes in (the server's
 * sample, a neighbour's exchange, a membership message, a signal through the
 * mesh, a tab of this browser) is verified and cached here, by one intake;
 * the book ranks contacts, persists the cache, and keeps our own record
 * fresh (renewed at half its lifetime, and when our seal key arrives).
 *
 * It also times connections: a peer becomes tried (shared/peer-cache.ts)
 * only once a connection with it has lasted MIN_TRIED_CONNECTION_MS, and
 * only then are its signaling URLs learned. The longest-lived neighbours are
 * saved as anchors, dialled first on the next start. The reachability tests
 * the cache asks for before evicting a tried peer are dialled by the Dialler.
 */
import type { PeerId } from '../../shared/identity/peer-id.js';
import {
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_RECORD_ENDPOINTS,
  MAX_RECORDS_PER_MESSAGE,
  MIN_TRIED_CONNECTION_MS,
  PEER_CACHE_ANCHORS,
} from '../../shared/limits.js';
import type { CacheCounters, CacheEntry, PeerCache } from '../../shared/peer-cache.js';
import { storedForm } from '../../shared/peer-cache-store.js';
import { encodeRecords } from '../../shared/protocol/channel.js';
import { isValidEndpoint, signRecord, supersedes, verifyRecord, type SignedRecord } from '../../shared/records.js';
import type { Identity } from '../../shared/identity/signing.js';
import type { KeyValueStore } from '../storage/store.js';
import { cacheKey } from './boot.js';
import type { NodeCore } from './core.js';
import { isPublicEndpoint } from './endpoint-scope.js';
import type { KnownPeer } from './options.js';

/** Delay before the cache is written after a change, so bursts cost one write. */
export const PERSIST_DELAY_MS = 1_000;

export interface PeerBookHost {
  /** Newly cached peers: candidates for the membership's passive view. */
  addPassive(ids: readonly PeerId[]): void;
  /** Signaling servers of a tried peer (none of ours, none private when ours are public): somewhere to go if ours fail. */
  learnEndpoints(endpoints: readonly string[]): void;
  /** Our record was renewed: tell the server and the tabs of this browser. */
  recordRenewed(record: SignedRecord): void;
  sendFrame(peer: PeerId, frame: Uint8Array): void;
  /** The cache changed; `known` is its size. */
  changed(known: number): void;
}

/** Where a batch of records came from. */
export interface RecordSource {
  /** Who introduced them: a peer ID, `signaling:<url>`, or `local`. */
  readonly introducer: string;
  /** Where they came from, in problem reports. */
  readonly label: string;
  /** The peer a bad record is charged to. */
  readonly from?: PeerId;
  /** Only this peer's record is wanted (one that came with its own signal). */
  readonly only?: PeerId;
  /**
   * True for a peer's own record over a channel to it that is still
   * confirmed: kept as that connection's record, the one the peer is made
   * tried with once the connection has lasted MIN_TRIED_CONNECTION_MS.
   */
  readonly connectedPeer?: (id: PeerId) => boolean;
}

export interface OwnRecordSettings {
  readonly urls: readonly string[];
  readonly name: string | undefined;
}

export interface PeerBookOptions {
  /** Anchors restored with the cache: dialled first. */
  readonly anchors?: readonly PeerId[];
  /** Stored entries dropped when the cache was restored (for the diagnostics). */
  readonly storedDropped?: number;
  /** How long a connection must last before its peer is tried. Default MIN_TRIED_CONNECTION_MS. */
  readonly minTriedAgeMs?: number;
}

/** The cache's diagnostics: what it refused and decided (CacheCounters), and the book's own counts. */
export interface CacheStats extends CacheCounters {
  /** Connections that ended before MIN_TRIED_CONNECTION_MS: their peers did not become tried. */
  tooShort: number;
  /** Signaling URLs not learned because their peer was not tried when it connected. */
  urlsUntried: number;
  /** Signaling URLs refused for a private or loopback address while ours are public. */
  urlsPrivate: number;
  /** Stored entries dropped when the cache was restored (corrupt, forged, expired, or no room). */
  storedDropped: number;
}

/** One confirmed channel, timed so its peer becomes tried only once it has lasted. */
interface Connection {
  readonly since: number;
  /** The peer's newest record, from the cache or over the channel. */
  record: SignedRecord | undefined;
  /** Whether it has been promoted (once per connection). */
  promoted: boolean;
}

/** Order of contacts: tried peers, the server's sample, then heard-of ones (vouched first). */
function rank(entry: CacheEntry): number {
  if (entry.table === 'tried') return 0;
  if (entry.table === 'server') return 1;
  return entry.vouched ? 2 : 3;
}

/** Sign our record: a fresh expiry, our signaling URLs, name and seal key, a higher sequence number. */
export function signOwnRecord(
  identity: Identity,
  network: string,
  settings: OwnRecordSettings,
  sealKey: Uint8Array | undefined,
  now: number,
  previous: SignedRecord | undefined,
): Promise<SignedRecord> {
  return signRecord(identity, {
    seq: Math.max((previous?.record.seq ?? 0) + 1, now),
    network,
    now,
    endpoints: [...new Set(settings.urls.filter(isValidEndpoint))].slice(0, MAX_RECORD_ENDPOINTS),
    ...(settings.name === undefined ? {} : { name: settings.name }),
    ...(sealKey === undefined ? {} : { sealKey }),
  });
}

export class PeerBook {
  private current: SignedRecord;
  private sealKey: Uint8Array | undefined;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Confirmed channels, by peer: one entry per link the node holds, gone when it closes. */
  private readonly connections = new Map<PeerId, Connection>();
  private readonly startAnchors: readonly PeerId[];
  private readonly minTriedAgeMs: number;
  private readonly counts: Pick<CacheStats, 'tooShort' | 'urlsUntried' | 'urlsPrivate' | 'storedDropped'>;

  constructor(
    private readonly core: NodeCore,
    private readonly host: PeerBookHost,
    private readonly cache: PeerCache,
    private readonly store: KeyValueStore,
    private readonly settings: OwnRecordSettings,
    record: SignedRecord,
    options: PeerBookOptions = {},
  ) {
    this.current = record;
    this.startAnchors = (options.anchors ?? []).slice(0, PEER_CACHE_ANCHORS);
    this.minTriedAgeMs = options.minTriedAgeMs ?? MIN_TRIED_CONNECTION_MS;
    this.counts = { tooShort: 0, urlsUntried: 0, urlsPrivate: 0, storedDropped: options.storedDropped ?? 0 };
  }

  /** What the cache refused and decided so far. */
  stats(): Readonly<CacheStats> {
    return { ...this.cache.counters(), ...this.counts };
  }

  /** Our signed record as it stands. */
  get record(): SignedRecord {
    return this.current;
  }

  get size(): number {
    return this.cache.size;
  }

  has(peer: PeerId): boolean {
    return this.cache.get(peer) !== undefined;
  }

  recordOf(peer: PeerId): SignedRecord | undefined {
    return this.cache.get(peer)?.signed;
  }

  sealKeyOf(peer: PeerId): Uint8Array | undefined {
    return this.cache.get(peer)?.signed.record.sealKey;
  }

  /** Cached peers, tried ones first, then the server's sample, then heard-of ones; most recently seen first. */
  knownPeers(): KnownPeer[] {
    return this.ranked().map(({ signed: { record }, table }) => ({
      id: record.id,
      name: record.name,
      tried: table === 'tried',
      seq: record.seq,
      expiresAt: record.expiresAt,
      endpoints: record.endpoints,
    }));
  }

  /**
   * IDs of cached peers in the order to try them: the anchors (our
   * longest-lived neighbours when the cache was saved), then as knownPeers.
   */
  contacts(): PeerId[] {
    const anchors = this.startAnchors.filter((peer) => this.cache.get(peer)?.table === 'tried');
    const rest = this.ranked().map((entry) => entry.signed.record.id);
    return [...anchors, ...rest.filter((peer) => !anchors.includes(peer))];
  }

  /**
   * The one intake of records from outside: each is verified (signature,
   * network, times), ours and unwanted ones are skipped, the rest cached as
   * introduced by `source.introducer`; newly added peers join the passive
   * view. A record text held already would change nothing, so it is not
   * verified again (a welcome repeats much of the challenge's sample).
   */
  async intake(records: readonly (string | Uint8Array)[], source: RecordSource): Promise<void> {
    const now = this.core.now();
    const held = new Set(this.cache.all().map((entry) => entry.signed.text));
    const fresh = records.filter((record) => typeof record !== 'string' || !held.has(record));
    // Side by side: native Ed25519 verifies run in parallel.
    const results = await Promise.all(
      fresh.map((record) => verifyRecord(this.core.ed25519, record, { now, network: this.core.network })),
    );
    let changed = false;
    const added: PeerId[] = [];
    for (const result of results) {
      if (!result.ok) {
        this.core.problem(result.error.code, `${source.label}: ${result.error.message}`, source.from);
        continue;
      }
      const id = result.value.record.id;
      if (id === this.core.identity.id || (source.only !== undefined && id !== source.only)) continue;
      const own = source.connectedPeer?.(id) === true;
      if (own) this.connectionRecord(id, result.value);
      const outcome = this.cache.offer(result.value, source.introducer, this.core.now());
      // A connected peer is no candidate for the passive view: it is linked.
      if (outcome === 'added' && !own) added.push(id);
      changed ||= outcome === 'added' || outcome === 'updated';
    }
    if (added.length > 0) this.host.addPassive(added);
    if (changed) this.changed();
  }

  /** A record the membership verified already (it manages its views itself). */
  keep(record: SignedRecord, introducer: PeerId): void {
    const outcome = this.cache.offer(record, introducer, this.core.now());
    if (outcome === 'added' || outcome === 'updated') this.changed();
  }

  /**
   * We completed an authenticated connection with `peer`: it is timed from
   * now. A peer tried before is seen again (and passes any reachability
   * test), and its signaling URLs are learned; any other becomes tried only
   * if the connection lasts (see {@link lost} and {@link maintain}).
   */
  reached(peer: PeerId): void {
    const now = this.core.now();
    const held = this.cache.get(peer);
    this.connections.set(peer, { since: now, record: undefined, promoted: false });
    if (held === undefined) return; // Its record comes over the channel.
    this.connectionRecord(peer, held.signed);
    if (held.table !== 'tried') return;
    this.cache.reachable(peer, now);
    this.learn(held.signed);
    this.schedulePersist();
  }

  /** The confirmed channel to `peer` closed: if it lasted, the peer is tried. */
  lost(peer: PeerId): void {
    const connection = this.connections.get(peer);
    if (connection === undefined) return;
    this.connections.delete(peer);
    const now = this.core.now();
    if (now - connection.since < this.minTriedAgeMs) {
      this.counts.tooShort++;
      return;
    }
    if (!connection.promoted) this.promote(peer, connection, now);
    if (this.cache.seen(peer, now)) this.schedulePersist();
  }

  /**
   * An attempt at `peer` went nowhere: forget its record if untried, so we
   * dial others. (A peer that declined is still there; callers keep those.)
   */
  forgetUntried(peer: PeerId): void {
    const entry = this.cache.get(peer);
    if (entry !== undefined && entry.table !== 'tried') this.cache.remove(peer);
  }

  /** The tried peer whose reachability is to be tested next (test-before-evict), if any. */
  dueReachabilityTest(): PeerId | undefined {
    return this.cache.dueTest(this.core.now());
  }

  /** The Dialler has started dialling `peer` for its test: a failure from now on evicts it. */
  testStarted(peer: PeerId): void {
    this.cache.startTest(peer, this.core.now());
  }

  /** `peer` answered an attempt of ours (it declined with a signed bye): it is there. */
  reachable(peer: PeerId): void {
    if (this.cache.reachable(peer, this.core.now())) this.schedulePersist();
  }

  /** An attempt of ours at `peer` failed: if it was being tested, it leaves for the tried peer that waited. */
  unreachable(peer: PeerId): void {
    const admitted = this.cache.unreachable(peer, this.core.now());
    if (admitted === undefined) return;
    this.learn(admitted);
    this.changed();
  }

  /** Our record, and a sample of those we hold, to one neighbour. */
  sendTo(peer: PeerId): void {
    const others = this.cache.sample(
      MAX_RECORDS_PER_MESSAGE - 1,
      () => this.core.random(),
      new Set([peer, this.core.identity.id]),
    );
    this.host.sendFrame(peer, encodeRecords([this.current.bytes, ...others.map((r) => r.bytes)]));
  }

  /** The periodic exchange: to every connected neighbour. */
  exchange(): void {
    for (const peer of this.core.connected()) this.sendTo(peer);
  }

  /** Our seal key is ready: publish it in a new record. */
  async setSealKey(key: Uint8Array): Promise<void> {
    this.sealKey = key;
    await this.renew();
  }

  /**
   * Periodic: promote peers whose connections have lasted, drop expired
   * records, and renew ours once half its lifetime is spent.
   */
  async maintain(): Promise<void> {
    const now = this.core.now();
    const connected = new Set(this.core.connected());
    for (const [peer, connection] of this.connections) {
      // A channel that closed without a word to us (the node reports each; this is the backstop).
      if (!connected.has(peer)) this.lost(peer);
      else if (!connection.promoted && now - connection.since >= this.minTriedAgeMs)
        this.promote(peer, connection, now);
    }
    if (this.cache.expire(now) > 0) this.changed();
    if (this.current.record.expiresAt - now < DEFAULT_RECORD_LIFETIME_MS / 2) await this.renew();
  }

  /** Stop, writing the cache one last time. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    await this.persist();
  }

  /** Sign a new record (fresh expiry, current seal key) and tell the server, local tabs and neighbours. */
  private async renew(): Promise<void> {
    const record = await signOwnRecord(
      this.core.identity,
      this.core.network,
      this.settings,
      this.sealKey,
      this.core.now(),
      this.current,
    );
    this.current = record;
    if (this.closed) return;
    this.host.recordRenewed(record);
    this.exchange();
  }

  private ranked(): CacheEntry[] {
    return this.cache.all().sort((a, b) => rank(a) - rank(b) || b.lastSeen - a.lastSeen);
  }

  /** A connected peer's record: the newest is kept for its promotion. */
  private connectionRecord(peer: PeerId, record: SignedRecord): void {
    const connection = this.connections.get(peer);
    if (connection === undefined) return;
    const first = connection.record === undefined;
    if (first || supersedes(record.record, connection.record?.record)) connection.record = record;
    // Counted once per connection: what a tried peer's record would have taught us.
    if (first && this.cache.get(peer)?.table !== 'tried')
      this.counts.urlsUntried += record.record.endpoints.filter((url) => !this.settings.urls.includes(url)).length;
  }

  /** The connection has lasted: its peer into the tried table (or a test of the incumbent it would displace). */
  private promote(peer: PeerId, connection: Connection, now: number): void {
    const record = connection.record ?? this.cache.get(peer)?.signed;
    if (record === undefined) return; // Not yet: its record is still to come over the channel.
    connection.promoted = true;
    const outcome = this.cache.promote(record, now);
    if (outcome === 'tried') this.learn(record);
    if (outcome === 'tried' || outcome === 'refreshed') this.changed();
  }

  /**
   * A tried peer's signaling URLs, to try when ours fail: not ours again, and
   * none on a private or loopback address when ours are all public.
   */
  private learn(signed: SignedRecord): void {
    const ours = this.settings.urls;
    const others = signed.record.endpoints.filter((url) => !ours.includes(url));
    const publicOnly = ours.length > 0 && ours.every(isPublicEndpoint);
    const accepted = publicOnly ? others.filter(isPublicEndpoint) : others;
    this.counts.urlsPrivate += others.length - accepted.length;
    if (accepted.length > 0) this.host.learnEndpoints(accepted);
  }

  /** The anchors to save: our longest-lived tried neighbours now, else those we started with. */
  private anchors(): PeerId[] {
    const now = this.core.now();
    const lasting = [...this.connections]
      .filter(([peer, c]) => now - c.since >= this.minTriedAgeMs && this.cache.get(peer)?.table === 'tried')
      .sort((a, b) => a[1].since - b[1].since)
      .map(([peer]) => peer)
      .slice(0, PEER_CACHE_ANCHORS);
    return lasting.length > 0 ? lasting : this.startAnchors.filter((peer) => this.cache.get(peer)?.table === 'tried');
  }

  private changed(): void {
    this.schedulePersist();
    this.host.changed(this.cache.size);
  }

  private schedulePersist(): void {
    if (this.persistTimer !== undefined || this.closed) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.persist();
    }, PERSIST_DELAY_MS);
  }

  private async persist(): Promise<void> {
    try {
      await this.store.set(cacheKey(this.core.network), storedForm(this.cache, this.anchors()));
    } catch (error) {
      this.core.logger.warn('could not save the peer cache', { error });
    }
  }
}
