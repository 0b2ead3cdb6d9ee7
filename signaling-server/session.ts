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
import { Outbox, type OutboxLimits } from './outbox.js';
import type { RegistryEntry } from './registry.js';
import { ReplyCredit, type ReplyCreditLimits } from './reply-credit.js';

export enum SessionState {
  /** Challenge sent, waiting for the answer. */
  Pending,
  /** Answer received, signatures being checked. */
  Verifying,
  Registered,
  Closed,
}

/** The per-connection limits, the same for every session. */
export interface SessionLimits {
  readonly rate: number;
  readonly burst: number;
  readonly outbox: OutboxLimits;
  readonly credit: ReplyCreditLimits;
}

/**
 * Whether a connection answers our heartbeat pings. Only the pong that
 * carries the outstanding ping's payload counts: a client that stopped
 * reading cannot see the ping, and unsolicited pongs (which it can still
 * send) must not keep it alive.
 */
export class Liveness {
  /** Cleared by each ping, set by the pong that answers it. */
  alive = true;
  /** The payload of the ping awaiting its pong. */
  private payload: Buffer | undefined;

  /** A ping goes out with `payload` (fresh random bytes). */
  pinged(payload: Buffer): void {
    this.alive = false;
    this.payload = payload;
  }

  /** A pong arrived with `payload`. */
  ponged(payload: Buffer): void {
    if (this.payload?.equals(payload) !== true) return;
    this.payload = undefined;
    this.alive = true;
  }
}

export class Session implements RegistryEntry, FederatedPeer {
  state = SessionState.Pending;
  readonly liveness = new Liveness();
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
  /** Every write to this connection: its send budget and the shares of those relaying into it. */
  readonly outbox: Outbox;
  /** Replies this connection may send on the account of the peers that signalled it. */
  readonly credit: ReplyCredit;

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
    limits: SessionLimits,
    now: number,
  ) {
    this.nonce = nonce;
    this.bucket = new TokenBucket(limits.rate, limits.burst, now);
    this.outbox = new Outbox(socket, limits.outbox);
    this.credit = new ReplyCredit(limits.credit);
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  get closed(): boolean {
    return this.state === SessionState.Closed;
  }
}
