/**
 * Per-connection state, kept in one small class (never monkey-patched onto the
 * socket). Also the registry entry once registered.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { PeerId } from '../shared/identity/peer-id.js';
import type { ClientMessage } from '../shared/protocol/signaling.js';
import { TokenBucket } from '../shared/rate-limit.js';
import type { FederatedPeer } from './federation.js';
import type { RegistryEntry } from './registry.js';

export enum SessionState {
  /** Challenge sent, waiting for the answer. */
  Pending,
  /** Answer received, signatures being checked. */
  Verifying,
  Registered,
  Closed,
}

export class Session implements RegistryEntry, FederatedPeer {
  state = SessionState.Pending;
  /** Cleared by each heartbeat ping, set by the pong. */
  alive = true;
  /** Challenge nonce; dropped once used, so an answer can never be replayed. */
  nonce: Uint8Array | undefined;
  // Set at registration; placeholders until then.
  id = '' as PeerId;
  network = '';
  recordText = '';
  recordSeq = 0;
  recordExpiresAt = 0;
  slot = -1;
  /** Names this registration across instances (set by the federation; empty when there is none). */
  presenceToken = '';
  /** Set when the current throttling episode has been reported to the client. */
  throttleReported = false;
  /** Drop budget, made on first throttle. */
  floodBudget: TokenBucket | undefined;
  readonly bucket: TokenBucket;

  /** True while `tcp` is corked by the hub for this tick's relays. */
  corked = false;
  /** Requests that arrived behind the registration answer, until it is verified. */
  held: ClientMessage[] | undefined;

  constructor(
    readonly socket: WebSocket,
    /** The raw TCP socket under `socket` (ours from the upgrade), corked to batch writes. */
    readonly tcp: Duplex,
    readonly address: string,
    /** The network named in the WebSocket URL (`?network=`), if any. */
    readonly announcedNetwork: string | undefined,
    readonly deadline: number,
    nonce: Uint8Array,
    rate: number,
    burst: number,
    now: number,
  ) {
    this.nonce = nonce;
    this.bucket = new TokenBucket(rate, burst, now);
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  get closed(): boolean {
    return this.state === SessionState.Closed;
  }
}
