/** The node's public types: its API, createNode's options (each with its documented default), its collaborators, and its events. */
import type { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { MeshCounters } from './mesh.js';
import type { CacheStats } from './peer-book.js';
import type { SignalingState, SocketConstructor } from '../signaling-client.js';
import type { Via } from './paths.js';
import type { TransportFactory } from '../transport/transport.js';
import type { CandidateType } from '../transport/stats.js';

/** Network joined when none is given. */
export const DEFAULT_NETWORK = 'lobby';
/**
 * Open, confirmed connections a node keeps at most. The membership's active
 * view is min(DEFAULT_ACTIVE_VIEW, maxConnections); the rest is room for
 * connections the application asks for with `connect`.
 */
export const DEFAULT_MAX_CONNECTIONS = 8;
/** The active view's size when maxConnections allows it (HyParView's default, log10(N)+1 for N up to 10^4). */
export { DEFAULT_ACTIVE_VIEW } from '../../shared/limits.js';
/**
 * Channels beyond maxConnections allowed while they handshake: a full node
 * must still take a joiner's channel before membership evicts a neighbour
 * for it, so the count can exceed maxConnections by this much, briefly.
 */
export const HANDSHAKE_LINK_SLACK = 2;
/** How often the node tops up connections, expires cached records and renews its own. */
export const MAINTENANCE_INTERVAL_MS = 5_000;
/** How often connected peers exchange records. */
export const PEER_EXCHANGE_INTERVAL_MS = 30_000;
/** Wait before dialling a peer again after a failed attempt; doubles per failure. */
export const DIAL_RETRY_BASE_MS = 2_000;
/** Longest wait between attempts at one peer. */
export const DIAL_RETRY_MAX_MS = 120_000;
/**
 * Ended sessions remembered per peer, and peers remembered, so the late
 * signals of a closed, replaced or declined attempt are dropped quietly
 * rather than counted as stale.
 */
export const ENDED_SESSIONS_PER_PEER = 4;
export const ENDED_SESSION_PEERS = 256;
/** Signals from one peer waiting to be checked; more are dropped. */
export const MAX_QUEUED_SIGNALS_PER_PEER = 64;
/**
 * Longest wait, before dialling, for the TURN credentials a server's challenge
 * announced (they come with the welcome, one round trip later). Past it the
 * node dials without them rather than not at all.
 */
export const TURN_WAIT_MAX_MS = 5_000;

export interface Logger {
  debug(message: string, fields?: object): void;
  info(message: string, fields?: object): void;
  warn(message: string, fields?: object): void;
  error(message: string, fields?: object): void;
}

export interface NodeOptions {
  /** Signaling server WebSocket URLs, tried in turn. Default: `/ws` on the page's own host. */
  readonly signaling?: readonly string[];
  /** Network to join. Default {@link DEFAULT_NETWORK}. */
  readonly network?: string;
  /** Most open connections. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
  /** Where the identity and peer cache live. Default `indexeddb` (falls back to memory, reported in status). */
  readonly storage?: 'indexeddb' | 'memory';
  /**
   * STUN/TURN servers, or a function returning them (called per connection,
   * for short-lived TURN credentials). A list is used together with the TURN
   * credentials a signaling server hands out (docs/TURN.md), listed first; a
   * function is used instead of them. Default none (an empty list is the
   * same): the STUN URLs the signaling server names (its own responder, so
   * no third party learns this tab's address) and its TURN credentials are
   * used when it gives any; servers of the application's replace its STUN.
   */
  readonly iceServers?: readonly RTCIceServer[] | (() => Promise<readonly RTCIceServer[]>);
  /**
   * Which ICE candidates to use: 'all', or 'relay' for TURN only (hides this
   * tab's addresses from peers; needs a TURN server, from `iceServers` or the
   * signaling server's credentials). Default 'all'.
   */
  readonly iceTransportPolicy?: RTCIceTransportPolicy;
  /** Display name in this peer's record. Default none. */
  readonly name?: string;
  /** Where diagnostics go. Default: warnings and errors to the console. */
  readonly logger?: Logger;
}

/** Collaborators, injectable for tests and other platforms. */
export interface NodeDeps {
  /** Makes each connection's transport. Default: the browser's WebRTC (in Node: simple-peer over @roamhq/wrtc). */
  readonly transport?: TransportFactory;
  /** The WebSocket class for signaling. Default: the global WebSocket (in Node: the `ws` package's). */
  readonly webSocket?: SocketConstructor;
  readonly ed25519?: Ed25519;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** Where a node keeps its identity and peer cache. */
export type StorageKind = 'indexeddb' | 'memory' | 'file';

export interface NodeStatus {
  readonly signaling: SignalingState;
  /** The server currently connected (or being tried). */
  readonly signalingUrl: string | undefined;
  /** IndexedDB, memory, or (in Node, with `dataDir`) files. */
  readonly storage: StorageKind;
  /** Why storage is in memory, when it is not by choice. */
  readonly storageReason: string | undefined;
  /** Which Ed25519 implementation signs and verifies. */
  readonly crypto: string;
  readonly closed: boolean;
}

export interface KnownPeer {
  readonly id: PeerId;
  readonly name: string | undefined;
  readonly tried: boolean;
  readonly seq: number;
  readonly expiresAt: number;
  readonly endpoints: readonly string[];
}

/** One connection's figures, as `links()` lists them. */
export interface LinkInfo {
  readonly peer: PeerId;
  /** `signaling`, `confirming`, `connected` or `closed`. */
  readonly state: string;
  readonly initiator: boolean;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly connectedAt: number | undefined;
  /**
   * Round-trip time in ms on the connection's selected ICE candidate pair,
   * re-read every LINK_STATS_INTERVAL_MS (2 s) while connected; undefined
   * until first measured, or when the transport cannot measure it.
   */
  readonly rttMs: number | undefined;
  /**
   * The selected ICE candidate pair's types, read with `rttMs`: `host` at
   * both ends is a direct path within one network, `srflx`/`prflx` one
   * through NATs, `relay` one through a TURN server. Undefined until read.
   */
  readonly path: { readonly local: CandidateType; readonly remote: CandidateType } | undefined;
  /**
   * How the link's signals travelled when it was confirmed: through the
   * signaling `server`, a `local` tab of this browser, or sealed through the
   * `mesh`. Undefined before it is confirmed.
   */
  readonly via: Via['kind'] | undefined;
  /**
   * Payload bytes of messages queued on the channel and not yet sent. A
   * broadcast copy we forward is dropped rather than queued past
   * MAX_FORWARD_QUEUE_BYTES (2 MiB), counted in `limitStats().forwardOverQueue`.
   */
  readonly queuedBytes: number;
}

/**
 * What the node's limits have refused so far, one count per limit (issue 15:
 * what a remote party makes a tab spend is bounded, and what is refused is
 * counted). Refusals charged to a neighbour are also counted by code in
 * `problems()` (RATE_LIMITED, FLOODING, PROTOCOL_VIOLATION). The limits are
 * in shared/limits.ts and docs/PROTOCOL.md.
 */
export interface LimitCounters {
  /** Offers declined without a reply: from peers never dealt with, past STRANGER_REPLY_RATE. */
  unansweredDeclines: number;
  /** Of those, offers dropped before their signature was checked, as nothing else would have come of them. */
  unverifiedOffers: number;
  /** Relayed frames dropped: over their neighbour's RELAY_RATE. */
  relayOverRate: number;
  /** Relayed frames not passed on: over their neighbour's RELAY_PASS_RATE. */
  relayOverPass: number;
  /** Relayed frames not passed on: over their claimed sender's RELAY_ORIGIN_RATE. */
  relayOverOrigin: number;
  /** Relayed copies not sent: over what the next neighbour takes from us (RELAY_SEND_RATE, RELAY_PASS_SEND_RATE). */
  relayUnsent: number;
  /** Membership messages left unread, records unverified: from a peer that may not send them now (not in the active view). */
  membershipUnread: number;
  /** Records and broadcast copies left unverified: over their neighbour's VERIFY_RATE. */
  verifyOverBudget: number;
  /** Broadcast copies dropped unverified: over their origin's BROADCAST_ORIGIN_RATE. */
  broadcastOverOrigin: number;
  /** Broadcast copies not forwarded: the channel's queue held MAX_FORWARD_QUEUE_BYTES. */
  forwardOverQueue: number;
  /** Half-received messages given up, their links closed: over MAX_PARTIAL_BYTES_PER_PEER, or stalled PARTIAL_MESSAGE_STALL_MS. */
  partialMessages: number;
  /** Signal paths forgotten: over MAX_SIGNAL_PATHS. */
  signalPathsForgotten: number;
}

/** A tally with every count at zero. */
export function newLimitCounters(): LimitCounters {
  return {
    unansweredDeclines: 0,
    unverifiedOffers: 0,
    relayOverRate: 0,
    relayOverPass: 0,
    relayOverOrigin: 0,
    relayUnsent: 0,
    membershipUnread: 0,
    verifyOverBudget: 0,
    broadcastOverOrigin: 0,
    forwardOverQueue: 0,
    partialMessages: 0,
    signalPathsForgotten: 0,
  };
}

export interface MessageDetail {
  readonly from: PeerId;
  readonly data: string | Uint8Array;
  /** True for a broadcast (then `from` is its origin, checked by signature). */
  readonly broadcast: boolean;
  /** True for a message that came sealed through the mesh rather than over a channel to `from`. */
  readonly routed?: boolean;
}

export interface NodeEvents {
  'peer:connect': CustomEvent<{ readonly peer: PeerId }>;
  'peer:disconnect': CustomEvent<{
    readonly peer: PeerId;
    readonly code: ErrorCode | undefined;
    readonly reason: string;
  }>;
  message: CustomEvent<MessageDetail>;
  /** The known-peer cache changed. */
  peers: CustomEvent<{ readonly known: number }>;
  status: CustomEvent<NodeStatus>;
  /** The membership's views changed. */
  neighbours: CustomEvent<{ readonly active: PeerId[]; readonly passive: PeerId[] }>;
  /** Something was refused (bad signature, forged sender, violation...), with the reason. */
  warning: CustomEvent<{ readonly code: ErrorCode; readonly message: string; readonly peer: PeerId | undefined }>;
}

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
  /** What the node's limits have refused so far, by limit. */
  limitStats(): Readonly<LimitCounters>;
  /** Per-connection figures. */
  links(): LinkInfo[];
  /** Per-connection figures, with every connected link's `rttMs` and `path` read again now. */
  measureLinks(): Promise<LinkInfo[]>;
  /**
   * The peer cache's diagnostics: new records refused for a full bucket,
   * reachability tests of tried peers (queued, refused, passed, expired) and
   * the evictions they allowed, connections too short to make their peer
   * tried, signaling URLs not learned (untried peer, private address), and
   * stored entries dropped on load.
   */
  cacheStats(): Readonly<CacheStats>;
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

export const consoleLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => console.warn(`tabmesh: ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`tabmesh: ${message}`, fields ?? ''),
};
