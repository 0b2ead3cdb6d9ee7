/**
 * The node's book of peers. Every signed record that comes in (the server's
 * sample, a neighbour's exchange, a membership message, a signal through the
 * mesh, a tab of this browser) is verified and cached here, by one intake;
 * the book ranks contacts, persists the cache, and keeps our own record
 * fresh (renewed at half its lifetime, and when our seal key arrives).
 */
import type { PeerId } from '../../shared/identity/peer-id.js';
import { DEFAULT_RECORD_LIFETIME_MS, MAX_RECORD_ENDPOINTS, MAX_RECORDS_PER_MESSAGE } from '../../shared/limits.js';
import type { PeerCache } from '../../shared/peer-cache.js';
import { encodeRecords } from '../../shared/protocol/channel.js';
import { isValidEndpoint, signRecord, verifyRecord, type SignedRecord } from '../../shared/records.js';
import type { Identity } from '../../shared/identity/signing.js';
import type { KeyValueStore } from '../storage/store.js';
import { cacheKey } from './boot.js';
import type { NodeCore } from './core.js';
import type { KnownPeer } from './options.js';

/** Delay before the cache is written after a change, so bursts cost one write. */
export const PERSIST_DELAY_MS = 1_000;

export interface PeerBookHost {
  /** Newly cached peers: candidates for the membership's passive view. */
  addPassive(ids: readonly PeerId[]): void;
  /** The signaling servers of a peer we reached: somewhere to go if ours fail. */
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
  /** True for a peer's own record over a channel to it that is still confirmed: it is marked tried. */
  readonly tried?: (id: PeerId) => boolean;
}

export interface OwnRecordSettings {
  readonly urls: readonly string[];
  readonly name: string | undefined;
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

  constructor(
    private readonly core: NodeCore,
    private readonly host: PeerBookHost,
    private readonly cache: PeerCache,
    private readonly store: KeyValueStore,
    private readonly settings: OwnRecordSettings,
    record: SignedRecord,
  ) {
    this.current = record;
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

  /** Cached peers, tried ones first, most recently seen first. */
  knownPeers(): KnownPeer[] {
    return this.ranked().map(({ signed: { record }, tried }) => ({
      id: record.id,
      name: record.name,
      tried,
      seq: record.seq,
      expiresAt: record.expiresAt,
      endpoints: record.endpoints,
    }));
  }

  /** IDs of cached peers in the order to try them: tried first, most recently seen first. */
  contacts(): PeerId[] {
    return this.ranked().map((entry) => entry.signed.record.id);
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
      if (source.tried?.(id) === true) {
        this.cache.markTried(result.value, this.core.now());
        this.host.learnEndpoints(result.value.record.endpoints);
        changed = true;
        continue;
      }
      const outcome = this.cache.offer(result.value, source.introducer, this.core.now());
      if (outcome === 'added') added.push(id);
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

  /** We completed an authenticated connection with `peer`. */
  reached(peer: PeerId): void {
    const known = this.cache.get(peer);
    if (known !== undefined) {
      this.cache.markTried(known.signed, this.core.now());
      this.host.learnEndpoints(known.signed.record.endpoints);
    }
    this.schedulePersist();
  }

  /**
   * An attempt at `peer` went nowhere: forget its record if untried, so we
   * dial others. (A peer that declined is still there; callers keep those.)
   */
  forgetUntried(peer: PeerId): void {
    const entry = this.cache.get(peer);
    if (entry !== undefined && !entry.tried) this.cache.remove(peer);
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

  /** Periodic: drop expired records, and renew ours once half its lifetime is spent. */
  async maintain(): Promise<void> {
    const now = this.core.now();
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

  private ranked(): ReturnType<PeerCache['all']> {
    return this.cache.all().sort((a, b) => Number(b.tried) - Number(a.tried) || b.lastSeen - a.lastSeen);
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
      await this.store.set(cacheKey(this.core.network), this.cache.toStored());
    } catch (error) {
      this.core.logger.warn('could not save the peer cache', { error });
    }
  }
}
