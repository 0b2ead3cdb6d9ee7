/**
 * Messages in over channels, and broadcast flooding. A direct message is
 * decoded and delivered. A broadcast is signed by its origin, sent to every
 * confirmed channel, and passed on by each peer that has not seen its
 * (origin, seq) before, with one hop less, after checking the origin's
 * signature. A neighbour that forwards a forgery or an impossible hop count
 * is cut off: honest peers verify before they forward.
 *
 * Checking a 1 MiB broadcast's signature costs ~50 ms with tweetnacl, so what
 * others can make us check is bounded (issue 15, items 8 and 9): each origin
 * to BROADCAST_ORIGIN_RATE broadcasts (our own broadcast() holds to less),
 * each neighbour to its verification budget (VERIFY_RATE, shared with the
 * membership's records), one check per broadcast however many copies arrive
 * at once; and a copy we forward is not queued on a channel already
 * MAX_FORWARD_QUEUE_BYTES behind.
 */
import { ErrorCode, TabmeshError, unlessGone } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, verifyFrom } from '../../shared/identity/signing.js';
import {
  BROADCAST_ORIGIN_BURST,
  BROADCAST_ORIGIN_RATE,
  BROADCAST_ORIGINS_TRACKED,
  BROADCAST_SEND_BURST,
  BROADCAST_SEND_RATE,
  DEFAULT_BROADCAST_HOPS,
} from '../../shared/limits.js';
import { Flood } from '../../shared/membership/flood.js';
import {
  broadcastBytes,
  payloadText,
  type BroadcastHeader,
  type ReceivedMessage,
} from '../../shared/protocol/channel.js';
import { utf8 } from '../../shared/bytes.js';
import { TokenBucket } from '../../shared/rate-limit.js';
import { KeyedBuckets, type Rate } from './budgets.js';
import type { NodeCore } from './core.js';
import { newLimitCounters, type LimitCounters } from './options.js';
import { verifyBudgets, verifyCost, type VerifyBudgets } from './verify-budget.js';

export interface MessagesHost {
  /** Send a whole message on the channel to `peer`; rejects with NOT_CONNECTED when it has closed. */
  sendMessage(peer: PeerId, binary: boolean, payload: Uint8Array, header: BroadcastHeader): Promise<void>;
  /** Queue a copy we pass on, as sendMessage, unless the channel's queue is full: then undefined (counted by the link). */
  forwardMessage(
    peer: PeerId,
    binary: boolean,
    payload: Uint8Array,
    header: BroadcastHeader,
  ): Promise<void> | undefined;
  /** A message for the application: from a neighbour, or a broadcast from its origin. */
  deliver(from: PeerId, data: string | Uint8Array, broadcast: boolean): void;
  /** Close the channel to a neighbour that broke the protocol. */
  cutOff(peer: PeerId, message: string): void;
}

/** What bounds the broadcasts others make us check; the defaults are shared/limits.ts's (the bench switches them off). */
export interface BroadcastDefences {
  /** Per neighbour, shared with Neighbours. */
  readonly verify: VerifyBudgets;
  readonly tally: LimitCounters;
  /** Broadcasts of one origin we check (BROADCAST_ORIGIN_RATE). */
  readonly origin: Rate;
  /** Our own broadcasts (BROADCAST_SEND_RATE). */
  readonly send: Rate;
}

export function broadcastDefences(): BroadcastDefences {
  return {
    verify: verifyBudgets(),
    tally: newLimitCounters(),
    origin: { rate: BROADCAST_ORIGIN_RATE, burst: BROADCAST_ORIGIN_BURST },
    send: { rate: BROADCAST_SEND_RATE, burst: BROADCAST_SEND_BURST },
  };
}

export class Messages {
  private readonly flood = new Flood<PeerId>();
  private counter = 0;
  private readonly origins: KeyedBuckets<PeerId>;
  private readonly ours: TokenBucket;
  /** Broadcasts whose signature is being checked, by flood key: other copies wait for the outcome. */
  private readonly checking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly core: NodeCore,
    private readonly host: MessagesHost,
    private readonly defences: BroadcastDefences = broadcastDefences(),
  ) {
    this.origins = new KeyedBuckets(defences.origin, BROADCAST_ORIGINS_TRACKED);
    this.ours = new TokenBucket(defences.send.rate, defences.send.burst, core.now());
  }

  /**
   * Sign and send a broadcast of ours; resolves once it is queued on every
   * channel. Every confirmed channel, not only the active view: the
   * membership briefly disagrees with the links while the mesh heals, and a
   * broadcast should not fall into that gap.
   */
  async broadcast(binary: boolean, payload: Uint8Array): Promise<void> {
    if (!this.ours.take(this.core.now())) {
      throw new TabmeshError(
        ErrorCode.RATE_LIMITED,
        `over ${this.defences.send.rate} broadcasts a second: peers would drop the excess`,
      );
    }
    const self = this.core.identity.id;
    // Time-based, so a reloaded tab never reuses a (origin, seq) others remember.
    const seq = this.core.now() * 1024 + (this.counter++ % 1024);
    const signature = await this.core.identity.sign(Purpose.BROADCAST, broadcastBytes(self, seq, binary, payload));
    this.flood.accept(self, seq);
    const header = { origin: self, seq, hops: DEFAULT_BROADCAST_HOPS, signature };
    const targets = this.flood.targets(this.core.connected(), undefined, self);
    await Promise.all(targets.map((peer) => this.forward(peer, binary, payload, header)));
  }

  /** A whole message from neighbour `from`; text that is not UTF-8 is a violation. */
  async receive(from: PeerId, message: ReceivedMessage): Promise<void> {
    let data: string | Uint8Array = message.payload;
    if (!message.binary) {
      const text = payloadText(message.payload);
      if (!text.ok) {
        this.host.cutOff(from, text.error.message);
        return;
      }
      data = text.value;
    }
    if (message.broadcast === undefined) this.host.deliver(from, data, false);
    else await this.flooded(from, message, message.broadcast, data);
  }

  /** A broadcast (`data` its payload, decoded): checked, delivered once, and passed on while it has hops left. */
  private async flooded(
    from: PeerId,
    message: ReceivedMessage,
    header: BroadcastHeader,
    data: string | Uint8Array,
  ): Promise<void> {
    if (header.origin === this.core.identity.id || this.flood.seen(header.origin, header.seq)) return;
    // Checked before anything counts the broadcast as seen: a copy with an
    // impossible hop count (the hops are not signed) must neither be delivered
    // nor stop the honest copies coming other ways.
    const hops = Flood.onwardHops(header.hops);
    if (hops === 'invalid') {
      this.host.cutOff(from, 'broadcast with an impossible hop count');
      return;
    }
    if (!(await this.authentic(from, message, header))) return;
    if (!this.flood.accept(header.origin, header.seq)) return;
    this.host.deliver(header.origin, data, true);
    if (hops === undefined) return;
    const onward = { ...header, hops };
    for (const peer of this.flood.targets(this.core.connected(), from, header.origin)) {
      this.host
        .forwardMessage(peer, message.binary, message.payload, onward)
        ?.catch(unlessGone((error) => this.core.logger.warn('a broadcast could not be sent', { peer, error })));
    }
  }

  /**
   * Whether a broadcast copy is genuinely its origin's, checked once per
   * broadcast within the budgets: a copy that arrives while another is being
   * checked waits for that outcome (and is checked itself only if that one
   * was a forgery). False, counted, for a copy over a budget or a forgery,
   * whose neighbour is cut off: honest peers verify before they forward.
   */
  private async authentic(from: PeerId, message: ReceivedMessage, header: BroadcastHeader): Promise<boolean> {
    const key = `${header.origin}:${header.seq}`;
    const other = this.checking.get(key);
    if (other !== undefined && (await other)) return false;
    if (this.flood.seen(header.origin, header.seq)) return false;
    const now = this.core.now();
    // The origin's token is spent before the check: a forgery in its name costs its forwarder the link.
    if (!this.origins.take(header.origin, now)) {
      this.defences.tally.broadcastOverOrigin++;
      return false;
    }
    if (!this.defences.verify.take(from, now, verifyCost(message.payload.length))) {
      this.defences.tally.verifyOverBudget++;
      return false;
    }
    const signed = broadcastBytes(header.origin, header.seq, message.binary, message.payload);
    const check = verifyFrom(this.core.ed25519, header.origin, Purpose.BROADCAST, signed, header.signature);
    this.checking.set(key, check);
    try {
      if (await check) return true;
    } finally {
      if (this.checking.get(key) === check) this.checking.delete(key);
    }
    this.host.cutOff(from, 'forwarded a broadcast whose signature does not verify');
    return false;
  }

  /** Queue on one channel; a channel that closed meanwhile simply misses it. */
  private forward(peer: PeerId, binary: boolean, payload: Uint8Array, header: BroadcastHeader): Promise<void> {
    return this.host
      .sendMessage(peer, binary, payload, header)
      .catch(unlessGone((error) => this.core.logger.warn('a broadcast could not be sent', { peer, error })));
  }
}

/** The application's data as a payload: strings as UTF-8, bytes as they are; at most `max` bytes. */
export function encodePayload(data: unknown, max: number): { binary: boolean; payload: Uint8Array } {
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
