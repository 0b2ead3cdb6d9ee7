/**
 * TabNode: a browser tab as a Tabmesh peer (made by createNode, in
 * create.ts). This file is the façade:
 * the public API (TabmeshNode), the table of links (one PeerLink per peer),
 * events, timers, and the wiring of the parts, each behind a small host
 * interface of its own:
 *
 * - SignalIntake: signals in, sessions, offers accepted or declined;
 * - Dialler: bootstrap, dialling, back-off, the prepared transport, connect() waiters;
 * - IceServers: the application's ICE servers and the server's TURN credentials;
 * - PeerBook: record intake, the peer cache and its persistence, our own record;
 * - Messages: messages in over channels, and broadcast flooding;
 * - MeshRouting: sealed signals and messages through peers;
 * - Neighbours: the HyParView membership; SignalPaths: which way a signal goes.
 *
 * docs/ARCHITECTURE.md has the picture.
 */
import { ErrorCode, TabmeshError, isErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { parsePeerId, type PeerId } from '../../shared/identity/peer-id.js';
import {
  MAX_BROADCAST_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_ROUTED_MESSAGE_BYTES,
  MEMBERSHIP_TICK_MS,
} from '../../shared/limits.js';
import type { RestoredCache } from '../../shared/peer-cache-store.js';
import type { SignedRecord } from '../../shared/records.js';
import type { TabIdentity } from '../local/identity.js';
import { LocalTabs } from '../local/tabs.js';
import { SignalingClient, type EarlySocket, type SocketConstructor } from '../signaling-client.js';
import type { KeyValueStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import { Messages, broadcastDefences, encodePayload } from './messages.js';
import type { NodeCore } from './core.js';
import { Dialler } from './dialler.js';
import { IceServers } from './ice-servers.js';
import type { LinkContext, PeerLink } from './link.js';
import { LinkTable } from './link-table.js';
import type { MeshCounters } from './mesh.js';
import { MeshRouting } from './mesh-routing.js';
import { Neighbours } from './neighbours.js';
import {
  DEFAULT_ACTIVE_VIEW,
  HANDSHAKE_LINK_SLACK,
  MAINTENANCE_INTERVAL_MS,
  PEER_EXCHANGE_INTERVAL_MS,
  newLimitCounters,
  type KnownPeer,
  type LimitCounters,
  type LinkInfo,
  type Logger,
  type NodeEvents,
  type NodeOptions,
  type NodeStatus,
  type TabmeshNode,
} from './options.js';
import { SignalPaths } from './paths.js';
import { PeerBook, type CacheStats } from './peer-book.js';
import { SignalIntake } from './signal-intake.js';
import { rememberStun } from './stun-prediction.js';
import { verifyBudgets } from './verify-budget.js';

export type { TabmeshNode } from './options.js';

/**
 * Sealing for the mesh starts with the first channel, or this long after
 * start without one: loading tweetnacl and re-signing the record would
 * otherwise compete with the first connection for the page's main thread.
 */
export const MESH_START_DELAY_MS = 1_000;

/** What a node is made with, besides its identity, storage and cache (see createNode). */
export interface NodeSettings {
  readonly urls: readonly string[];
  readonly maxConnections: number;
  readonly name: string | undefined;
  readonly storageReason: string | undefined;
  readonly iceServers: NonNullable<NodeOptions['iceServers']>;
  readonly logger: Logger;
  readonly transport: TransportFactory;
  /** The WebSocket class for signaling; undefined: the global one. */
  readonly webSocket: SocketConstructor | undefined;
  /**
   * Whether to find same-browser tabs over BroadcastChannel. Off in Node:
   * its BroadcastChannel reaches only workers of the same process.
   */
  readonly localTabs: boolean;
  readonly now: () => number;
  readonly random: () => number;
}

export class TabNode extends EventTarget implements TabmeshNode {
  readonly id: PeerId;
  private readonly peerLinks: LinkTable;
  private readonly problemCounts = new Map<string, number>();
  /** What the node's limits refused, by limit; the parts count into it. */
  private readonly tally: LimitCounters = newLimitCounters();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private currentStatus: NodeStatus;
  private closed = false;
  /** Same-browser tabs, when BroadcastChannel exists and settings.localTabs. */
  private local: LocalTabs | undefined;
  private readonly linkContextBase: Omit<LinkContext, 'iceServers'>;
  private readonly signaling: SignalingClient;
  private readonly paths: SignalPaths;
  private readonly neighbours: Neighbours;
  private readonly book: PeerBook;
  private readonly ice: IceServers;
  private readonly dialler: Dialler;
  private readonly intake: SignalIntake;
  private readonly messages: Messages;
  private readonly meshRouting: MeshRouting;

  constructor(
    private readonly tab: TabIdentity,
    ed: Ed25519,
    store: KeyValueStore,
    restored: RestoredCache,
    record: SignedRecord,
    readonly network: string,
    private readonly settings: NodeSettings,
  ) {
    super();
    const identity = tab.identity;
    const self = identity.id;
    const now = settings.now;
    const maxLinks = settings.maxConnections + HANDSHAKE_LINK_SLACK;
    this.id = self;
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
    this.peerLinks = new LinkTable(
      {
        onConnected: (link) => this.linkConnected(link),
        onClosed: (link, code, reason) => this.linkClosed(link, code, reason),
        onMessage: (link, message) => void this.messages.receive(link.peer, message),
        onRecords: (link, records) =>
          void this.book.intake(records, {
            introducer: link.peer,
            label: 'record from a peer',
            from: link.peer,
            connectedPeer: (id) => id === link.peer && link.state === 'connected',
          }),
        onRelay: (link, frame) => this.meshRouting.receive(link.peer, frame),
        onMembership: (link, message) => void this.neighbours.receive(link.peer, message),
        onProblem: (link, code, message) => this.problem(code, message, link.peer),
      },
      settings.logger,
    );
    this.linkContextBase = {
      identity,
      ed25519: ed,
      now,
      transport: settings.transport,
      sendSignal: (to, payload) => this.paths.send(to, payload),
      viaOf: (peer) => this.paths.viaOf(peer)?.kind,
      tally: this.tally,
    };
    const core: NodeCore = {
      identity,
      ed25519: ed,
      network,
      logger: settings.logger,
      now,
      random: settings.random,
      closed: () => this.closed,
      connected: () => this.peerLinks.connected(),
      problem: (code, message, peer) => this.problem(code, message, peer),
    };
    this.book = new PeerBook(
      core,
      {
        addPassive: (ids) => this.neighbours.addPassive(ids),
        learnEndpoints: (endpoints) => this.signaling.learn(endpoints),
        recordRenewed: (renewed) => {
          this.signaling.updateRecord(renewed);
          this.local?.announce();
        },
        sendFrame: (peer, frame) => this.peerLinks.sendFrame(peer, frame),
        changed: (known) => this.emit('peers', { known }),
      },
      restored.cache,
      store,
      settings,
      record,
      { anchors: restored.anchors, storedDropped: restored.dropped },
    );
    this.ice = new IceServers(settings.iceServers, {
      now,
      requestTurn: () => this.signaling.requestTurn(),
      credentialsPending: () => this.dialler.discardPrepared(),
    });
    // One signature-check budget per neighbour, for its membership records and its broadcasts alike.
    const verify = verifyBudgets();
    this.meshRouting = new MeshRouting(
      core,
      {
        store,
        slot: tab.slot,
        sendFrame: (peer, frame) => this.peerLinks.sendFrame(peer, frame),
        sealKeyOf: (peer) => this.book.sealKeyOf(peer),
        started: (sealKey) => this.book.setSealKey(sealKey),
        signal: async (from, signal, carried, back) => {
          if (carried !== undefined)
            await this.book.intake([carried], { introducer: from, label: 'introduced record', from, only: from });
          void this.intake.enqueue(from, signal, { kind: 'mesh', route: back });
        },
        message: (from, data, back) => {
          this.paths.hint(from, back);
          this.emit('message', { from, data, broadcast: false, routed: true });
        },
      },
      this.tally,
    );
    this.paths = new SignalPaths(
      {
        sendServer: (to, payload) => this.signaling.send(to, payload),
        canUseServer: () => this.signaling.canSignal(),
        sendLocal: (to, payload) => this.local?.send(to, payload) ?? false,
        isLocal: (peer) => this.local?.has(peer) ?? false,
        sendMesh: (to, content, route) => this.meshRouting.send(to, content, route),
        canUseMesh: (peer) => this.meshRouting.canReach(peer),
        ownRecord: () => this.book.record.bytes,
        debug: (message, fields) => settings.logger.debug(message, fields),
      },
      this.tally,
    );
    this.neighbours = new Neighbours(
      core,
      {
        ownRecord: () => this.book.record,
        recordOf: (peer) => this.book.recordOf(peer),
        learn: (learned, introducer) => this.book.keep(learned, introducer),
        sendFrame: (peer, frame) => this.peerLinks.sendFrame(peer, frame),
        connect: (peer, route) => this.dialler.dial(peer, route),
        disconnect: (peer) => this.peerLinks.get(peer)?.closeWhenSent('left the active view'),
        // Through the server, a tab of this browser, or (with a channel) the mesh.
        reachable: (peer) =>
          this.signaling.canSignal() || (this.local?.has(peer) ?? false) || this.connections().length > 0,
        cutOff: (peer, message) => this.peerLinks.cutOff(peer, message),
        viewsChanged: () => {
          this.dialler.settleConnected();
          this.emit('neighbours', this.neighbourhood());
        },
      },
      { activeSize: Math.min(DEFAULT_ACTIVE_VIEW, settings.maxConnections) },
      { verify, tally: this.tally },
    );
    this.dialler = new Dialler(core, {
      links: this.peerLinks,
      maxLinks,
      membership: this.neighbours,
      book: this.book,
      paths: this.paths,
      localPeers: () => this.local?.peers() ?? [],
      canSignal: () => this.signaling.canSignal(),
      signalingStarting: () => this.currentStatus.signaling === 'connecting',
      linkContext: () => this.linkContext(),
    });
    this.intake = new SignalIntake(
      core,
      {
        links: this.peerLinks,
        maxLinks,
        membership: this.neighbours,
        linkContext: () => this.linkContext(),
        arrived: (peer, via) => {
          this.paths.arrived(peer, via);
          // Only now, with the sender proven, is its trail remembered as a way to it.
          if (via.kind === 'mesh') this.paths.hint(peer, via.route);
        },
        reply: (to, via, payload) => this.paths.reply(to, via, payload),
      },
      this.tally,
    );
    this.messages = new Messages(
      core,
      {
        // Async, so a channel that has gone rejects (NOT_CONNECTED) rather than throws.
        sendMessage: async (peer, binary, payload, header) =>
          this.peerLinks.confirmed(peer).sendMessage(binary, payload, header),
        forwardMessage: (peer, binary, payload, header) => {
          const link = this.peerLinks.get(peer);
          if (link?.state !== 'connected')
            return Promise.reject(new TabmeshError(ErrorCode.NOT_CONNECTED, 'no open channel to that peer'));
          return link.forwardMessage(binary, payload, header);
        },
        deliver: (from, data, broadcast) => this.emit('message', { from, data, broadcast }),
        cutOff: (peer, message) => this.peerLinks.cutOff(peer, message),
      },
      { ...broadcastDefences(), verify, tally: this.tally },
    );
    this.signaling = new SignalingClient(
      {
        urls: settings.urls,
        network,
        identity,
        record: () => this.book.record,
        random: settings.random,
        ...(settings.webSocket === undefined ? {} : { webSocket: settings.webSocket }),
      },
      {
        onState: (state, url) => {
          if (state === 'disconnected') this.dialler.signalingLost();
          if (state === 'disconnected' || state === 'closed') this.ice.stopWaiting();
          this.setStatus({ signaling: state, signalingUrl: url });
          // Losing or finding the server changes which contacts can be reached.
          if (state !== 'closed') this.dialler.bootstrap();
        },
        onWelcome: (url, records) => void this.dialler.welcome(url, records),
        onSignal: (from, payload) => void this.intake.enqueue(from, payload, { kind: 'server' }),
        // Codes outside the catalogue are counted under one, so a server cannot grow the tally.
        onProblem: (code, message) =>
          this.problem(isErrorCode(code) ? code : ErrorCode.REMOTE_ERROR, message, undefined),
        onUndeliverable: (to) => this.undeliverable(to),
        onTurnPending: () => this.ice.pending(),
        onTurn: (turn) => this.ice.receive(turn),
        onStun: (url, urls) => {
          rememberStun(url, urls);
          this.ice.receiveStun(urls);
        },
      },
    );
  }

  start(early: EarlySocket | undefined): void {
    this.signaling.start(early);
    if (this.settings.localTabs && typeof BroadcastChannel !== 'undefined') {
      this.local = new LocalTabs(this.network, this.id, () => this.book.record.text, {
        onRecord: (text) => void this.dialler.localRecord(text),
        onSignal: (from, payload) => void this.intake.enqueue(from, payload, { kind: 'local' }),
      });
    }
    // Sealing is for signals through peers: it starts once the first channel
    // is up (or soon after start without one), off the first connection's path.
    this.timers.push(setTimeout(() => this.meshRouting.start(), MESH_START_DELAY_MS));
    this.dialler.prepare();
    this.timers.push(setInterval(() => void this.maintain(), MAINTENANCE_INTERVAL_MS));
    this.timers.push(setInterval(() => this.book.exchange(), PEER_EXCHANGE_INTERVAL_MS));
    this.timers.push(setInterval(() => this.neighbours.tick(), MEMBERSHIP_TICK_MS));
    // A returning tab knows peers already: the passive view starts from the cache.
    this.neighbours.addPassive(this.book.contacts());
    this.dialler.bootstrap();
  }

  get status(): NodeStatus {
    return this.currentStatus;
  }

  connections(): PeerId[] {
    return this.peerLinks.connected();
  }

  knownPeers(): KnownPeer[] {
    return this.book.knownPeers();
  }

  neighbourhood(): { readonly active: PeerId[]; readonly passive: PeerId[] } {
    return { active: this.neighbours.active(), passive: this.neighbours.passive() };
  }

  problems(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.problemCounts);
  }

  meshStats(): Readonly<MeshCounters> {
    return this.meshRouting.counters();
  }

  limitStats(): Readonly<LimitCounters> {
    return { ...this.tally };
  }

  links(): LinkInfo[] {
    return this.peerLinks.info();
  }

  async measureLinks(): Promise<LinkInfo[]> {
    await this.peerLinks.measure();
    return this.peerLinks.info();
  }

  cacheStats(): Readonly<CacheStats> {
    return this.book.stats();
  }

  async send(peer: PeerId, data: string | Uint8Array): Promise<void> {
    const { binary, payload } = encodePayload(data, MAX_MESSAGE_BYTES);
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    if (this.peerLinks.get(peer)?.state !== 'connected') {
      const short = payload.length <= MAX_ROUTED_MESSAGE_BYTES;
      if (short && (await this.meshRouting.sendMessage(peer, binary, payload, this.routeTo(peer)))) return;
      await this.connect(peer);
    }
    await this.peerLinks.confirmed(peer).sendMessage(binary, payload);
  }

  async connect(peer: PeerId): Promise<void> {
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    const parsed = parsePeerId(peer);
    if (!parsed.ok) throw parsed.error;
    if (peer === this.id) throw new TabmeshError(ErrorCode.BAD_PEER_ID, 'a node cannot connect to itself');
    if (this.peerLinks.get(peer)?.state === 'connected' && this.neighbours.active().includes(peer)) return;
    return this.dialler.connect(parsed.value, this.routeTo(parsed.value));
  }

  async broadcast(data: string | Uint8Array): Promise<void> {
    const { binary, payload } = encodePayload(data, MAX_BROADCAST_BYTES);
    if (this.closed) throw new TabmeshError(ErrorCode.CLOSED, 'the node is closed');
    await this.messages.broadcast(binary, payload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.signaling.close();
    this.local?.close();
    this.paths.close();
    this.dialler.close();
    this.peerLinks.closeAll('node closed');
    await this.book.close();
    this.tab.release();
    this.setStatus({ closed: true, signaling: 'closed' });
  }

  private emit<K extends keyof NodeEvents>(type: K, detail: NodeEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private setStatus(change: Partial<NodeStatus>): void {
    this.currentStatus = { ...this.currentStatus, ...change };
    this.emit('status', this.currentStatus);
  }

  /** Count a refusal or problem, log it, and tell listeners. */
  private problem(code: ErrorCode, message: string, peer: PeerId | undefined): void {
    this.problemCounts.set(code, (this.problemCounts.get(code) ?? 0) + 1);
    this.settings.logger.warn(message, { code, peer });
    this.emit('warning', { code, message, peer });
  }

  private async linkContext(): Promise<LinkContext> {
    return { ...this.linkContextBase, iceServers: await this.ice.current() };
  }

  /** The best known way through the mesh to `peer`: the last frame's trail, else a membership walk's path. */
  private routeTo(peer: PeerId): readonly PeerId[] {
    const learned = this.paths.routeTo(peer);
    return learned.length > 0 ? learned : this.neighbours.routeTo(peer);
  }

  private async maintain(): Promise<void> {
    this.dialler.maintain();
    this.ice.maintain();
    await this.book.maintain();
    this.dialler.bootstrap();
  }

  /** The server could not deliver a signal to `to`: an attempt still signalling there is over. */
  private undeliverable(to: PeerId): void {
    const link = this.peerLinks.get(to);
    if (link !== undefined && link.state === 'signaling' && this.paths.viaOf(to)?.kind === 'server')
      link.close(ErrorCode.CONNECT_FAILED, 'the peer is not reachable through signaling', false);
  }

  private linkConnected(link: PeerLink): void {
    this.intake.connected(link.peer);
    this.dialler.reached(link.peer);
    this.meshRouting.start();
    this.neighbours.linkUp(link.peer, link.initiator);
    this.book.reached(link.peer);
    this.emit('peer:connect', { peer: link.peer });
    this.book.sendTo(link.peer);
    this.dialler.settleConnected();
  }

  private linkClosed(link: PeerLink, code: ErrorCode | undefined, reason: string): void {
    this.intake.endSession(link.peer, link.session);
    const wasConnected = link.connectedAt !== undefined;
    if (wasConnected) this.neighbours.linkDown(link.peer);
    const current = this.peerLinks.release(link);
    if (current) this.paths.forget(link.peer);
    // Not for a link a newer session replaced: the book times the newer one.
    if (wasConnected && current) this.book.lost(link.peer);
    this.dialler.ended(link, wasConnected, current, code, reason);
    if (code !== undefined && code !== ErrorCode.CONNECT_FAILED) this.problem(code, reason, link.peer);
    if (wasConnected) this.emit('peer:disconnect', { peer: link.peer, code, reason });
    if (!this.closed) this.dialler.bootstrap();
  }
}
