/**
 * createNode(): a browser tab as a Tabmesh peer. Wires the tab's identity,
 * storage and record cache, the signaling client, and one PeerLink per peer;
 * exposes connections, known peers, send, broadcast and typed events.
 */
import { bytesEqual, utf8 } from '../../shared/bytes.js';
import { ErrorCode, TabmeshError, isErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { parsePeerId, type PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, verifyFrom } from '../../shared/identity/signing.js';
import {
  BROADCAST_DEDUP_ENTRIES,
  DEFAULT_BROADCAST_HOPS,
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_BROADCAST_BYTES,
  MAX_CACHED_RECORDS,
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_ENDPOINTS,
  MAX_MESSAGE_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  MAX_ROUTED_MESSAGE_BYTES,
  MEMBERSHIP_TICK_MS,
  RELAY_ID_BYTES,
  SESSION_NONCE_BYTES,
  SIGNAL_TTL_MS,
} from '../../shared/limits.js';
import { routedMessageBytes, type RelayFrame, type SealedContent } from '../../shared/protocol/mesh.js';
import { loadNacl } from '../../shared/seal.js';
import { loadSealKeys } from '../local/seal-keys.js';
import { LocalTabs } from '../local/tabs.js';
import { Mesh, type MeshCounters } from './mesh.js';
import { SignalPaths, type Via } from './paths.js';
import { Neighbours } from './neighbours.js';
import { boot, cacheKey } from './boot.js';
import { Flood } from '../../shared/membership/flood.js';
import { PeerCache } from '../../shared/peer-cache.js';
import { broadcastBytes, encodeRecords, payloadText, type ReceivedMessage } from '../../shared/protocol/channel.js';
import { openSignal, signSignal, type SignalEnvelope } from '../../shared/protocol/signal.js';
import type { TurnCredentials } from '../../shared/protocol/signaling.js';
import { isValidEndpoint, signRecord, verifyRecord, type SignedRecord } from '../../shared/records.js';
import type { TabIdentity } from '../local/identity.js';
import { EarlySocket, SignalingClient } from '../signaling-client.js';
import type { KeyValueStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import { WARM_TRANSPORT_MAX_AGE_MS, WarmTransport } from './warm-transport.js';
import { CONNECT_TIMEOUT_MS, PeerLink, type LinkContext, type LinkEvents } from './link.js';
import {
  DEFAULT_ACTIVE_VIEW,
  HANDSHAKE_LINK_SLACK,
  DIAL_RETRY_BASE_MS,
  DIAL_RETRY_MAX_MS,
  ENDED_SESSION_PEERS,
  ENDED_SESSIONS_PER_PEER,
  MAINTENANCE_INTERVAL_MS,
  MAX_QUEUED_SIGNALS_PER_PEER,
  PEER_EXCHANGE_INTERVAL_MS,
  TURN_WAIT_MAX_MS,
  consoleLogger,
  type KnownPeer,
  type LinkInfo,
  type Logger,
  type NodeDeps,
  type NodeEvents,
  type NodeOptions,
  type NodeStatus,
} from './options.js';

/** Delay before the cache is written after a change, so bursts cost one write. */
const PERSIST_DELAY_MS = 1_000;
/**
 * Sealing for the mesh starts with the first channel, or this long after
 * start without one: loading tweetnacl and re-signing the record would
 * otherwise compete with the first connection for the page's main thread.
 */
const MESH_START_DELAY_MS = 1_000;

export interface TabmeshNode extends EventTarget {
  readonly id: PeerId;
  readonly network: string;
  /** IDs of peers with open, confirmed channels. */
  connections(): PeerId[];
  /** Cached peer records, tried ones first. */
  knownPeers(): KnownPeer[];
  /** The membership views: active neighbours (channels kept) and passive ones (known in reserve). */
  neighbourhood(): { readonly active: PeerId[]; readonly passive: PeerId[] };
  /**
   * Send to one peer. Strings arrive as strings, bytes as Uint8Array. Up to
   * 16 MiB over an open channel. To a peer with no channel, a payload of up
   * to 8 KiB (MAX_ROUTED_MESSAGE_BYTES) is routed sealed through the mesh;
   * a larger one first opens a channel (see {@link TabmeshNode.connect}).
   */
  send(peer: PeerId, data: string | Uint8Array): Promise<void>;
  /**
   * Open a channel to `peer` (through a tab of this browser, the mesh, or the
   * signaling server, in that order); resolves once it is confirmed.
   */
  connect(peer: PeerId): Promise<void>;
  /** Send to every peer of the network, over several hops. Up to 1 MiB. */
  broadcast(data: string | Uint8Array): Promise<void>;
  readonly status: NodeStatus;
  /** Refusals and problems so far, by error code. */
  problems(): Readonly<Record<string, number>>;
  /** Sealed frames through the mesh so far: sent, forwarded for others, delivered to us, dropped. */
  meshStats(): Readonly<MeshCounters>;
  /** Per-connection figures. */
  links(): LinkInfo[];
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
  private readonly flood = new Flood<PeerId>(BROADCAST_DEDUP_ENTRIES);
  /** HyParView: which peers we keep channels to (the active view) and which we know in reserve. */
  private readonly neighbours: Neighbours;
  private readonly signalQueues = new Map<PeerId, { chain: Promise<void>; size: number }>();
  private readonly paths: SignalPaths;
  /**
   * Sessions that ended here (closed, replaced, or declined), a few per peer:
   * their late signals (trickled candidates, a glare's bye) are expected, and
   * dropped without counting as a problem.
   */
  private readonly endedSessions = new Map<PeerId, Uint8Array[]>();
  /** Same-browser tabs, when BroadcastChannel exists. */
  private local: LocalTabs | undefined;
  /** Sealed traffic through the mesh, once tweetnacl and our seal keys are loaded. */
  private mesh: Mesh | undefined;
  /** Callers of connect() waiting on a peer. */
  private readonly connectWaiters = new Map<PeerId, { resolve(): void; reject(error: Error): void }[]>();
  private readonly signaling: SignalingClient;
  private readonly linkContext: LinkContext;
  private readonly linkEvents: LinkEvents;
  private record: SignedRecord;
  private broadcastCounter = 0;
  private currentStatus: NodeStatus;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether signaling has been lost or failed at least once (then same-browser tabs are contacts while it retries). */
  private signalingFailedOnce = false;
  /** Whether a server's welcome (with its sample of peers) has arrived. */
  private welcomed = false;
  /** Whether sealing (tweetnacl, seal keys) has been asked to start. */
  private meshStarting = false;
  /** Our X25519 public key once loaded; carried in our record. */
  private sealKey: Uint8Array | undefined;
  private closed = false;
  /** Peers whose last attempts failed: when we may try again, and how many failures. */
  private readonly retryAfter = new Map<PeerId, { at: number; failures: number }>();
  /** One initiating transport prepared at start, so the first dial skips making an offer. */
  private warm: WarmTransport | undefined;
  /** TURN servers from the signaling server's credentials, and when to ask for fresh ones. */
  private serverTurn: { readonly servers: readonly RTCIceServer[]; readonly refreshAt: number } | undefined;
  /** Set while credentials a challenge announced are on their way: dials wait for them. */
  private turnWait: { readonly arrived: Promise<void>; readonly resolve: () => void } | undefined;

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
    // A first visit's store may still be opening (and may end in memory).
    void store.opened?.then(({ store: opened, reason }) => {
      if (opened.kind !== this.currentStatus.storage || reason !== this.currentStatus.storageReason)
        this.setStatus({ storage: opened.kind, storageReason: reason });
    });
    this.linkEvents = {
      onConnected: (link) => this.linkConnected(link),
      onClosed: (link, code, reason) => this.linkClosed(link, code, reason),
      onMessage: (link, message) => void this.receiveMessage(link, message),
      onRecords: (link, records) => void this.receiveRecords(link, records),
      onRelay: (link, frame) => this.receiveRelay(link, frame),
      onMembership: (link, message) => this.neighbours.receive(link.peer, message),
      onProblem: (link, code, message) => this.problem(code, message, link.peer),
    };
    this.linkContext = {
      identity: tab.identity,
      ed25519: ed,
      now: settings.now,
      iceServers: [],
      transport: settings.transport,
      sendSignal: (to, payload) => this.paths.send(to, payload),
    };
    this.paths = new SignalPaths({
      sendServer: (to, payload) => this.signaling.send(to, payload),
      canUseServer: () => this.signaling.canSignal(),
      sendLocal: (to, payload) => this.local?.send(to, payload) ?? false,
      isLocal: (peer) => this.local?.has(peer) ?? false,
      sendMesh: (to, content, route) => this.mesh?.send(to, content, route) ?? ErrorCode.NO_MESH_PATH,
      canUseMesh: (peer) =>
        this.mesh !== undefined && this.sealKeyOf(peer) !== undefined && this.connections().some((p) => p !== peer),
      ownRecord: () => this.record.bytes,
      debug: (message, fields) => this.settings.logger.debug(message, fields),
    });
    this.neighbours = new Neighbours(
      {
        self: this.id,
        network,
        ed25519: ed,
        now: settings.now,
        random: settings.random,
        ownRecord: () => this.record,
        recordOf: (peer) => this.cache.get(peer)?.signed,
        learn: (record, introducer) => {
          const outcome = this.cache.offer(record, introducer, this.settings.now());
          if (outcome === 'added' || outcome === 'updated') this.peersChanged();
        },
        sendFrame: (peer, frame) =>
          void this.peerLinks
            .get(peer)
            ?.sendFrame(frame)
            .catch(() => undefined),
        connect: (peer, route) => this.linkFor(peer, route),
        disconnect: (peer) => this.peerLinks.get(peer)?.closeWhenSent('left the active view'),
        // Through the server, a tab of this browser, or (with a channel) the mesh.
        reachable: (peer) =>
          this.signaling.canSignal() || (this.local?.has(peer) ?? false) || this.connections().length > 0,
        problem: (code, message, peer) => this.problem(code, message, peer),
        cutOff: (peer, message) => this.peerLinks.get(peer)?.close(ErrorCode.PROTOCOL_VIOLATION, message),
        viewsChanged: () => this.viewsChanged(),
      },
      { activeSize: Math.min(DEFAULT_ACTIVE_VIEW, settings.maxConnections) },
    );
    this.signaling = new SignalingClient(
      { urls: settings.urls, network, identity: tab.identity, record: () => this.record, random: settings.random },
      {
        onState: (state, url) => {
          if (state === 'disconnected') this.signalingFailedOnce = true;
          if (state === 'disconnected' || state === 'closed') this.turnArrived();
          this.setStatus({ signaling: state, signalingUrl: url });
          // Losing or finding the server changes which contacts can be reached.
          if (state !== 'closed') this.bootstrap();
        },
        onWelcome: (url, records) => void this.receiveSample(url, records),
        onSignal: (from, payload) => this.enqueueSignal(from, payload, { kind: 'server' }),
        // Codes outside the catalogue are counted under one, so a server cannot grow the tally.
        onProblem: (code, message) =>
          this.problem(isErrorCode(code) ? code : ErrorCode.REMOTE_ERROR, message, undefined),
        onUndeliverable: (to) => this.undeliverable(to),
        onTurnPending: () => this.turnPending(),
        onTurn: (turn) => this.receiveTurn(turn),
      },
    );
  }

  start(early: EarlySocket | undefined): void {
    this.signaling.start(early);
    if (typeof BroadcastChannel !== 'undefined') {
      this.local = new LocalTabs(this.network, this.id, () => this.record.text, {
        onRecord: (text) => void this.receiveLocalRecord(text),
        onSignal: (from, payload) => this.enqueueSignal(from, payload, { kind: 'local' }),
      });
    }
    // Sealing is for signals through peers: it starts once the first channel
    // is up (or soon after start without one), off the first connection's path.
    this.timers.push(setTimeout(() => this.startMesh(), MESH_START_DELAY_MS));
    void this.contextForLink().then((context) => {
      if (!this.closed && this.peerLinks.size === 0) {
        this.warm = new WarmTransport(context.transport, context.iceServers, this.settings.now());
      }
    });
    this.timers.push(setInterval(() => void this.maintain(), MAINTENANCE_INTERVAL_MS));
    this.timers.push(setInterval(() => this.exchangeRecords(), PEER_EXCHANGE_INTERVAL_MS));
    this.timers.push(setInterval(() => this.neighbours.membership.tick(), MEMBERSHIP_TICK_MS));
    // A returning tab knows peers already: the passive view starts from the cache.
    this.neighbours.membership.addPassive(this.cache.all().map((entry) => entry.signed.record.id));
    this.bootstrap();
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

  neighbourhood(): { readonly active: PeerId[]; readonly passive: PeerId[] } {
    return { active: this.neighbours.membership.activeView(), passive: this.neighbours.membership.passiveView() };
  }

  problems(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.problemCounts);
  }

  meshStats(): Readonly<MeshCounters> {
    return { ...(this.mesh?.counters ?? { sent: 0, forwarded: 0, delivered: 0, dropped: 0 }) };
  }

  links(): LinkInfo[] {
    return [...this.peerLinks.values()].map((l) => ({
      peer: l.peer,
      state: l.state,
      initiator: l.initiator,
      bytesSent: l.bytesSent,
      bytesReceived: l.bytesReceived,
      connectedAt: l.connectedAt,
      rttMs: l.rttMs,
      via: l.via,
    }));
  }

  async send(peer: PeerId, data: string | Uint8Array): Promise<void> {
    const { binary, payload } = encodePayload(data, MAX_MESSAGE_BYTES);
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    let link = this.peerLinks.get(peer);
    if (link?.state !== 'connected') {
      if (payload.length <= MAX_ROUTED_MESSAGE_BYTES && (await this.sendRouted(peer, binary, payload))) return;
      await this.connect(peer);
      link = this.peerLinks.get(peer);
      if (link?.state !== 'connected') throw new TabmeshError(ErrorCode.NOT_CONNECTED, 'the channel closed again');
    }
    await link.sendMessage(binary, payload);
  }

  async connect(peer: PeerId): Promise<void> {
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    const parsed = parsePeerId(peer);
    if (!parsed.ok) throw parsed.error;
    if (peer === this.id) throw new TabmeshError(ErrorCode.BAD_PEER_ID, 'a node cannot connect to itself');
    const existing = this.peerLinks.get(peer);
    if (existing?.state === 'connected' && this.neighbours.membership.activeView().includes(peer)) return;
    const waiting = new Promise<void>((resolve, reject) => {
      const list = this.connectWaiters.get(peer) ?? [];
      const timer = setTimeout(
        () => this.settleWaiters(peer, new TabmeshError(ErrorCode.CONNECT_FAILED, 'not connected in time')),
        CONNECT_TIMEOUT_MS,
      );
      list.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.connectWaiters.set(peer, list);
    });
    // The peer joins our active view (a high-priority request, making room if
    // need be), so both sides keep the channel rather than treat it as a stray.
    if (!this.neighbours.membership.connectTo(parsed.value, this.routeTo(parsed.value))) {
      this.settleWaiters(peer, new TabmeshError(ErrorCode.CONNECT_FAILED, 'no room in the active view just now'));
    }
    return waiting;
  }

  /** Sign, seal and route a short message; false when the mesh cannot carry it. */
  private async sendRouted(peer: PeerId, binary: boolean, payload: Uint8Array): Promise<boolean> {
    const mesh = this.mesh;
    if (mesh === undefined || this.sealKeyOf(peer) === undefined || this.connections().length === 0) return false;
    const id = crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES));
    const sentAt = this.settings.now();
    const signature = await this.tab.identity.sign(
      Purpose.ROUTED,
      routedMessageBytes(this.id, peer, id, sentAt, binary, payload),
    );
    const content: SealedContent = { kind: 'message', sentAt, binary, payload, signature };
    return mesh.send(peer, content, this.routeTo(peer), id) instanceof Uint8Array;
  }

  /** The best known way through the mesh to `peer`: the last frame's trail, else a membership walk's path. */
  private routeTo(peer: PeerId): readonly PeerId[] {
    const learned = this.paths.routeTo(peer);
    return learned.length > 0 ? learned : this.neighbours.membership.routeTo(peer);
  }

  async broadcast(data: string | Uint8Array): Promise<void> {
    const { binary, payload } = encodePayload(data, MAX_BROADCAST_BYTES);
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    // Time-based, so a reloaded tab never reuses a (origin, seq) others remember.
    const seq = this.settings.now() * 1024 + (this.broadcastCounter++ % 1024);
    const signature = await this.tab.identity.sign(Purpose.BROADCAST, broadcastBytes(this.id, seq, binary, payload));
    this.flood.accept(this.id, seq);
    const header = { origin: this.id, seq, hops: DEFAULT_BROADCAST_HOPS, signature };
    const links = this.flood
      .targets(this.broadcastLinks(), undefined, this.id)
      .map((peer) => this.peerLinks.get(peer))
      .filter((link) => link !== undefined);
    await Promise.all(links.map((link) => link.sendMessage(binary, payload, header).catch(() => undefined)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.persistTimer);
    this.signaling.close();
    this.local?.close();
    this.paths.close();
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
  private enqueueSignal(from: PeerId, payload: string, via: Via): void {
    const queue = this.signalQueues.get(from) ?? { chain: Promise.resolve(), size: 0 };
    if (queue.size >= MAX_QUEUED_SIGNALS_PER_PEER) {
      this.problem(ErrorCode.RATE_LIMITED, 'too many signals queued from one peer; dropped', from);
      return;
    }
    queue.size++;
    queue.chain = queue.chain
      .then(() => this.processSignal(from, payload, via))
      .catch((error: unknown) => this.settings.logger.error('signal handling failed', { error }))
      .finally(() => {
        queue.size--;
        if (queue.size === 0 && this.signalQueues.get(from) === queue) this.signalQueues.delete(from);
      });
    this.signalQueues.set(from, queue);
  }

  private async processSignal(from: PeerId, payload: string, via: Via): Promise<void> {
    if (this.closed) return;
    const opened = await openSignal(this.ed, payload, { self: this.id, relayedFrom: from, now: this.settings.now() });
    if (!opened.ok) {
      this.problem(opened.error.code, opened.error.message, from);
      return;
    }
    const envelope = opened.value;
    // Authenticated: what we send back for it goes the way it came.
    this.paths.arrived(from, via);
    // Only now, with the sender proven, is its trail remembered as a way to it.
    if (via.kind === 'mesh') this.paths.hint(from, via.route);
    if (envelope.kind === 'offer') {
      await this.acceptOffer(envelope);
      return;
    }
    const link = this.peerLinks.get(envelope.from);
    if (link !== undefined && bytesEqual(link.session, envelope.session)) link.handleSignal(envelope);
    else if (envelope.kind !== 'bye' && !this.sessionEnded(envelope.from, envelope.session))
      this.problem(ErrorCode.SIGNAL_STALE, 'signal for no session in progress', from);
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
    // A peer we hold a link to is starting over (it reloaded): the new session replaces the old.
    const others = this.openLinks() - (existing === undefined ? 0 : 1);
    const wanted = existing !== undefined || this.neighbours.membership.acceptsInbound(offer.from);
    if (!wanted || others >= this.settings.maxConnections + HANDSHAKE_LINK_SLACK) {
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
    this.endSession(offer.from, offer.session);
    const payload = await signSignal(this.tab.identity, {
      to: offer.from,
      session: offer.session,
      nonce: crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES)),
      seq: 0,
      kind: 'bye',
      expiresAt: this.settings.now() + SIGNAL_TTL_MS,
      body: reason,
    });
    this.paths.send(offer.from, payload);
  }

  /** Remember that a session with `peer` ended, keeping a few per peer and a bounded number of peers. */
  private endSession(peer: PeerId, session: Uint8Array): void {
    const sessions = this.endedSessions.get(peer) ?? [];
    this.endedSessions.delete(peer); // re-inserted last: the map is oldest first
    sessions.push(session);
    if (sessions.length > ENDED_SESSIONS_PER_PEER) sessions.shift();
    this.endedSessions.set(peer, sessions);
    if (this.endedSessions.size > ENDED_SESSION_PEERS) {
      const oldest = this.endedSessions.keys().next();
      if (oldest.done !== true) this.endedSessions.delete(oldest.value);
    }
  }

  private sessionEnded(peer: PeerId, session: Uint8Array): boolean {
    return (this.endedSessions.get(peer) ?? []).some((ended) => bytesEqual(ended, session));
  }

  /** Links not closed: attempts in progress and confirmed channels. */
  private openLinks(): number {
    return [...this.peerLinks.values()].filter((l) => l.state !== 'closed').length;
  }

  /**
   * Where broadcasts go: every confirmed channel. That is the active view,
   * plus channels still finishing their membership handshake or about to be
   * dropped from it: the membership briefly disagrees with the links while
   * the mesh heals, and a broadcast should not fall into that gap.
   */
  private broadcastLinks(): PeerId[] {
    return this.connections();
  }

  /**
   * The ICE servers for a new link: the function's when `iceServers` is one
   * (it wins: the application fetches its own credentials), else the listed
   * ones followed by the signaling server's TURN servers, whose credentials
   * are waited for (briefly) when the server announced them.
   */
  private async contextForLink(): Promise<LinkContext> {
    const ice = this.settings.iceServers;
    if (typeof ice === 'function') return { ...this.linkContext, iceServers: await ice() };
    if (this.turnWait !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.turnWait.arrived,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, TURN_WAIT_MAX_MS))),
      ]);
      clearTimeout(timer);
    }
    const turn = this.serverTurn?.servers ?? [];
    return { ...this.linkContext, iceServers: turn.length === 0 ? ice : [...ice, ...turn] };
  }

  // --- TURN credentials from the signaling server -----------------------------------

  private turnPending(): void {
    if (this.turnWait !== undefined) return;
    let resolve = (): void => undefined;
    const arrived = new Promise<void>((done) => (resolve = done));
    this.turnWait = { arrived, resolve };
    // A transport prepared before we knew lacks the TURN servers.
    this.takeWarm()?.transport.close();
  }

  private turnArrived(): void {
    this.turnWait?.resolve();
    this.turnWait = undefined;
  }

  private receiveTurn(turn: TurnCredentials | undefined): void {
    const now = this.settings.now();
    this.serverTurn =
      turn === undefined
        ? undefined
        : {
            servers: [{ urls: [...turn.urls], username: turn.username, credential: turn.credential }],
            // Fresh ones halfway through, so a connection attempt never starts on credentials about to lapse.
            refreshAt: now + turn.ttlMs / 2,
          };
    this.turnArrived();
  }

  // --- Dialling and links ---------------------------------------------------------

  /**
   * With no neighbours and no attempt under way, join the mesh through a
   * contact. With the server: former neighbours first (most recent first),
   * then any peer we know, tabs of this browser last (two tabs that only
   * joined each other would be a mesh of their own). Without it: tabs of
   * this browser, the only ones still in reach. While the first connection to
   * the server is still being made, wait for it. Membership tries the
   * contacts in turn and keeps the active view full from then on.
   */
  private bootstrap(): void {
    if (this.closed || this.neighbours.membership.activeView().length > 0) return;
    if ([...this.peerLinks.values()].some((l) => l.state !== 'closed')) return;
    const now = this.settings.now();
    const usable = (peer: PeerId): boolean => peer !== this.id && (this.retryAfter.get(peer)?.at ?? 0) <= now;
    const local = (this.local?.peers() ?? []).filter((peer) => this.cache.get(peer) !== undefined);
    let contacts: PeerId[];
    if (this.signaling.canSignal()) {
      const known = this.cache
        .all()
        .sort((a, b) => Number(b.tried) - Number(a.tried) || b.lastSeen - a.lastSeen)
        .map((entry) => entry.signed.record.id)
        .filter((peer) => !local.includes(peer) && usable(peer));
      // Nobody else known yet: the server's sample is on its way.
      if (known.length === 0 && !this.welcomed) return;
      contacts = [...known, ...local.filter(usable)];
    } else {
      if (this.currentStatus.signaling === 'connecting' && !this.signalingFailedOnce) return;
      contacts = local.filter(usable);
    }
    if (contacts.length > 0) this.neighbours.membership.join(contacts);
  }

  /** Membership wants a link to `peer`; `route` is a way through the mesh for its signals. */
  private linkFor(peer: PeerId, route: readonly PeerId[]): void {
    this.paths.hint(peer, route);
    const existing = this.peerLinks.get(peer);
    if (existing?.state === 'connected') {
      queueMicrotask(() => this.neighbours.membership.linkUp(peer, true));
      return;
    }
    if (existing !== undefined) return; // Under way: its outcome is reported when it comes.
    if (this.openLinks() >= this.settings.maxConnections + HANDSHAKE_LINK_SLACK) {
      queueMicrotask(() => this.neighbours.membership.connectFailed(peer));
      this.settleWaiters(peer, new TabmeshError(ErrorCode.CONNECT_FAILED, 'no room for another channel just now'));
      return;
    }
    void this.contextForLink().then((context) => {
      if (this.closed) return;
      // The ICE servers may have been fetched: the peer may have dialled us meanwhile.
      const current = this.peerLinks.get(peer);
      if (current?.state === 'connected') this.neighbours.membership.linkUp(peer, true);
      else if (current === undefined) this.initiate(context, peer, this.takeWarm());
    });
  }

  /** Start an attempt at `peer` on the best signal path. */
  private initiate(context: LinkContext, peer: PeerId, warm: WarmTransport | undefined): PeerLink {
    const link = PeerLink.initiate(context, this.linkEvents, peer, warm);
    // Chosen in the same tick: the link's first signal is signed, so sent, only after this.
    this.paths.begin(peer, {
      stillWaiting: () => link.state === 'signaling',
      heard: () => link.heard,
      resend: () => link.resendAll(),
      giveUp: () => link.close(ErrorCode.CONNECT_FAILED, 'no answer through the mesh, and no signaling server'),
    });
    this.peerLinks.set(peer, link);
    return link;
  }

  /** The server could not deliver a signal to `to`: an attempt still signalling there is over. */
  private undeliverable(to: PeerId): void {
    const link = this.peerLinks.get(to);
    if (link !== undefined && link.state === 'signaling' && this.paths.viaOf(to)?.kind === 'server')
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
    // The path of the attempt's last signals (a fallback may have moved it to the server).
    link.via = this.paths.viaOf(link.peer)?.kind;
    this.retryAfter.delete(link.peer);
    this.startMesh();
    this.neighbours.membership.linkUp(link.peer, link.initiator);
    const known = this.cache.get(link.peer);
    if (known !== undefined) {
      this.cache.markTried(known.signed, this.settings.now());
      // The servers a peer we reached uses: somewhere to go if ours fail.
      this.signaling.learn(known.signed.record.endpoints);
    }
    this.schedulePersist();
    this.emit('peer:connect', { peer: link.peer });
    this.sendRecords(link);
    this.settleConnected();
  }

  /**
   * connect() resolves once the peer is in our active view: the channel is
   * confirmed and the peer took our request (a peer with no room would drop
   * the channel right after confirming it).
   */
  private settleConnected(): void {
    if (this.connectWaiters.size === 0) return;
    for (const peer of this.neighbours.membership.activeView()) {
      if (this.connectWaiters.has(peer) && this.peerLinks.get(peer)?.state === 'connected') {
        this.settleWaiters(peer, undefined);
      }
    }
  }

  /** Resolve (or, with an error, reject) the connect() calls waiting on `peer`. */
  private settleWaiters(peer: PeerId, error: Error | undefined): void {
    const waiters = this.connectWaiters.get(peer);
    if (waiters === undefined) return;
    this.connectWaiters.delete(peer);
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  private linkClosed(link: PeerLink, code: ErrorCode | undefined, reason: string): void {
    this.endSession(link.peer, link.session);
    const wasConnected = link.connectedAt !== undefined;
    if (wasConnected) this.neighbours.membership.linkDown(link.peer);
    if (this.peerLinks.get(link.peer) === link) {
      this.peerLinks.delete(link.peer);
      this.paths.forget(link.peer);
      // No other attempt took over (a glare replaces the link under the same peer).
      // Lost a glare: the peer's own attempt is on its way, and connect() waits for it.
      if (link.declined !== 'GLARE') {
        if (!wasConnected && link.initiator) this.neighbours.membership.connectFailed(link.peer);
        this.settleWaiters(link.peer, new TabmeshError(code ?? ErrorCode.CONNECT_FAILED, reason));
      }
    }
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
    if (code === ErrorCode.CONNECT_FAILED && !wasConnected && link.declined === undefined) {
      // An attempt that went nowhere: forget the peer's untried record so we dial others.
      // Not one the peer declined: a busy peer is still there, and may be the only one in
      // reach (a tab of this browser with the server down), so its record stays.
      const entry = this.cache.get(link.peer);
      if (entry !== undefined && !entry.tried) this.cache.remove(link.peer);
    }
    if (!this.closed) this.bootstrap();
  }

  private viewsChanged(): void {
    this.settleConnected();
    this.emit('neighbours', this.neighbourhood());
  }

  // --- The mesh -----------------------------------------------------------------

  private startMesh(): void {
    if (this.meshStarting || this.closed) return;
    this.meshStarting = true;
    void this.enableMesh().catch((error: unknown) =>
      this.settings.logger.warn('the mesh is unavailable: sealing could not start', { error }),
    );
  }

  /** Load tweetnacl and this slot's seal keys, then publish a record that carries the seal key. */
  private async enableMesh(): Promise<void> {
    const nacl = await loadNacl();
    const keys = await loadSealKeys(nacl, this.store, this.tab.slot);
    if (this.closed) return;
    this.mesh = new Mesh(
      {
        self: this.id,
        neighbours: () => this.connections(),
        sendFrame: (peer, frame) =>
          void this.peerLinks
            .get(peer)
            ?.sendFrame(frame)
            .catch(() => undefined),
        sealKeyOf: (peer) => this.sealKeyOf(peer),
        problem: (code, message, peer) => this.problem(code, message, peer),
        deliver: (from, content, id, back) => void this.receiveSealed(from, content, id, back),
      },
      nacl,
      keys,
    );
    this.sealKey = keys.publicKey;
    await this.renewRecord();
  }

  /** Sign a new record (fresh expiry, current seal key) and tell the server, local tabs and neighbours. */
  private async renewRecord(): Promise<void> {
    this.record = await ownRecord(
      this.tab,
      this.network,
      this.settings,
      this.sealKey,
      this.settings.now(),
      this.record,
    );
    if (this.closed) return;
    this.signaling.updateRecord(this.record);
    this.local?.announce();
    this.exchangeRecords();
  }

  private sealKeyOf(peer: PeerId): Uint8Array | undefined {
    return this.cache.get(peer)?.signed.record.sealKey;
  }

  private receiveRelay(link: PeerLink, frame: RelayFrame): void {
    if (this.mesh === undefined) {
      this.settings.logger.debug('relayed frame dropped: the mesh is not ready', { from: link.peer });
      return;
    }
    this.mesh.receive(link.peer, frame);
  }

  /** Sealed content for us from `from` (claimed; each kind checks its signature). */
  private async receiveSealed(from: PeerId, content: SealedContent, id: Uint8Array, back: PeerId[]): Promise<void> {
    if (content.kind === 'signal') {
      if (content.record !== undefined) await this.receiveIntroduced(content.record, from, from);
      this.enqueueSignal(from, content.signal, { kind: 'mesh', route: back });
      return;
    }
    const now = this.settings.now();
    if (content.sentAt < now - SIGNAL_TTL_MS || content.sentAt > now + MAX_CLOCK_SKEW_MS) {
      this.problem(ErrorCode.SIGNAL_STALE, 'routed message too old or dated ahead', from);
      return;
    }
    const signed = routedMessageBytes(from, this.id, id, content.sentAt, content.binary, content.payload);
    if (!(await verifyFrom(this.ed, from, Purpose.ROUTED, signed, content.signature))) {
      this.problem(ErrorCode.BAD_SIGNATURE, 'routed message whose signature does not verify for its sender', from);
      return;
    }
    let data: string | Uint8Array = content.payload;
    if (!content.binary) {
      const text = payloadText(content.payload);
      if (!text.ok) {
        this.problem(ErrorCode.BAD_SEAL, text.error.message, from);
        return;
      }
      data = text.value;
    }
    this.paths.hint(from, back);
    this.emit('message', { from, data, broadcast: false, routed: true });
  }

  /**
   * A record that came with a signal or from a same-browser tab: verified,
   * then cached (as introduced by `introducer`). With `expected`, it must be
   * that peer's.
   */
  private async receiveIntroduced(
    bytes: string | Uint8Array,
    introducer: string,
    expected: PeerId | undefined,
  ): Promise<void> {
    const result = await verifyRecord(this.ed, bytes, { now: this.settings.now(), network: this.network });
    if (!result.ok) {
      this.problem(result.error.code, `introduced record: ${result.error.message}`, expected);
      return;
    }
    const id = result.value.record.id;
    if (id === this.id || (expected !== undefined && id !== expected)) return;
    const outcome = this.cache.offer(result.value, introducer, this.settings.now());
    if (outcome === 'added' || outcome === 'updated') this.peersChanged();
    if (outcome === 'added') this.neighbours.membership.addPassive([id]);
  }

  private async receiveLocalRecord(text: string): Promise<void> {
    await this.receiveIntroduced(text, 'local', undefined);
    this.bootstrap();
  }

  // --- Records ------------------------------------------------------------------

  private async receiveSample(url: string, records: readonly string[]): Promise<void> {
    this.welcomed = true;
    // Peers we already know (a returning tab) are dialled at once; the sample
    // is verified meanwhile and tops up the rest.
    this.bootstrap();
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
      if (outcome === 'added') this.neighbours.membership.addPassive([result.value.record.id]);
      changed ||= outcome === 'added' || outcome === 'updated';
    }
    if (changed) this.peersChanged();
    this.bootstrap();
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
        this.signaling.learn(result.value.record.endpoints);
        changed = true;
      } else {
        const outcome = this.cache.offer(result.value, link.peer, this.settings.now());
        if (outcome === 'added') this.neighbours.membership.addPassive([id]);
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
    if (this.serverTurn !== undefined && now >= this.serverTurn.refreshAt) this.signaling.requestTurn();
    if (this.cache.expire(now) > 0) this.peersChanged();
    if (this.record.record.expiresAt - now < DEFAULT_RECORD_LIFETIME_MS / 2) await this.renewRecord();
    this.bootstrap();
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
    if (header.origin === this.id || this.flood.seen(header.origin, header.seq)) return;
    const signed = broadcastBytes(header.origin, header.seq, message.binary, message.payload);
    if (!(await verifyFrom(this.ed, header.origin, Purpose.BROADCAST, signed, header.signature))) {
      // Relays verify before forwarding, so an honest neighbour never passes on a forgery.
      link.close(ErrorCode.PROTOCOL_VIOLATION, 'forwarded a broadcast whose signature does not verify');
      return;
    }
    if (!this.flood.accept(header.origin, header.seq)) return;
    this.emit('message', { from: header.origin, data, broadcast: true });
    const hops = Flood.onwardHops(header.hops);
    if (hops === 'invalid') {
      link.close(ErrorCode.PROTOCOL_VIOLATION, 'broadcast with an impossible hop count');
      return;
    }
    if (hops === undefined) return;
    const onward = { ...header, hops };
    for (const peer of this.flood.targets(this.broadcastLinks(), link.peer, header.origin)) {
      void this.peerLinks
        .get(peer)
        ?.sendMessage(message.binary, message.payload, onward)
        .catch(() => undefined);
    }
  }
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
  settings: { readonly urls: readonly string[]; readonly name: string | undefined },
  sealKey: Uint8Array | undefined,
  now: number,
  previous: SignedRecord | undefined,
): Promise<SignedRecord> {
  return signRecord(tab.identity, {
    seq: Math.max((previous?.record.seq ?? 0) + 1, now),
    network,
    now,
    endpoints: [...new Set(settings.urls.filter(isValidEndpoint))].slice(0, MAX_RECORD_ENDPOINTS),
    ...(settings.name === undefined ? {} : { name: settings.name }),
    ...(sealKey === undefined ? {} : { sealKey }),
  });
}

/**
 * Create a node, load (or make) this tab's identity and cache, and start
 * joining. Its first steps ({@link boot}) run before this returns: the
 * signaling socket, storage, Ed25519 and the first offer are under way at
 * once.
 */
export async function createNode(options: NodeOptions = {}, deps: NodeDeps = {}): Promise<TabmeshNode> {
  const started = boot(options, deps);
  const { network, urls, maxConnections, early, iceServers, transport } = started;
  const logger = options.logger ?? consoleLogger;
  const now = deps.now ?? Date.now;
  const { ed, store, storageReason, tab, cached } = await started.ready;
  const { cache, dropped } = await PeerCache.restore(cached, ed, { now: now(), network, self: tab.identity.id });
  if (dropped > 0) logger.warn(`dropped ${dropped} unusable entries from the stored peer cache`);
  const record = await ownRecord(tab, network, { urls, name: options.name }, undefined, now(), undefined);
  const node = new Node(tab, ed, store, cache, record, network, {
    urls,
    maxConnections,
    name: options.name,
    storageReason,
    iceServers,
    logger,
    transport,
    now,
    random: deps.random ?? Math.random,
  });
  node.start(early);
  return node;
}
