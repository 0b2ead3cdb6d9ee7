/**
 * One connection to one peer, from the first signal to close. The link
 * counts as connected only after both sides have confirmed, over the new
 * channel, a signed statement naming both peer IDs, the session, both nonces
 * and both DTLS fingerprints taken from the signed SDPs. Before that no frame
 * other than the confirmation is accepted, and no data flows.
 */
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, verifyFrom, type Identity } from '../../shared/identity/signing.js';
import {
  CHANNEL_DEAD_AFTER_MS,
  CHANNEL_KEEPALIVE_MS,
  MAX_FRAMES_BEFORE_CONFIRMED,
  MEMBERSHIP_BURST,
  MEMBERSHIP_RATE,
  PEER_EXCHANGE_BURST,
  PEER_EXCHANGE_RATE,
  RELAY_BURST,
  RELAY_DROP_ALLOWANCE,
  RELAY_RATE,
  SESSION_NONCE_BYTES,
  SIGNAL_TTL_MS,
} from '../../shared/limits.js';
import {
  MAX_MESSAGE_ID,
  PING_FRAME,
  Reassembler,
  chunkFrames,
  confirmData,
  encodeConfirm,
  encodeMessageStart,
  parseChannelFrame,
  type BroadcastHeader,
  type ChannelFrame,
  type ConfirmBody,
  type ReceivedMessage,
} from '../../shared/protocol/channel.js';
import type { RelayFrame, WireMembership } from '../../shared/protocol/mesh.js';
import {
  encodeCandidateBody,
  parseCandidateBody,
  sdpFingerprint,
  signSignal,
  type SignalEnvelope,
  type SignalKind,
} from '../../shared/protocol/signal.js';
import { TokenBucket } from '../../shared/rate-limit.js';
import type { Transport, TransportEvents, TransportFactory, TransportSignal } from '../transport/transport.js';
import type { Via } from './paths.js';
import type { WarmTransport } from './warm-transport.js';

/** Time from the first signal to a confirmed channel before the attempt is abandoned. */
export const CONNECT_TIMEOUT_MS = 20_000;
/** Signals one attempt keeps for re-sending (an offer and its candidates are a handful). */
export const MAX_RESENT_SIGNALS = 32;
/**
 * How often a connected link re-reads its round-trip time from the transport
 * (getStats() walks every stats object, so not on every render of a page).
 */
export const LINK_STATS_INTERVAL_MS = 2_000;

export type LinkState = 'signaling' | 'confirming' | 'connected' | 'closed';

export interface LinkContext {
  readonly identity: Identity;
  readonly ed25519: Ed25519;
  readonly now: () => number;
  readonly iceServers: readonly RTCIceServer[];
  readonly transport: TransportFactory;
  /** Deliver a signed signal to `to` (through a server or the mesh). */
  sendSignal(to: PeerId, payload: string): void;
}

export interface LinkEvents {
  onConnected(link: PeerLink): void;
  onClosed(link: PeerLink, code: ErrorCode | undefined, reason: string): void;
  onMessage(link: PeerLink, message: ReceivedMessage): void;
  onRecords(link: PeerLink, records: readonly Uint8Array[]): void;
  /** A frame relayed through the mesh (within the neighbour's rate). */
  onRelay(link: PeerLink, frame: RelayFrame): void;
  /** A membership message from this neighbour (within its rate). */
  onMembership(link: PeerLink, message: WireMembership): void;
  /** A refusal worth counting and reporting (bad signal, violation, throttling). */
  onProblem(link: PeerLink, code: ErrorCode, message: string): void;
}

function randomNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES));
}

export class PeerLink {
  state: LinkState = 'signaling';
  readonly session: Uint8Array;
  private readonly localNonce: Uint8Array;
  private remoteNonce: Uint8Array | undefined;
  private localFingerprint: Uint8Array | undefined;
  private remoteFingerprint: Uint8Array | undefined;
  private seqOut = 0;
  private lastSeqIn = -1;
  /**
   * Our confirmation, signed as soon as both signed SDPs are known, so the
   * channel's opening does not wait on a signature.
   */
  private preparedConfirm: { readonly data: Uint8Array; readonly signature: Promise<Uint8Array> } | undefined;
  private confirmSent = false;
  /** The peer's confirmation has come (it may still be being checked). */
  private confirmArrived = false;
  /** The peer's confirmation has come and checked out. */
  private confirmReceived = false;
  /** Frames that came behind the peer's confirmation while it was checked (MAX_FRAMES_BEFORE_CONFIRMED). */
  private readonly heldUntilConfirmed: ChannelFrame[] = [];
  private readonly transport: Transport;
  private readonly reassembler = new Reassembler();
  private readonly recordsBucket: TokenBucket;
  private readonly relayBucket: TokenBucket;
  private readonly membershipBucket: TokenBucket;
  /** Relayed frames dropped over the rate; past RELAY_DROP_ALLOWANCE the neighbour is cut off. */
  private relayDrops = 0;
  private sendChain: Promise<void> = Promise.resolve();
  /** Outgoing signals are signed asynchronously; this keeps them in order (offer before candidates). */
  private signalChain: Promise<void> = Promise.resolve();
  /** What this side has signalled (offer or answer, candidates), for re-sending. */
  private readonly sentSignals: { readonly kind: SignalKind; readonly body: string }[] = [];
  /** Whether any authenticated signal of this session has come from the peer. */
  heard = false;
  /** The reason in the peer's bye, when it ended the attempt (GLARE: its own attempt goes on instead). */
  declined: string | undefined;
  private nextMessageId = 0;
  private readonly timer: ReturnType<typeof setTimeout>;
  /** When the link became connected (ms), for round-trip and uptime figures. */
  connectedAt: number | undefined;
  bytesSent = 0;
  bytesReceived = 0;
  /** Round-trip time (ms) last read from the transport while connected; undefined before. */
  rttMs: number | undefined;
  /** How this link's signals travelled when it was confirmed (set by the node). */
  via: Via['kind'] | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private measuring = false;
  private lastSent = 0;
  private lastReceived = 0;
  private keepalive: ReturnType<typeof setInterval> | undefined;

  private constructor(
    private readonly context: LinkContext,
    private readonly events: LinkEvents,
    readonly peer: PeerId,
    readonly initiator: boolean,
    session: Uint8Array,
    warm?: WarmTransport,
  ) {
    this.session = session;
    this.localNonce = initiator ? session : randomNonce();
    this.recordsBucket = new TokenBucket(PEER_EXCHANGE_RATE, PEER_EXCHANGE_BURST, context.now());
    this.relayBucket = new TokenBucket(RELAY_RATE, RELAY_BURST, context.now());
    this.membershipBucket = new TokenBucket(MEMBERSHIP_RATE, MEMBERSHIP_BURST, context.now());
    this.timer = setTimeout(() => {
      if (this.state !== 'connected') this.close(ErrorCode.CONNECT_FAILED, 'no confirmed channel in time');
    }, CONNECT_TIMEOUT_MS);
    const transportEvents: TransportEvents = {
      onSignal: (signal) => void this.sendTransportSignal(signal),
      onConnect: () => void this.confirm(),
      onData: (frame) => this.receiveFrame(frame),
      onClose: (reason) => this.close(undefined, reason ?? 'channel closed'),
    };
    this.transport =
      warm === undefined
        ? context.transport({ initiator, iceServers: context.iceServers }, transportEvents)
        : warm.adopt(transportEvents);
  }

  /** Start a connection attempt to `peer`, on a prepared transport if one is given. */
  static initiate(context: LinkContext, events: LinkEvents, peer: PeerId, warm?: WarmTransport): PeerLink {
    return new PeerLink(context, events, peer, true, randomNonce(), warm);
  }

  /** Answer an authenticated offer. Returns undefined (and reports why) when the offer is unusable. */
  static accept(
    context: LinkContext,
    events: LinkEvents,
    offer: SignalEnvelope,
  ): PeerLink | { code: ErrorCode; message: string } {
    const fingerprint = sdpFingerprint(offer.body);
    if (!fingerprint.ok) return { code: fingerprint.error.code, message: fingerprint.error.message };
    if (!bytesEqual(offer.nonce, offer.session))
      return { code: ErrorCode.BAD_FIELD, message: "offer nonce is not the session's" };
    const link = new PeerLink(context, events, offer.from, false, offer.session);
    link.remoteNonce = offer.nonce;
    link.remoteFingerprint = fingerprint.value;
    link.lastSeqIn = offer.seq;
    link.transport.signal({ type: 'offer', sdp: offer.body });
    return link;
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** An authenticated signal for this link's session. */
  handleSignal(envelope: SignalEnvelope): void {
    if (this.state === 'closed') return;
    if (envelope.seq <= this.lastSeqIn) {
      this.events.onProblem(this, ErrorCode.SIGNAL_REPLAYED, 'signal sequence number already seen');
      return;
    }
    if (this.remoteNonce !== undefined && !bytesEqual(envelope.nonce, this.remoteNonce)) {
      this.events.onProblem(this, ErrorCode.SIGNAL_MISADDRESSED, 'signal carries another nonce than its session');
      return;
    }
    this.lastSeqIn = envelope.seq;
    this.heard = true;
    switch (envelope.kind) {
      case 'answer': {
        const again = sdpFingerprint(envelope.body);
        // The answer again (see resendAll): already applied.
        if (
          this.initiator &&
          this.remoteFingerprint !== undefined &&
          again.ok &&
          bytesEqual(again.value, this.remoteFingerprint)
        )
          return;
        if (!this.initiator || this.remoteFingerprint !== undefined) {
          this.events.onProblem(this, ErrorCode.PROTOCOL_VIOLATION, 'unexpected answer');
          return;
        }
        const fingerprint = sdpFingerprint(envelope.body);
        if (!fingerprint.ok) {
          this.close(fingerprint.error.code, fingerprint.error.message);
          return;
        }
        this.remoteNonce = envelope.nonce;
        this.remoteFingerprint = fingerprint.value;
        this.transport.signal({ type: 'answer', sdp: envelope.body });
        this.prepareConfirm();
        break;
      }
      case 'candidate': {
        const candidate = parseCandidateBody(envelope.body);
        if (!candidate.ok) this.events.onProblem(this, candidate.error.code, candidate.error.message);
        else this.transport.signal({ type: 'candidate', candidate: candidate.value });
        break;
      }
      case 'bye':
        this.declined = envelope.body.slice(0, 64);
        this.close(ErrorCode.CONNECT_FAILED, `the peer ended the session (${this.declined})`, false);
        break;
      case 'offer':
        // The offer again, for a session under way: the initiator is missing
        // our answer or candidates (lost on a path through peers); send them again.
        if (!this.initiator) this.resendAll();
        break;
    }
  }

  private sendTransportSignal(signal: TransportSignal): Promise<void> {
    if (signal.type !== 'candidate') {
      const fingerprint = sdpFingerprint(signal.sdp);
      if (!fingerprint.ok) {
        this.close(fingerprint.error.code, `our own SDP: ${fingerprint.error.message}`);
        return Promise.resolve();
      }
      this.localFingerprint = fingerprint.value;
      this.prepareConfirm();
    }
    const body = signal.type === 'candidate' ? encodeCandidateBody(signal.candidate) : signal.sdp;
    if (this.sentSignals.length < MAX_RESENT_SIGNALS) this.sentSignals.push({ kind: signal.type, body });
    return this.sendEnvelope(signal.type, body);
  }

  /**
   * Send this attempt's offer and candidates again (fresh sequence numbers).
   * For an attempt that has heard nothing: its signals may have gone to an
   * instance of the peer that has since left (a reloaded tab), while the new
   * instance dialled us. A peer that did get them sees a harmless repeat.
   */
  resend(): void {
    if (!this.heard) this.resendAll();
  }

  /**
   * Send everything this side has signalled again, heard or not: after a
   * change of path (a signal lost on the way through peers), or because the
   * peer sent its offer again, which means it is missing something of ours.
   */
  resendAll(): void {
    if (this.state !== 'signaling') return;
    for (const { kind, body } of this.sentSignals) void this.sendEnvelope(kind, body).catch(() => undefined);
  }

  /** Sign and send one signal of this session, after those before it. */
  sendEnvelope(kind: SignalKind, body: string): Promise<void> {
    const seq = this.seqOut++;
    const job = this.signalChain.then(async () => {
      const payload = await signSignal(this.context.identity, {
        to: this.peer,
        session: this.session,
        nonce: this.localNonce,
        seq,
        kind,
        expiresAt: this.context.now() + SIGNAL_TTL_MS,
        body,
      });
      this.context.sendSignal(this.peer, payload);
    });
    this.signalChain = job.catch(() => undefined);
    return job;
  }

  private expectedConfirm(from: PeerId, to: PeerId): ConfirmBody | undefined {
    if (this.remoteNonce === undefined || this.localFingerprint === undefined || this.remoteFingerprint === undefined) {
      return undefined;
    }
    const [initiatorNonce, responderNonce] = this.initiator
      ? [this.localNonce, this.remoteNonce]
      : [this.remoteNonce, this.localNonce];
    const [initiatorFingerprint, responderFingerprint] = this.initiator
      ? [this.localFingerprint, this.remoteFingerprint]
      : [this.remoteFingerprint, this.localFingerprint];
    return {
      from,
      to,
      session: this.session,
      initiatorNonce,
      responderNonce,
      initiatorFingerprint,
      responderFingerprint,
    };
  }

  /** Sign our confirmation once everything it names is known (see {@link confirm}). */
  private prepareConfirm(): void {
    if (this.preparedConfirm !== undefined) return;
    const body = this.expectedConfirm(this.context.identity.id, this.peer);
    if (body === undefined) return;
    const data = confirmData(body);
    const signature = this.context.identity.sign(Purpose.CONFIRM, data);
    // A failure surfaces where it is awaited, in confirm().
    signature.catch(() => undefined);
    this.preparedConfirm = { data, signature };
  }

  private async confirm(): Promise<void> {
    if (this.state !== 'signaling') return;
    this.state = 'confirming';
    const body = this.expectedConfirm(this.context.identity.id, this.peer);
    if (body === undefined) {
      this.close(ErrorCode.CONFIRM_FAILED, 'channel opened before both signed SDPs were known');
      return;
    }
    const data = confirmData(body);
    const prepared = this.preparedConfirm;
    const signature = await (prepared !== undefined && bytesEqual(prepared.data, data)
      ? prepared.signature
      : this.context.identity.sign(Purpose.CONFIRM, data));
    if (this.isClosed) return;
    await this.transport.send(encodeConfirm(body, signature)).catch(() => undefined);
    this.confirmSent = true;
    this.maybeConnected();
  }

  private async checkConfirm(data: Uint8Array, body: ConfirmBody, signature: Uint8Array): Promise<void> {
    const expected = this.expectedConfirm(this.peer, this.context.identity.id);
    const same =
      expected !== undefined &&
      body.from === expected.from &&
      body.to === expected.to &&
      bytesEqual(body.session, expected.session) &&
      bytesEqual(body.initiatorNonce, expected.initiatorNonce) &&
      bytesEqual(body.responderNonce, expected.responderNonce) &&
      bytesEqual(body.initiatorFingerprint, expected.initiatorFingerprint) &&
      bytesEqual(body.responderFingerprint, expected.responderFingerprint);
    if (!same) {
      this.close(ErrorCode.CONFIRM_FAILED, 'confirmation names other keys, nonces or fingerprints');
      return;
    }
    if (!(await verifyFrom(this.context.ed25519, this.peer, Purpose.CONFIRM, data, signature))) {
      this.close(ErrorCode.CONFIRM_FAILED, 'confirmation signature does not verify');
      return;
    }
    this.confirmReceived = true;
    this.maybeConnected();
  }

  private maybeConnected(): void {
    if (this.state === 'closed' || !this.confirmSent || !this.confirmReceived) return;
    this.state = 'connected';
    this.connectedAt = this.context.now();
    this.lastReceived = this.connectedAt;
    this.lastSent = this.connectedAt;
    clearTimeout(this.timer);
    // A peer whose tab died without closing the channel is noticed here,
    // rather than holding a connection slot until ICE consent expires.
    this.keepalive = setInterval(() => {
      const now = this.context.now();
      if (now - this.lastReceived > CHANNEL_DEAD_AFTER_MS) {
        this.close(ErrorCode.HEARTBEAT_TIMEOUT, 'the peer went silent');
      } else if (now - this.lastSent >= CHANNEL_KEEPALIVE_MS) {
        void this.sendFrame(PING_FRAME).catch(() => undefined);
      }
    }, CHANNEL_KEEPALIVE_MS / 2);
    this.measure();
    this.statsTimer = setInterval(() => this.measure(), LINK_STATS_INTERVAL_MS);
    this.events.onConnected(this);
    for (const frame of this.heldUntilConfirmed.splice(0)) {
      if (this.isClosed) break;
      this.handleFrame(frame);
    }
  }

  /** Read the round-trip time from the transport, one reading at a time. */
  private measure(): void {
    if (this.measuring || this.state !== 'connected' || this.transport.stats === undefined) return;
    this.measuring = true;
    this.transport
      .stats()
      .then(
        (stats) => {
          if (stats.rttMs !== undefined && this.state === 'connected') this.rttMs = stats.rttMs;
        },
        // A connection closing under the reading has no figures: the last one stands.
        () => undefined,
      )
      .finally(() => {
        this.measuring = false;
      });
  }

  private receiveFrame(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    this.bytesReceived += frame.length;
    this.lastReceived = this.context.now();
    const parsed = parseChannelFrame(frame);
    if (!parsed.ok) {
      this.violation(parsed.error.message);
      return;
    }
    const value = parsed.value;
    if (this.state !== 'connected') {
      if (value.type === 'confirm' && !this.confirmArrived) {
        this.confirmArrived = true;
        void this.checkConfirm(value.data, value.body, value.signature);
      } else if (!this.confirmArrived) {
        this.violation('data before the channel was confirmed');
      } else if (this.heldUntilConfirmed.length >= MAX_FRAMES_BEFORE_CONFIRMED) {
        this.violation('too many frames while the channel was being confirmed');
      } else {
        // The peer has checked our confirmation and counts the channel as
        // connected; its frames wait for our check of its confirmation.
        this.heldUntilConfirmed.push(value);
      }
      return;
    }
    this.handleFrame(value);
  }

  private handleFrame(value: ChannelFrame): void {
    switch (value.type) {
      case 'confirm':
        this.violation('second confirmation');
        return;
      case 'ping':
        return;
      case 'records':
        if (!this.recordsBucket.take(this.context.now())) {
          this.events.onProblem(this, ErrorCode.RATE_LIMITED, 'peer exchange over its rate; dropped');
          return;
        }
        this.events.onRecords(this, value.records);
        return;
      case 'relay':
        if (!this.relayBucket.take(this.context.now())) {
          if (++this.relayDrops > RELAY_DROP_ALLOWANCE) {
            this.close(ErrorCode.FLOODING, 'relayed frames far over their rate');
            return;
          }
          this.events.onProblem(this, ErrorCode.RATE_LIMITED, 'relayed frame over its rate; dropped');
          return;
        }
        this.events.onRelay(this, value);
        return;
      case 'membership':
        if (!this.membershipBucket.take(this.context.now())) {
          this.close(ErrorCode.FLOODING, 'membership messages over their rate');
          return;
        }
        this.events.onMembership(this, value.message);
        return;
      case 'start':
      case 'chunk': {
        const result = this.reassembler.accept(value);
        if (!result.ok) this.violation(result.error.message);
        else if (result.value !== undefined) this.events.onMessage(this, result.value);
        return;
      }
    }
  }

  private violation(message: string): void {
    this.close(ErrorCode.PROTOCOL_VIOLATION, message);
  }

  /**
   * Send a frame after those already queued, respecting backpressure. Only
   * on a confirmed channel: a link that replaced a confirmed one (the peer
   * started a new session) is not confirmed yet, and a frame there before
   * its confirmation would be a protocol violation to the peer.
   */
  sendFrame(frame: Uint8Array): Promise<void> {
    const next = this.sendChain.then(() => {
      if (this.state !== 'connected') throw new Error('link not connected');
      this.bytesSent += frame.length;
      this.lastSent = this.context.now();
      return this.transport.send(frame);
    });
    this.sendChain = next.catch(() => undefined);
    return next;
  }

  /** Send a whole message (chunked); resolves when the last chunk is queued on the channel. */
  sendMessage(binary: boolean, payload: Uint8Array, broadcast?: BroadcastHeader): Promise<void> {
    const id = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId + 1) % MAX_MESSAGE_ID;
    const job = this.sendChain.then(async () => {
      if (this.state !== 'connected') throw new Error('link not connected');
      const start = encodeMessageStart({
        id,
        binary,
        length: payload.length,
        ...(broadcast === undefined ? {} : { broadcast }),
      });
      this.bytesSent += start.length;
      this.lastSent = this.context.now();
      await this.transport.send(start);
      for (const chunk of chunkFrames(id, payload)) {
        this.bytesSent += chunk.length;
        this.lastSent = this.context.now();
        await this.transport.send(chunk);
      }
    });
    this.sendChain = job.catch(() => undefined);
    return job;
  }

  /** Close the link once the frames already queued have gone (a last message before leaving). */
  closeWhenSent(reason: string): void {
    void this.sendChain.then(() => this.close(undefined, reason));
  }

  /** Close the link; tells the peer with a signed bye while still signaling, if `notify`. */
  close(code: ErrorCode | undefined, reason: string, notify = true): void {
    if (this.state === 'closed') return;
    const wasSignaling = this.state === 'signaling';
    this.state = 'closed';
    clearTimeout(this.timer);
    clearInterval(this.keepalive);
    clearInterval(this.statsTimer);
    this.heldUntilConfirmed.length = 0;
    if (notify && wasSignaling) void this.sendEnvelope('bye', code ?? 'closed').catch(() => undefined);
    this.transport.close();
    this.events.onClosed(this, code, reason);
  }
}
