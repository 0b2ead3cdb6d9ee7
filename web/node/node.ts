/**
 * createNode(): a browser tab as a Tabmesh peer. Wires the tab's identity,
 * storage and record cache, the signaling client, and one PeerLink per peer;
 * exposes connections, known peers, send, broadcast and typed events.
 */
import { bytesEqual, utf8 } from '../../shared/bytes.js';
import { ErrorCode, TabmeshError, isErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, verifyFrom } from '../../shared/identity/signing.js';
import { detectEd25519 } from '../../shared/identity/webcrypto.js';
import { RecentSet } from '../../shared/dedup.js';
import {
  BROADCAST_DEDUP_ENTRIES,
  DEFAULT_BROADCAST_HOPS,
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_BROADCAST_BYTES,
  MAX_CACHED_RECORDS,
  MAX_MESSAGE_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  SESSION_NONCE_BYTES,
  SIGNAL_TTL_MS,
} from '../../shared/limits.js';
import { PeerCache } from '../../shared/peer-cache.js';
import { broadcastBytes, encodeRecords, payloadText, type ReceivedMessage } from '../../shared/protocol/channel.js';
import { openSignal, signSignal, type SignalEnvelope } from '../../shared/protocol/signal.js';
import {
  isValidEndpoint,
  isValidNetworkName,
  signRecord,
  verifyRecord,
  type SignedRecord,
} from '../../shared/records.js';
import { acquireTabIdentity, type TabIdentity } from '../local/identity.js';
import { EarlySocket, SignalingClient } from '../signaling-client.js';
import { openStore, type KeyValueStore } from '../storage/store.js';
import { createSimplePeerTransport } from '../transport/simple-peer.js';
import type { TransportFactory } from '../transport/transport.js';
import { prepareOffer } from './prepared-offer.js';
import { PeerLink, WARM_TRANSPORT_MAX_AGE_MS, WarmTransport, type LinkContext, type LinkEvents } from './link.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_NETWORK,
  DIAL_RETRY_BASE_MS,
  DIAL_RETRY_MAX_MS,
  MAINTENANCE_INTERVAL_MS,
  MAX_QUEUED_SIGNALS_PER_PEER,
  PEER_EXCHANGE_INTERVAL_MS,
  consoleLogger,
  type KnownPeer,
  type Logger,
  type NodeDeps,
  type NodeEvents,
  type NodeOptions,
  type NodeStatus,
} from './options.js';

/** Delay before the cache is written after a change, so bursts cost one write. */
const PERSIST_DELAY_MS = 1_000;

/** The signaling endpoint of the page's own server, when running in a page. */
function defaultSignaling(): string[] {
  if (typeof location === 'undefined' || !location.host) return [];
  return [`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`];
}

export interface TabmeshNode extends EventTarget {
  readonly id: PeerId;
  readonly network: string;
  /** IDs of peers with open, confirmed channels. */
  connections(): PeerId[];
  /** Cached peer records, tried ones first. */
  knownPeers(): KnownPeer[];
  /** Send to a connected peer. Strings arrive as strings, bytes as Uint8Array. Up to 16 MiB. */
  send(peer: PeerId, data: string | Uint8Array): Promise<void>;
  /** Send to every peer of the network, over several hops. Up to 1 MiB. */
  broadcast(data: string | Uint8Array): Promise<void>;
  readonly status: NodeStatus;
  /** Refusals and problems so far, by error code. */
  problems(): Readonly<Record<string, number>>;
  /** Per-connection figures. */
  links(): {
    peer: PeerId;
    state: string;
    initiator: boolean;
    bytesSent: number;
    bytesReceived: number;
    connectedAt: number | undefined;
  }[];
  close(): Promise<void>;
  addEventListener<K extends keyof NodeEvents>(
    type: K,
    listener: (event: NodeEvents[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof NodeEvents>(
    type: K,
    listener: (event: NodeEvents[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

class Node extends EventTarget implements TabmeshNode {
  readonly id: PeerId;
  private readonly peerLinks = new Map<PeerId, PeerLink>();
  private readonly problemCounts = new Map<string, number>();
  private readonly seenBroadcasts = new RecentSet(BROADCAST_DEDUP_ENTRIES);
  private readonly signalQueues = new Map<PeerId, { chain: Promise<void>; size: number }>();
  private readonly signaling: SignalingClient;
  private readonly linkContext: LinkContext;
  private readonly linkEvents: LinkEvents;
  private record: SignedRecord;
  private broadcastCounter = 0;
  private currentStatus: NodeStatus;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Peers whose last attempts failed: when we may try again, and how many failures. */
  private readonly retryAfter = new Map<PeerId, { at: number; failures: number }>();
  /** One initiating transport prepared at start, so the first dial skips making an offer. */
  private warm: WarmTransport | undefined;

  constructor(
    private readonly tab: TabIdentity,
    private readonly ed: Ed25519,
    private readonly store: KeyValueStore,
    private readonly cache: PeerCache,
    record: SignedRecord,
    readonly network: string,
    private readonly settings: {
      readonly urls: readonly string[];
      readonly maxConnections: number;
      readonly name: string | undefined;
      readonly storageReason: string | undefined;
      readonly iceServers: NonNullable<NodeOptions['iceServers']>;
      readonly logger: Logger;
      readonly transport: TransportFactory;
      readonly now: () => number;
      readonly random: () => number;
    },
  ) {
    super();
    this.id = tab.identity.id;
    this.record = record;
    this.currentStatus = {
      signaling: 'connecting',
      signalingUrl: undefined,
      storage: store.kind,
      storageReason: settings.storageReason,
      crypto: ed.name,
      closed: false,
    };
    this.linkEvents = {
      onConnected: (link) => this.linkConnected(link),
      onClosed: (link, code, reason) => this.linkClosed(link, code, reason),
      onMessage: (link, message) => void this.receiveMessage(link, message),
      onRecords: (link, records) => void this.receiveRecords(link, records),
      onProblem: (link, code, message) => this.problem(code, message, link.peer),
    };
    this.linkContext = {
      identity: tab.identity,
      ed25519: ed,
      now: settings.now,
      iceServers: [],
      transport: settings.transport,
      sendSignal: (to, payload) => {
        if (!this.signaling.send(to, payload)) this.settings.logger.debug('signal not sent: signaling is down', { to });
      },
    };
    this.signaling = new SignalingClient(
      { urls: settings.urls, network, identity: tab.identity, record: () => this.record, random: settings.random },
      {
        onState: (state, url) => this.setStatus({ signaling: state, signalingUrl: url }),
        onWelcome: (url, records) => void this.receiveSample(url, records),
        onSignal: (from, payload) => this.enqueueSignal(from, payload),
        // Codes outside the catalogue are counted under one, so a server cannot grow the tally.
        onProblem: (code, message) =>
          this.problem(isErrorCode(code) ? code : ErrorCode.REMOTE_ERROR, message, undefined),
        onUndeliverable: (to) => this.undeliverable(to),
      },
    );
  }

  start(early: EarlySocket | undefined): void {
    this.signaling.start(early);
    void this.contextForLink().then((context) => {
      if (!this.closed && this.peerLinks.size === 0) {
        this.warm = new WarmTransport(context.transport, context.iceServers, this.settings.now());
      }
    });
    this.timers.push(setInterval(() => void this.maintain(), MAINTENANCE_INTERVAL_MS));
    this.timers.push(setInterval(() => this.exchangeRecords(), PEER_EXCHANGE_INTERVAL_MS));
    void this.dial();
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  private get isClosed(): boolean {
    return this.closed;
  }

  get status(): NodeStatus {
    return this.currentStatus;
  }

  connections(): PeerId[] {
    return [...this.peerLinks.values()].filter((l) => l.state === 'connected').map((l) => l.peer);
  }

  knownPeers(): KnownPeer[] {
    return this.cache
      .all()
      .sort((a, b) => Number(b.tried) - Number(a.tried) || b.lastSeen - a.lastSeen)
      .map(({ signed: { record }, tried }) => ({
        id: record.id,
        name: record.name,
        tried,
        seq: record.seq,
        expiresAt: record.expiresAt,
        endpoints: record.endpoints,
      }));
  }

  problems(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.problemCounts);
  }

  links(): ReturnType<TabmeshNode['links']> {
    return [...this.peerLinks.values()].map((l) => ({
      peer: l.peer,
      state: l.state,
      initiator: l.initiator,
      bytesSent: l.bytesSent,
      bytesReceived: l.bytesReceived,
      connectedAt: l.connectedAt,
    }));
  }

  async send(peer: PeerId, data: string | Uint8Array): Promise<void> {
    const { binary, payload } = encodePayload(data, MAX_MESSAGE_BYTES);
    const link = this.peerLinks.get(peer);
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    if (link === undefined || link.state !== 'connected') {
      throw new TabmeshError(ErrorCode.NOT_CONNECTED, 'no open channel to that peer');
    }
    await link.sendMessage(binary, payload);
  }

  async broadcast(data: string | Uint8Array): Promise<void> {
    const { binary, payload } = encodePayload(data, MAX_BROADCAST_BYTES);
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    // Time-based, so a reloaded tab never reuses a (origin, seq) others remember.
    const seq = this.settings.now() * 1024 + (this.broadcastCounter++ % 1024);
    const signature = await this.tab.identity.sign(Purpose.BROADCAST, broadcastBytes(this.id, seq, binary, payload));
    this.seenBroadcasts.add(`${this.id}:${seq}`);
    const header = { origin: this.id, seq, hops: DEFAULT_BROADCAST_HOPS, signature };
    await Promise.all(
      [...this.peerLinks.values()]
        .filter((l) => l.state === 'connected')
        .map((l) => l.sendMessage(binary, payload, header).catch(() => undefined)),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.persistTimer);
    this.signaling.close();
    this.warm?.transport.close();
    this.warm = undefined;
    for (const link of [...this.peerLinks.values()]) link.close(undefined, 'node closed');
    await this.persist();
    this.tab.release();
    this.setStatus({ closed: true, signaling: 'closed' });
  }

  // --- Events -------------------------------------------------------------------

  private emit<K extends keyof NodeEvents>(type: K, detail: NodeEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private setStatus(change: Partial<NodeStatus>): void {
    this.currentStatus = { ...this.currentStatus, ...change };
    this.emit('status', this.currentStatus);
  }

  private problem(code: ErrorCode, message: string, peer: PeerId | undefined): void {
    this.problemCounts.set(code, (this.problemCounts.get(code) ?? 0) + 1);
    this.settings.logger.warn(message, { code, peer });
    this.emit('warning', { code, message, peer });
  }

  // --- Signals ------------------------------------------------------------------

  /** Signals from one sender are checked one at a time, in order (an offer before its candidates). */
  private enqueueSignal(from: PeerId, payload: string): void {
    const queue = this.signalQueues.get(from) ?? { chain: Promise.resolve(), size: 0 };
    if (queue.size >= MAX_QUEUED_SIGNALS_PER_PEER) {
      this.problem(ErrorCode.RATE_LIMITED, 'too many signals queued from one peer; dropped', from);
      return;
    }
    queue.size++;
    queue.chain = queue.chain
      .then(() => this.processSignal(from, payload))
      .catch((error: unknown) => this.settings.logger.error('signal handling failed', { error }))
      .finally(() => {
        queue.size--;
        if (queue.size === 0 && this.signalQueues.get(from) === queue) this.signalQueues.delete(from);
      });
    this.signalQueues.set(from, queue);
  }

  private async processSignal(from: PeerId, payload: string): Promise<void> {
    if (this.closed) return;
    const opened = await openSignal(this.ed, payload, { self: this.id, relayedFrom: from, now: this.settings.now() });
    if (!opened.ok) {
      this.problem(opened.error.code, opened.error.message, from);
      return;
    }
    const envelope = opened.value;
    if (envelope.kind === 'offer') {
      await this.acceptOffer(envelope);
      return;
    }
    const link = this.peerLinks.get(envelope.from);
    if (link !== undefined && bytesEqual(link.session, envelope.session)) link.handleSignal(envelope);
    else if (envelope.kind !== 'bye') this.problem(ErrorCode.SIGNAL_STALE, 'signal for no session in progress', from);
  }

  private async acceptOffer(offer: SignalEnvelope): Promise<void> {
    // Everything after this await runs without yielding, so no dial can slip
    // in between the decision and storing the link.
    const context = await this.contextForLink();
    const existing = this.peerLinks.get(offer.from);
    if (existing !== undefined) {
      if (bytesEqual(existing.session, offer.session)) {
        // The same session again: a re-sent offer, or a replay the link's sequence check refuses.
        existing.handleSignal(offer);
        return;
      }
      if (existing.state !== 'connected' && existing.initiator && this.id < offer.from) {
        // Both dialled at once: the lower ID's attempt wins, and we are lower.
        // If ours has heard nothing, it may have gone to an instance of the
        // peer that has left; send it again, to the one that just dialled us.
        existing.resend();
        void this.decline(offer, 'GLARE');
        return;
      }
    }
    const others = this.activeLinks() - (existing === undefined ? 0 : 1);
    if (others >= this.settings.maxConnections) {
      void this.decline(offer, 'BUSY');
      return;
    }
    const accepted = PeerLink.accept(context, this.linkEvents, offer);
    if (!(accepted instanceof PeerLink)) {
      this.problem(accepted.code, accepted.message, offer.from);
      void this.decline(offer, accepted.code);
      return;
    }
    // Stored before the old link closes, so its close handler does not dial this peer again.
    this.peerLinks.set(offer.from, accepted);
    existing?.close(undefined, existing.state === 'connected' ? 'the peer started a new session' : 'superseded');
  }

  /** Answer an offer with a signed bye. */
  private async decline(offer: SignalEnvelope, reason: string): Promise<void> {
    const payload = await signSignal(this.tab.identity, {
      to: offer.from,
      session: offer.session,
      nonce: crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES)),
      seq: 0,
      kind: 'bye',
      expiresAt: this.settings.now() + SIGNAL_TTL_MS,
      body: reason,
    });
    this.signaling.send(offer.from, payload);
  }

  private activeLinks(): number {
    return [...this.peerLinks.values()].filter((l) => l.state !== 'closed').length;
  }

  private async contextForLink(): Promise<LinkContext> {
    const ice = this.settings.iceServers;
    const iceServers = typeof ice === 'function' ? await ice() : ice;
    return { ...this.linkContext, iceServers };
  }

  // --- Dialling and links ---------------------------------------------------------

  private async dial(): Promise<void> {
    if (this.closed || !this.signaling.canSignal()) return;
    // Until the server has verified our registration it holds only a few
    // requests for us: one attempt's signals fit, the rest wait for the welcome.
    const registered = this.currentStatus.signaling === 'connected';
    const free = Math.min(registered ? Infinity : 1, this.settings.maxConnections - this.activeLinks());
    if (free <= 0) return;
    const context = await this.contextForLink();
    // From here on no await: checks and inserts cannot interleave with an accepted offer.
    const now = this.settings.now();
    const exclude = new Set<PeerId>([this.id, ...this.peerLinks.keys()]);
    for (const [peer, retry] of this.retryAfter) if (retry.at > now) exclude.add(peer);
    for (const signed of this.cache.sample(free, this.settings.random, exclude)) {
      if (this.isClosed || this.activeLinks() >= this.settings.maxConnections) return;
      const peer = signed.record.id;
      if (this.peerLinks.has(peer)) continue;
      this.peerLinks.set(peer, PeerLink.initiate(context, this.linkEvents, peer, this.takeWarm()));
    }
  }

  /** The server could not deliver a signal to `to`: an attempt still signalling there is over. */
  private undeliverable(to: PeerId): void {
    const link = this.peerLinks.get(to);
    if (link !== undefined && link.state === 'signaling')
      link.close(ErrorCode.CONNECT_FAILED, 'the peer is not reachable through signaling', false);
  }

  /** The prepared transport, if still fresh; each is used once. */
  private takeWarm(): WarmTransport | undefined {
    const warm = this.warm;
    this.warm = undefined;
    if (warm !== undefined && this.settings.now() - warm.createdAt > WARM_TRANSPORT_MAX_AGE_MS) {
      warm.transport.close();
      return undefined;
    }
    return warm;
  }

  private linkConnected(link: PeerLink): void {
    this.retryAfter.delete(link.peer);
    const known = this.cache.get(link.peer);
    if (known !== undefined) this.cache.markTried(known.signed, this.settings.now());
    this.schedulePersist();
    this.emit('peer:connect', { peer: link.peer });
    this.sendRecords(link);
  }

  private linkClosed(link: PeerLink, code: ErrorCode | undefined, reason: string): void {
    const wasConnected = link.connectedAt !== undefined;
    if (this.peerLinks.get(link.peer) === link) this.peerLinks.delete(link.peer);
    if (code !== undefined && code !== ErrorCode.CONNECT_FAILED) this.problem(code, reason, link.peer);
    if (wasConnected) this.emit('peer:disconnect', { peer: link.peer, code, reason });
    if (!wasConnected && link.initiator) {
      // Back off from a peer we could not reach, so a departed peer is not dialled in a loop.
      const failures = (this.retryAfter.get(link.peer)?.failures ?? 0) + 1;
      const wait = Math.min(DIAL_RETRY_MAX_MS, DIAL_RETRY_BASE_MS * 2 ** (failures - 1));
      this.retryAfter.set(link.peer, { at: this.settings.now() + wait, failures });
      if (this.retryAfter.size > 2 * MAX_CACHED_RECORDS) {
        const oldest = this.retryAfter.keys().next();
        if (oldest.done !== true) this.retryAfter.delete(oldest.value);
      }
    }
    if (code === ErrorCode.CONNECT_FAILED && !wasConnected) {
      // An attempt that went nowhere: forget the peer's untried record so we dial others.
      const entry = this.cache.get(link.peer);
      if (entry !== undefined && !entry.tried) this.cache.remove(link.peer);
    }
    if (!this.closed) void this.dial();
  }

  // --- Records ------------------------------------------------------------------

  private async receiveSample(url: string, records: readonly string[]): Promise<void> {
    // Peers we already know (a returning tab) are dialled at once; the sample
    // is verified meanwhile and tops up the rest.
    void this.dial();
    let changed = false;
    const now = this.settings.now();
    // A record held byte for byte already (the welcome repeats much of the
    // challenge's sample) changes nothing: skip its verification. The rest are
    // verified side by side: native Ed25519 verifies run in parallel.
    const held = new Set(this.cache.all().map((entry) => entry.signed.text));
    const results = await Promise.all(
      records
        .filter((text) => !held.has(text))
        .map((text) => verifyRecord(this.ed, text, { now, network: this.network })),
    );
    for (const result of results) {
      if (!result.ok) {
        this.problem(result.error.code, `record from the signaling server: ${result.error.message}`, undefined);
        continue;
      }
      if (result.value.record.id === this.id) continue;
      const outcome = this.cache.offer(result.value, `signaling:${url}`, this.settings.now());
      changed ||= outcome === 'added' || outcome === 'updated';
    }
    if (changed) this.peersChanged();
    await this.dial();
  }

  private async receiveRecords(link: PeerLink, records: readonly Uint8Array[]): Promise<void> {
    let changed = false;
    for (const bytes of records) {
      const result = await verifyRecord(this.ed, bytes, { now: this.settings.now(), network: this.network });
      if (!result.ok) {
        this.problem(result.error.code, `record from a peer: ${result.error.message}`, link.peer);
        continue;
      }
      const id = result.value.record.id;
      if (id === this.id) continue;
      if (id === link.peer && link.state === 'connected') {
        this.cache.markTried(result.value, this.settings.now());
        changed = true;
      } else {
        const outcome = this.cache.offer(result.value, link.peer, this.settings.now());
        changed ||= outcome === 'added' || outcome === 'updated';
      }
    }
    if (changed) this.peersChanged();
  }

  private sendRecords(link: PeerLink): void {
    const others = this.cache.sample(MAX_RECORDS_PER_MESSAGE - 1, this.settings.random, new Set([link.peer, this.id]));
    void link.sendFrame(encodeRecords([this.record.bytes, ...others.map((r) => r.bytes)])).catch(() => undefined);
  }

  private exchangeRecords(): void {
    for (const link of this.peerLinks.values()) if (link.state === 'connected') this.sendRecords(link);
  }

  private peersChanged(): void {
    this.schedulePersist();
    this.emit('peers', { known: this.cache.size });
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
      await this.store.set(cacheKey(this.network), this.cache.toStored());
    } catch (error) {
      this.settings.logger.warn('could not save the peer cache', { error });
    }
  }

  private async maintain(): Promise<void> {
    const now = this.settings.now();
    if (this.warm !== undefined && now - this.warm.createdAt > WARM_TRANSPORT_MAX_AGE_MS) this.takeWarm();
    if (this.cache.expire(now) > 0) this.peersChanged();
    if (this.record.record.expiresAt - now < DEFAULT_RECORD_LIFETIME_MS / 2) {
      this.record = await ownRecord(
        this.tab,
        this.network,
        this.settings.urls,
        this.settings.name,
        now,
        this.record.record.seq,
      );
      this.signaling.updateRecord(this.record);
    }
    await this.dial();
  }

  // --- Messages -----------------------------------------------------------------

  private async receiveMessage(link: PeerLink, message: ReceivedMessage): Promise<void> {
    let data: string | Uint8Array = message.payload;
    if (!message.binary) {
      const text = payloadText(message.payload);
      if (!text.ok) {
        link.close(ErrorCode.PROTOCOL_VIOLATION, text.error.message);
        return;
      }
      data = text.value;
    }
    const header = message.broadcast;
    if (header === undefined) {
      this.emit('message', { from: link.peer, data, broadcast: false });
      return;
    }
    const key = `${header.origin}:${header.seq}`;
    if (header.origin === this.id || this.seenBroadcasts.has(key)) return;
    const signed = broadcastBytes(header.origin, header.seq, message.binary, message.payload);
    if (!(await verifyFrom(this.ed, header.origin, Purpose.BROADCAST, signed, header.signature))) {
      // Relays verify before forwarding, so an honest neighbour never passes on a forgery.
      link.close(ErrorCode.PROTOCOL_VIOLATION, 'forwarded a broadcast whose signature does not verify');
      return;
    }
    if (!this.seenBroadcasts.add(key)) return;
    this.emit('message', { from: header.origin, data, broadcast: true });
    if (header.hops <= 1) return;
    const onward = { ...header, hops: header.hops - 1 };
    for (const other of this.peerLinks.values()) {
      if (other !== link && other.state === 'connected' && other.peer !== header.origin) {
        void other.sendMessage(message.binary, message.payload, onward).catch(() => undefined);
      }
    }
  }
}

function cacheKey(network: string): string {
  return `cache:${network}`;
}

function encodePayload(data: unknown, max: number): { binary: boolean; payload: Uint8Array } {
  let binary: boolean;
  let payload: Uint8Array;
  if (typeof data === 'string') {
    binary = false;
    payload = utf8(data);
  } else if (data instanceof Uint8Array) {
    binary = true;
    payload = data;
  } else {
    throw new TypeError('data must be a string or a Uint8Array');
  }
  if (payload.length > max) {
    throw new TabmeshError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `payload of ${payload.length} bytes is over the ${max}-byte limit`,
    );
  }
  return { binary, payload };
}

async function ownRecord(
  tab: TabIdentity,
  network: string,
  urls: readonly string[],
  name: string | undefined,
  now: number,
  previousSeq = 0,
): Promise<SignedRecord> {
  return signRecord(tab.identity, {
    seq: Math.max(previousSeq + 1, now),
    network,
    now,
    endpoints: [...new Set(urls.filter(isValidEndpoint))].slice(0, 4),
    ...(name === undefined ? {} : { name }),
  });
}

/** Create a node, load (or make) this tab's identity and cache, and start joining. */
export async function createNode(options: NodeOptions = {}, deps: NodeDeps = {}): Promise<TabmeshNode> {
  const network = options.network ?? DEFAULT_NETWORK;
  if (!isValidNetworkName(network)) throw new TabmeshError(ErrorCode.BAD_FIELD, 'invalid network name');
  const urls = options.signaling ?? defaultSignaling();
  if (urls.length === 0)
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'no signaling URL given and no page origin to default to');
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'maxConnections must be a positive integer');
  }
  const logger = options.logger ?? consoleLogger;
  const now = deps.now ?? Date.now;
  // Open the signaling socket now; storage and identity load meanwhile.
  let early: EarlySocket | undefined;
  try {
    early = new EarlySocket(urls[0] ?? '', network);
  } catch {
    // An invalid first URL: the signaling client reports it when it tries.
    early = undefined;
  }
  // Side by side: the first native Ed25519 call warms up the crypto library,
  // and a fresh IndexedDB takes a while to create.
  const loading = Promise.all([
    deps.ed25519 ?? detectEd25519(typeof crypto === 'undefined' ? undefined : crypto.subtle),
    openStore(options.storage ?? 'indexeddb'),
  ]);
  // And the first offer (unless the ICE servers are yet to be fetched).
  const iceServers = options.iceServers ?? [];
  const transport = deps.transport ?? createSimplePeerTransport;
  const factory = typeof iceServers === 'function' ? transport : prepareOffer(transport, iceServers, now());
  const [ed, { store, reason }] = await loading;
  if (reason !== undefined) logger.warn(reason);
  // The cached peers are read while the identity loads.
  const cached = store.get(cacheKey(network)).catch(() => undefined);
  const tab = await acquireTabIdentity(ed, store, (message) => logger.warn(message));
  const { cache, dropped } = await PeerCache.restore(await cached, ed, {
    now: now(),
    network,
    self: tab.identity.id,
  });
  if (dropped > 0) logger.warn(`dropped ${dropped} unusable entries from the stored peer cache`);
  const record = await ownRecord(tab, network, urls, options.name, now());
  const node = new Node(tab, ed, store, cache, record, network, {
    urls,
    maxConnections,
    name: options.name,
    storageReason: reason,
    iceServers,
    logger,
    transport: factory,
    now,
    random: deps.random ?? Math.random,
  });
  node.start(early);
  return node;
}
