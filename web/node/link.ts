/**
 * One connection to one peer, from the first signal to close. The link
 * counts as connected only after both sides have confirmed, over the new
 * channel, a signed statement naming both peer IDs, the session, both nonces
 * and both DTLS fingerprints taken from the signed SDPs (see
 * confirmation.ts). Before that no frame other than the confirmation is
 * accepted, and no data flows.
 */
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode, TabmeshError, fail, ok, unlessGone, type Result } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import { CHANNEL_DEAD_AFTER_MS, CHANNEL_KEEPALIVE_MS, SESSION_NONCE_BYTES } from '../../shared/limits.js';
import {
  PING_FRAME,
  Reassembler,
  parseChannelFrame,
  type BroadcastHeader,
  type ChannelFrame,
  type ReceivedMessage,
} from '../../shared/protocol/channel.js';
import type { RelayFrame, WireMembership } from '../../shared/protocol/mesh.js';
import {
  encodeCandidateBody,
  parseCandidateBody,
  sdpFingerprint,
  type SignalEnvelope,
} from '../../shared/protocol/signal.js';
import type { PathTypes } from '../transport/stats.js';
import type { Transport, TransportEvents, TransportFactory, TransportSignal } from '../transport/transport.js';
import { ChannelConfirmation } from './confirmation.js';
import { OfferedTypes } from './ice-paths.js';
import { LinkReadings } from './link-readings.js';
import { newLimitCounters, type LimitCounters } from './options.js';
import { DEFAULT_LINK_LIMITS, LinkRates, type LinkLimits } from './link-limits.js';
import { SendQueue } from './send-queue.js';
import { SessionSignals } from './session-signals.js';
import type { Via } from './paths.js';
import type { WarmTransport } from './warm-transport.js';

/** Time from the first signal to a confirmed channel before the attempt is abandoned. */
export const CONNECT_TIMEOUT_MS = 20_000;
export { LINK_STATS_INTERVAL_MS } from './link-readings.js';

export type LinkState = 'signaling' | 'confirming' | 'connected' | 'closed';

export interface LinkContext {
  readonly identity: Identity;
  readonly ed25519: Ed25519;
  readonly now: () => number;
  readonly iceServers: readonly RTCIceServer[];
  readonly transport: TransportFactory;
  /** Deliver a signed signal to `to` (through a server or the mesh). */
  sendSignal(to: PeerId, payload: string): void;
  /** How signals to `peer` travel now; read when the link becomes connected. */
  viaOf(peer: PeerId): Via['kind'] | undefined;
  /** The node's tally of what its limits refused; a link of its own when left out. */
  readonly tally?: LimitCounters;
  /** Default DEFAULT_LINK_LIMITS. */
  readonly limits?: LinkLimits;
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
  /** A refusal worth counting and reporting (bad signal, violation, throttling, a send of ours that failed). */
  onProblem(link: PeerLink, code: ErrorCode, message: string): void;
}

function randomNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES));
}

export class PeerLink {
  readonly session: Uint8Array;
  #state: LinkState = 'signaling';
  #heard = false;
  #declined: string | undefined;
  #connectedAt: number | undefined;
  #bytesSent = 0;
  #bytesReceived = 0;
  #via: Via['kind'] | undefined;
  private readonly localNonce: Uint8Array;
  private readonly confirmation: ChannelConfirmation;
  private readonly signals: SessionSignals;
  private lastSeqIn = -1;
  private readonly transport: Transport;
  private readonly limits: LinkLimits;
  private readonly tally: LimitCounters;
  private readonly reassembler: Reassembler;
  private readonly rates: LinkRates;
  private readonly sends: SendQueue;
  private readonly timer: ReturnType<typeof setTimeout>;
  /** The transport's figures, read once the channel is confirmed. */
  private readings: LinkReadings | undefined;
  /** The candidate types each side offered, for a failure's diagnosis. */
  private readonly offered = new OfferedTypes();
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
    this.signals = new SessionSignals({
      identity: context.identity,
      peer,
      session,
      nonce: this.localNonce,
      now: context.now,
      deliver: (payload) => context.sendSignal(peer, payload),
    });
    this.confirmation = new ChannelConfirmation(
      { identity: context.identity, ed25519: context.ed25519, peer, initiator, session, localNonce: this.localNonce },
      {
        // A refusal means the channel is closing; its close ends the link.
        send: (frame) => this.transport.send(frame).catch(this.reportFailure(ErrorCode.NOT_CONNECTED, 'confirmation')),
        confirmed: (held) => this.connected(held),
        failed: (code, message) => this.close(code, message),
      },
    );
    this.limits = context.limits ?? DEFAULT_LINK_LIMITS;
    this.tally = context.tally ?? newLimitCounters();
    this.reassembler = new Reassembler(this.limits.reassembly);
    this.rates = new LinkRates(context.now(), this.limits);
    this.sends = new SendQueue(
      { connected: () => this.#state === 'connected', transmit: (frame) => this.transmit(frame) },
      this.limits.forwardQueueBytes,
      this.tally,
    );
    this.timer = setTimeout(() => {
      if (this.#state !== 'connected')
        this.close(...this.unopened(ErrorCode.CONNECT_FAILED, 'no confirmed channel in time'));
    }, CONNECT_TIMEOUT_MS);
    const transportEvents: TransportEvents = {
      onSignal: (signal) => this.sendTransportSignal(signal),
      onConnect: () => this.channelOpened(),
      onData: (frame) => this.receiveFrame(frame),
      onClose: (reason) => this.close(...this.unopened(undefined, reason ?? 'channel closed')),
    };
    if (warm === undefined) {
      this.transport = context.transport({ initiator, iceServers: context.iceServers }, transportEvents);
    } else {
      // Held before adopting: what the prepared transport held (a close, say) may call back into it.
      this.transport = warm.transport;
      warm.adopt(transportEvents);
    }
  }

  /** Start a connection attempt to `peer`, on a prepared transport if one is given. */
  static initiate(context: LinkContext, events: LinkEvents, peer: PeerId, warm?: WarmTransport): PeerLink {
    return new PeerLink(context, events, peer, true, randomNonce(), warm);
  }

  /** Answer an authenticated offer; fails (with the reason to report and decline with) when the offer is unusable. */
  static accept(context: LinkContext, events: LinkEvents, offer: SignalEnvelope): Result<PeerLink> {
    const fingerprint = sdpFingerprint(offer.body);
    if (!fingerprint.ok) return fail(fingerprint.error.code, fingerprint.error.message);
    if (!bytesEqual(offer.nonce, offer.session)) return fail(ErrorCode.BAD_FIELD, "offer nonce is not the session's");
    const link = new PeerLink(context, events, offer.from, false, offer.session);
    link.confirmation.learnRemote(offer.nonce, fingerprint.value);
    link.lastSeqIn = offer.seq;
    link.offered.noteSdp('remote', offer.body);
    link.transport.signal({ type: 'offer', sdp: offer.body });
    return ok(link);
  }

  get state(): LinkState {
    return this.#state;
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Whether any authenticated signal of this session has come from the peer. */
  get heard(): boolean {
    return this.#heard;
  }

  /** The reason in the peer's bye, when it ended the attempt (GLARE: its own attempt goes on instead). */
  get declined(): string | undefined {
    return this.#declined;
  }

  /** When the link became connected (ms), for round-trip and uptime figures. */
  get connectedAt(): number | undefined {
    return this.#connectedAt;
  }

  get bytesSent(): number {
    return this.#bytesSent;
  }

  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Payload bytes of messages queued on the channel and not yet sent. */
  get queuedBytes(): number {
    return this.sends.queuedBytes;
  }

  /** Round-trip time (ms) last read from the transport while connected; undefined before. */
  get rttMs(): number | undefined {
    return this.readings?.rttMs;
  }

  /** The selected candidate pair's types, last read with the round-trip time; undefined before. */
  get path(): PathTypes | undefined {
    return this.readings?.path;
  }

  /** How this link's signals travelled when it was confirmed (LinkContext.viaOf at that moment). */
  get via(): Via['kind'] | undefined {
    return this.#via;
  }

  /** An authenticated signal for this link's session. */
  handleSignal(envelope: SignalEnvelope): void {
    if (this.#state === 'closed') return;
    if (envelope.seq <= this.lastSeqIn) {
      this.events.onProblem(this, ErrorCode.SIGNAL_REPLAYED, 'signal sequence number already seen');
      return;
    }
    const remoteNonce = this.confirmation.remoteNonce;
    if (remoteNonce !== undefined && !bytesEqual(envelope.nonce, remoteNonce)) {
      this.events.onProblem(this, ErrorCode.SIGNAL_MISADDRESSED, 'signal carries another nonce than its session');
      return;
    }
    this.lastSeqIn = envelope.seq;
    this.#heard = true;
    switch (envelope.kind) {
      case 'answer': {
        const fingerprint = sdpFingerprint(envelope.body);
        const known = this.confirmation.remoteFingerprint;
        // The answer again (see resendAll): already applied.
        if (this.initiator && known !== undefined && fingerprint.ok && bytesEqual(fingerprint.value, known)) return;
        if (!this.initiator || known !== undefined) {
          this.events.onProblem(this, ErrorCode.PROTOCOL_VIOLATION, 'unexpected answer');
          return;
        }
        if (!fingerprint.ok) {
          this.close(fingerprint.error.code, fingerprint.error.message);
          return;
        }
        // To the transport first: our confirmation is signed meanwhile, as learnRemote starts it.
        this.offered.noteSdp('remote', envelope.body);
        this.transport.signal({ type: 'answer', sdp: envelope.body });
        this.confirmation.learnRemote(envelope.nonce, fingerprint.value);
        break;
      }
      case 'candidate': {
        const candidate = parseCandidateBody(envelope.body);
        if (!candidate.ok) this.events.onProblem(this, candidate.error.code, candidate.error.message);
        else {
          this.offered.noteCandidate('remote', candidate.value.candidate);
          this.transport.signal({ type: 'candidate', candidate: candidate.value });
        }
        break;
      }
      case 'bye':
        this.#declined = envelope.body.slice(0, 64);
        // The peer's ICE gave up first, with the same candidates ours has: its diagnosis is ours.
        if (this.#declined === ErrorCode.RELAY_NEEDED && this.#state === 'signaling') {
          this.close(
            ErrorCode.RELAY_NEEDED,
            'the peer found no direct path between the two networks: a TURN relay is needed',
            false,
          );
        } else {
          this.close(ErrorCode.CONNECT_FAILED, `the peer ended the session (${this.#declined})`, false);
        }
        break;
      case 'offer':
        // The offer again, for a session under way: the initiator is missing
        // our answer or candidates (lost on a path through peers); send them again.
        if (!this.initiator) this.resendAll();
        break;
    }
  }

  private sendTransportSignal(signal: TransportSignal): void {
    if (signal.type !== 'candidate') {
      const fingerprint = sdpFingerprint(signal.sdp);
      if (!fingerprint.ok) {
        this.close(fingerprint.error.code, `our own SDP: ${fingerprint.error.message}`);
        return;
      }
      this.confirmation.learnLocal(fingerprint.value);
      this.offered.noteSdp('local', signal.sdp);
    } else {
      this.offered.noteCandidate('local', signal.candidate.candidate);
    }
    const body = signal.type === 'candidate' ? encodeCandidateBody(signal.candidate) : signal.sdp;
    this.signals.send(signal.type, body).catch(this.reportFailure(ErrorCode.CONNECT_FAILED, 'signal'));
  }

  /**
   * Send this attempt's offer and candidates again (fresh sequence numbers).
   * For an attempt that has heard nothing: its signals may have gone to an
   * instance of the peer that has since left (a reloaded tab), while the new
   * instance dialled us. A peer that did get them sees a harmless repeat.
   */
  resend(): void {
    if (!this.#heard) this.resendAll();
  }

  /**
   * Send everything this side has signalled again, heard or not: after a
   * change of path (a signal lost on the way through peers), or because the
   * peer sent its offer again, which means it is missing something of ours.
   */
  resendAll(): void {
    if (this.#state !== 'signaling') return;
    this.signals.resendAll(this.reportFailure(ErrorCode.CONNECT_FAILED, 'repeated signal'));
  }

  private channelOpened(): void {
    if (this.#state !== 'signaling') return;
    this.#state = 'confirming';
    // Does not reject: a failure to sign or check ends in the port's failed().
    void this.confirmation.start();
  }

  /** Both confirmations are done: the channel counts. */
  private connected(held: readonly ChannelFrame[]): void {
    if (this.#state === 'closed') return;
    this.#state = 'connected';
    this.#connectedAt = this.context.now();
    this.lastReceived = this.#connectedAt;
    this.lastSent = this.#connectedAt;
    clearTimeout(this.timer);
    // A peer whose tab died without closing the channel is noticed here,
    // rather than holding a connection slot until ICE consent expires.
    const report = this.reportFailure(ErrorCode.NOT_CONNECTED, 'keepalive');
    this.keepalive = setInterval(() => {
      const now = this.context.now();
      if (now - this.lastReceived > CHANNEL_DEAD_AFTER_MS) {
        this.close(ErrorCode.HEARTBEAT_TIMEOUT, 'the peer went silent');
      } else if (this.reassembler.stalled(now)) {
        this.tally.partialMessages++;
        this.violation('a message in progress stalled');
      } else if (now - this.lastSent >= CHANNEL_KEEPALIVE_MS) {
        this.sendFrame(PING_FRAME).catch(report);
      }
    }, CHANNEL_KEEPALIVE_MS / 2);
    this.readings = new LinkReadings(this.transport, () => this.#state === 'connected');
    this.readings.start();
    // The path of the attempt's last signals (a fallback may have moved it to the server).
    this.#via = this.context.viaOf(this.peer);
    this.events.onConnected(this);
    for (const frame of held) {
      if (this.isClosed) break;
      this.handleFrame(frame);
    }
  }

  /** Read the round-trip time and the path from the transport now (while connected). */
  measure(): Promise<void> {
    return this.readings?.read() ?? Promise.resolve();
  }

  /**
   * The code and reason to close with when the channel never opened: when
   * both descriptions were exchanged and ICE never found a working pair, what
   * the candidates say was missing (a relay, most often); otherwise as given.
   */
  private unopened(code: ErrorCode | undefined, reason: string): [ErrorCode | undefined, string] {
    if (this.#state !== 'signaling' || this.confirmation.remoteFingerprint === undefined) return [code, reason];
    if (this.transport.pathFound?.() !== false) return [code, reason];
    const diagnosis = this.offered.diagnose();
    return [diagnosis.code, `${diagnosis.message} (${reason})`];
  }

  private receiveFrame(frame: Uint8Array): void {
    if (this.#state === 'closed') return;
    this.#bytesReceived += frame.length;
    this.lastReceived = this.context.now();
    const parsed = parseChannelFrame(frame);
    if (!parsed.ok) this.violation(parsed.error.message);
    else if (this.#state === 'connected') this.handleFrame(parsed.value);
    else this.confirmation.receive(parsed.value);
  }

  private handleFrame(value: ChannelFrame): void {
    switch (value.type) {
      case 'confirm':
        this.violation('second confirmation');
        return;
      case 'ping':
        return;
      case 'records':
        if (this.rates.record(this.context.now())) this.events.onRecords(this, value.records);
        else this.events.onProblem(this, ErrorCode.RATE_LIMITED, 'peer exchange over its rate; dropped');
        return;
      case 'relay':
        this.relay(value);
        return;
      case 'membership':
        if (this.rates.member(this.context.now())) this.events.onMembership(this, value.message);
        else this.flooding('membership messages over their rate');
        return;
      case 'start':
      case 'chunk': {
        const result = this.reassembler.accept(value, this.context.now());
        if (!result.ok) {
          if (value.type === 'start') this.tally.partialMessages++;
          this.violation(result.error.message);
        } else if (result.value !== undefined) this.events.onMessage(this, result.value);
        return;
      }
    }
  }

  /** A relayed frame, within the neighbour's budgets (see relay-budget.ts); a frame not for us must be passed on. */
  private relay(frame: RelayFrame): void {
    switch (this.rates.relayed(this.context.now(), frame.to !== this.context.identity.id)) {
      case 'accept':
        this.events.onRelay(this, frame);
        return;
      case 'over-rate':
        this.tally.relayOverRate++;
        this.events.onProblem(this, ErrorCode.RATE_LIMITED, 'relayed frame over its rate; dropped');
        return;
      case 'over-pass':
        this.tally.relayOverPass++;
        this.events.onProblem(this, ErrorCode.RATE_LIMITED, 'relayed frame to pass on over its budget; dropped');
        return;
      case 'flooding':
        this.flooding('relayed frames far over their budgets');
        return;
    }
  }

  private violation(message: string): void {
    this.close(ErrorCode.PROTOCOL_VIOLATION, message);
  }

  private flooding(message: string): void {
    this.close(ErrorCode.FLOODING, message);
  }

  /**
   * The handler for the link's own sends that nobody awaits: failing because
   * the link went away meanwhile is dropped (see unlessGone); anything else is
   * reported, under its own code if it has one, else under `code`.
   */
  private reportFailure(code: ErrorCode, what: string): (error: unknown) => void {
    return unlessGone((error) => {
      const detail = error instanceof Error ? error.message : String(error);
      this.events.onProblem(this, error instanceof TabmeshError ? error.code : code, `${what} not sent: ${detail}`);
    });
  }

  /**
   * Send a frame after those already queued, respecting backpressure. Only
   * on a confirmed channel: a link that replaced a confirmed one (the peer
   * started a new session) is not confirmed yet, and a frame there before
   * its confirmation would be a protocol violation to the peer.
   */
  sendFrame(frame: Uint8Array): Promise<void> {
    return this.sends.frame(frame);
  }

  /** Send a whole message (chunked); resolves when the last chunk is queued on the channel. */
  sendMessage(binary: boolean, payload: Uint8Array, broadcast?: BroadcastHeader): Promise<void> {
    return this.sends.message(binary, payload, broadcast);
  }

  /** Queue a broadcast copy we pass on, unless the channel's queue is full (see SendQueue.forward); undefined when not queued. */
  forwardMessage(binary: boolean, payload: Uint8Array, broadcast: BroadcastHeader): Promise<void> | undefined {
    return this.sends.forward(binary, payload, broadcast);
  }

  private transmit(frame: Uint8Array): Promise<void> {
    this.#bytesSent += frame.length;
    this.lastSent = this.context.now();
    return this.transport.send(frame);
  }

  /** Close the link once the frames already queued have gone (a last message before leaving). */
  closeWhenSent(reason: string): void {
    void this.sends.drained().then(() => this.close(undefined, reason));
  }

  /** Close the link; tells the peer with a signed bye while still signaling, if `notify`. */
  close(code: ErrorCode | undefined, reason: string, notify = true): void {
    if (this.#state === 'closed') return;
    const wasSignaling = this.#state === 'signaling';
    this.#state = 'closed';
    clearTimeout(this.timer);
    clearInterval(this.keepalive);
    this.readings?.stop();
    this.confirmation.stop();
    if (notify && wasSignaling) {
      this.signals.sendOnce('bye', code ?? 'closed').catch(this.reportFailure(ErrorCode.CONNECT_FAILED, 'bye'));
    }
    this.transport.close();
    this.events.onClosed(this, code, reason);
  }
}
