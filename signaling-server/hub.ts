/**
 * The heart of the server: what each parsed client message does.
 * Registration by challenge and response, relay with the sender stamped from
 * the authenticated session, bootstrap samples, record updates, rate limits.
 * HTTP and admission live in server.ts; this file sees only open WebSockets.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ErrorCode, type TabmeshError } from '../shared/errors.js';
import type { Ed25519 } from '../shared/identity/ed25519.js';
import { parsePeerId, type PeerId } from '../shared/identity/peer-id.js';
import {
  CHALLENGE_NONCE_BYTES,
  MAX_HELD_DURING_REGISTRATION,
  MAX_SIGNAL_PAYLOAD_CHARS,
  MAX_SIGNALING_FRAME_BYTES,
} from '../shared/limits.js';
import { CloseCode, registrationCloseCode } from '../shared/protocol/close-codes.js';
import {
  encodeServerMessage,
  encodeSignalDelivery,
  parseClientMessage,
  type RecordUpdate,
  type RegisterMessage,
  type ClientMessage,
  type ServerLimits,
  type ServerMessage,
  type SignalRequest,
} from '../shared/protocol/signaling.js';
import { verifyRecord } from '../shared/records.js';
import { deliverySender } from './cluster-wire.js';
import type { Federation, FederationHost } from './federation.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { TickBatch, type OutboxLimits } from './outbox.js';
import { RateGate } from './rate-gate.js';
import { readSignalFrame, spliceDelivery } from './relay-frame.js';
import { checkRegistration } from './registration.js';
import { Registry } from './registry.js';
import type { ReplyCreditLimits } from './reply-credit.js';
import { Session, SessionState, type SessionLimits } from './session.js';
import { sessionSocketClass, type SessionSocket, type SocketEvents } from './session-socket.js';
import { mintTurnCredentials, type TurnConfig } from './turn.js';

export interface HubConfig {
  readonly serverName: string;
  readonly rate: number;
  readonly burst: number;
  readonly floodAllowance: number;
  readonly sampleSize: number;
  readonly registrationTimeoutMs: number;
  readonly maxFrameBytes: number;
  /** The send budget and relay quotas of every connection. */
  readonly outbox: OutboxLimits;
  /** Answers paid for by the signals they answer (reply-credit.ts). */
  readonly credit: ReplyCreditLimits;
  /** TURN credentials to hand out, or undefined for none. */
  readonly turn: TurnConfig | undefined;
}

export interface HubDeps {
  readonly ed25519: Ed25519;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly now: () => number;
  readonly random: () => number;
  /** Peers held by other instances (LOCAL_ONLY without Redis). */
  readonly federation: Federation;
  /** A session's socket closed (after the hub has forgotten it): frees what admission counted for it. */
  readonly closed: (session: Session) => void;
}

/**
 * Challenge nonces drawn from the CSPRNG in one call: one call per challenge
 * cost ~2% of an admission's CPU. 256 × 16 bytes, each handed out once.
 */
export const NONCES_PER_DRAW = 256;

/** Bytes of random payload in each heartbeat ping: unguessable, so only a client that read the ping can answer it. */
const PING_PAYLOAD_BYTES = 16;

export class Hub implements FederationHost {
  readonly registry: Registry<Session>;
  readonly sessions = new Set<Session>();
  /** Sessions still registering, swept for the registration timeout. */
  private readonly pending = new Set<Session>();
  private readonly limits: ServerLimits;
  private readonly sessionLimits: SessionLimits;
  private readonly batch = new TickBatch();
  /** Random bytes for the next challenges' nonces, and how many of them are spent. */
  private nonces = Buffer.alloc(0);
  private nonceAt = 0;
  private readonly gate: RateGate;

  constructor(
    private readonly config: HubConfig,
    private readonly deps: HubDeps,
  ) {
    this.registry = new Registry<Session>(deps.random);
    this.limits = {
      maxFrameBytes: config.maxFrameBytes,
      maxPayloadChars: MAX_SIGNAL_PAYLOAD_CHARS,
      rate: config.rate,
      burst: config.burst,
    };
    this.sessionLimits = { rate: config.rate, burst: config.burst, outbox: config.outbox, credit: config.credit };
    this.gate = new RateGate(config, deps, {
      error: (session, code, message, ref) => this.error(session, code, message, ref),
      refuse: (session, code, message, closeCode) => this.refuse(session, code, message, closeCode),
    });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** What every socket's events do: one object for all of them (session-socket.ts), no closures per connection. */
  readonly socketEvents: SocketEvents = {
    message: (session, data, isBinary) => this.receive(session, data, isBinary),
    pong: (session, payload) => session.liveness.ponged(payload),
    error: (session, error) => {
      // ws reports protocol errors (oversize frames, bad UTF-8) here before closing.
      const code = (error as { code?: string } | undefined)?.code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.deps.metrics.refused(ErrorCode.FRAME_TOO_LARGE);
      else this.deps.metrics.refused(ErrorCode.BAD_FRAME);
      this.deps.logger.debug({ address: session.address, code }, 'socket error');
    },
    close: (session) => {
      this.drop(session);
      this.deps.closed(session);
    },
  };

  /** The class the WebSocket server makes its sockets with: their events come to `socketEvents`. */
  readonly socketClass = sessionSocketClass(this.socketEvents);

  /** A new socket (made by `socketClass`): make its session and send the challenge. */
  open(
    socket: SessionSocket,
    tcp: Duplex,
    address: string,
    network: string | undefined,
    /** STUN URLs the challenge tells the tab of (stun/urls.ts). */
    stun?: readonly string[],
  ): Session {
    const now = this.deps.now();
    const nonce = this.nextNonce();
    const deadline = now + this.config.registrationTimeoutMs;
    const session = new Session(socket, tcp, address, network, deadline, nonce, this.sessionLimits, now);
    this.sessions.add(session);
    this.pending.add(session);
    socket.session = session;
    const challenge = {
      type: 'challenge',
      nonce,
      server: this.config.serverName,
      now,
      expires: deadline,
      // Tells a tab to wait for the welcome's credentials before it dials.
      ...(this.config.turn === undefined ? {} : { turn: true }),
      ...(stun === undefined ? {} : { stun }),
    } as const;
    // With the network known up front, the tab can choose whom to dial while it registers.
    if (network === undefined) {
      this.send(session, challenge);
    } else {
      void this.deps.federation.sample(network, this.config.sampleSize, undefined).then((federated) => {
        if (session.state !== SessionState.Pending) return;
        this.send(session, {
          ...challenge,
          peers: this.sampleOr(federated, network, this.config.sampleSize, undefined),
        });
      });
    }
    return session;
  }

  /** A fresh challenge nonce (its own copy), from the CSPRNG's bytes drawn NONCES_PER_DRAW at a time. */
  private nextNonce(): Uint8Array {
    if (this.nonceAt + CHALLENGE_NONCE_BYTES > this.nonces.length) {
      this.nonces = randomBytes(CHALLENGE_NONCE_BYTES * NONCES_PER_DRAW);
      this.nonceAt = 0;
    }
    const nonce = new Uint8Array(this.nonces.subarray(this.nonceAt, this.nonceAt + CHALLENGE_NONCE_BYTES));
    // Each byte is handed out once: never in two challenges.
    this.nonceAt += CHALLENGE_NONCE_BYTES;
    return nonce;
  }

  /** Forget a closed session. */
  private drop(session: Session): void {
    this.retire(session);
    this.sessions.delete(session);
  }

  /**
   * A session that is closing: nothing more is handled for it or sent to it,
   * and no peer finds it, though its socket may take a while to close.
   */
  private retire(session: Session): void {
    session.state = SessionState.Closed;
    session.nonce = undefined;
    session.held = undefined;
    this.pending.delete(session);
    if (this.registry.remove(session)) this.deps.federation.leave(session);
  }

  /** Close sessions that have not registered in time. */
  sweepRegistrations(): void {
    const now = this.deps.now();
    for (const session of this.pending) {
      if (session.deadline <= now && session.state === SessionState.Pending) {
        this.refuse(session, ErrorCode.REGISTRATION_TIMEOUT, 'no valid registration before the deadline');
      }
    }
  }

  /**
   * One heartbeat round: drop sockets that did not answer the last ping,
   * ping the rest, each with fresh random bytes its pong must carry back.
   */
  heartbeat(): void {
    const payloads = randomBytes(PING_PAYLOAD_BYTES * this.sessions.size);
    let i = 0;
    for (const session of this.sessions) {
      if (!session.liveness.alive) {
        this.deps.metrics.refused(ErrorCode.HEARTBEAT_TIMEOUT);
        this.deps.logger.debug({ address: session.address }, 'heartbeat missed; dropping');
        session.socket.terminate();
        continue;
      }
      const payload = payloads.subarray(i, i + PING_PAYLOAD_BYTES);
      i += PING_PAYLOAD_BYTES;
      session.liveness.pinged(payload);
      // A closing socket is not pinged: if it is still here at the next round, it is cut.
      if (session.closed) continue;
      // A ping is a write like any other: within the send budget (2 bytes of header).
      if (!session.outbox.fits(payload.length + 2)) this.notReading(session);
      else session.socket.ping(payload);
    }
  }

  /** The one way the server's own messages reach a client: within its send budget, or the client is closed. */
  private send(session: Session, message: ServerMessage): void {
    if (!session.outbox.reply(Buffer.from(encodeServerMessage(message)))) this.notReading(session);
  }

  /** The client has left more than its send budget unread: close it rather than queue more (1008, NOT_READING). */
  private notReading(session: Session): void {
    if (session.closed) return;
    this.deps.metrics.refused(ErrorCode.NOT_READING);
    this.deps.logger.info(
      { address: session.address, id: session.id, unsent: session.outbox.unsent },
      'not reading; closing',
    );
    this.retire(session);
    // The close frame queues behind what is unread; ws cuts the socket if the close handshake does not follow.
    session.socket.close(CloseCode.POLICY_VIOLATION, ErrorCode.NOT_READING);
  }

  private error(session: Session, code: ErrorCode, message: string, ref?: number): void {
    this.deps.metrics.refused(code);
    this.send(session, ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
  }

  /** Tell the client why and close the connection. */
  refuse(session: Session, code: ErrorCode, message: string, closeCode = registrationCloseCode(code)): void {
    if (session.state === SessionState.Closed) return;
    this.error(session, code, message);
    if (session.closed) return; // closed as not reading instead
    this.retire(session);
    session.socket.close(closeCode, code);
  }

  private receive(session: Session, data: unknown, isBinary: boolean): void {
    if (session.state === SessionState.Closed) return;
    // Paid for before it is answered, good or bad, registered or not (rate-gate.ts).
    if (!this.gate.beforeParse(session)) return;
    if (isBinary || !Buffer.isBuffer(data)) {
      if (this.gate.afterParse(session, undefined) === 'dropped') return;
      this.refuse(
        session,
        ErrorCode.BAD_FRAME,
        'the signaling channel carries text frames only',
        CloseCode.UNSUPPORTED_DATA,
      );
      return;
    }
    // A registered sender's signal to a peer held here, in the form clients send it: relayed without parsing.
    if (session.state === SessionState.Registered && this.relayInPlace(session, data)) return;
    const parsed = parseClientMessage(data.toString('utf8'));
    const admission = this.gate.afterParse(session, parsed.ok ? parsed.value : undefined);
    if (admission === 'dropped') return;
    if (!parsed.ok) {
      this.badMessage(session, parsed.error);
      return;
    }
    const message = parsed.value;
    if (session.state === SessionState.Pending) {
      if (message.type === 'register') void this.register(session, message);
      else this.refuse(session, ErrorCode.NOT_REGISTERED, 'register first');
      return;
    }
    if (session.state === SessionState.Verifying && message.type !== 'register') {
      // Sent right behind the answer: held until it is verified, then handled in order.
      session.held ??= [];
      if (session.held.length >= MAX_HELD_DURING_REGISTRATION) {
        this.refuse(session, ErrorCode.NOT_REGISTERED, 'too many requests before the registration was verified');
        return;
      }
      session.held.push(message);
      return;
    }
    this.dispatch(session, message, admission === 'answer');
  }

  /** Handle one request on a registered (or registering, for `register`) connection. */
  private dispatch(session: Session, message: ClientMessage, answer = false): void {
    switch (message.type) {
      case 'signal':
        this.relay(session, message, answer);
        break;
      case 'peers':
        void this.answerPeers(session, message.max, message.ref);
        break;
      case 'record':
        void this.updateRecord(session, message);
        break;
      case 'turn':
        if (this.config.turn === undefined)
          this.error(session, ErrorCode.TURN_UNAVAILABLE, 'this server hands out no TURN credentials', message.ref);
        else
          this.send(session, {
            type: 'turn',
            turn: mintTurnCredentials(this.config.turn, session.id, this.deps.now()),
            ...(message.ref === undefined ? {} : { ref: message.ref }),
          });
        break;
      case 'register':
        this.error(
          session,
          ErrorCode.ALREADY_REGISTERED,
          session.state === SessionState.Registered
            ? 'this connection is registered'
            : 'registration already under way',
        );
        break;
    }
  }

  /** A message that failed to parse: before registration it ends the connection. */
  private badMessage(session: Session, error: TabmeshError): void {
    if (session.state === SessionState.Registered) this.error(session, error.code, error.message);
    else this.refuse(session, error.code, error.message);
  }

  private async register(session: Session, message: RegisterMessage): Promise<void> {
    const nonce = session.nonce;
    session.nonce = undefined; // one answer per challenge, right or wrong
    session.state = SessionState.Verifying;
    const record = await checkRegistration(
      this.deps.ed25519,
      {
        nonce,
        deadline: session.deadline,
        announcedNetwork: session.announcedNetwork,
        serverName: this.config.serverName,
      },
      message,
      this.deps.now(),
    );
    if (session.closed) return; // the socket closed while we verified
    if (!record.ok) {
      this.refuse(session, record.error.code, record.error.message);
      return;
    }
    session.id = message.id;
    // The registry's own string for a network it holds: one copy for all its peers, not one each.
    session.network = this.registry.networkName(message.network);
    session.recordText = record.value.text;
    session.recordSeq = record.value.record.seq;
    session.recordExpiresAt = record.value.record.expiresAt;
    // Across instances: the sample comes from the whole network, and the
    // presence is published before the welcome, so a welcomed tab is
    // reachable from every instance. Both before the local registration:
    // nothing reaches a tab before its welcome.
    const [federated] = await Promise.all([
      this.deps.federation.sample(message.network, this.config.sampleSize, message.id),
      this.deps.federation.join(session),
    ]);
    if (this.closedSince(session)) {
      this.deps.federation.leave(session);
      return;
    }
    this.pending.delete(session);
    session.state = SessionState.Registered;
    const displaced = this.registry.add(session);
    if (displaced !== undefined) {
      this.deps.logger.debug({ id: session.id }, 'peer ID registered again; closing the older connection');
      this.refuse(displaced, ErrorCode.REPLACED, 'this peer ID registered on a newer connection', CloseCode.REPLACED);
    }
    this.deps.metrics.registrations.inc();
    this.send(session, {
      type: 'welcome',
      id: session.id,
      network: session.network,
      // Sampled locally only after the registration above, so an older connection of this ID that it displaced is not offered.
      peers: this.sampleOr(federated, session.network, this.config.sampleSize, session),
      limits: this.limits,
      ...(this.config.turn === undefined
        ? {}
        : { turn: mintTurnCredentials(this.config.turn, session.id, this.deps.now()) }),
    });
    const held = session.held ?? [];
    session.held = undefined;
    for (const message of held) if (!this.closedSince(session)) this.dispatch(session, message);
  }

  /** Whether the socket closed during an await (a call, so the compiler does not narrow it). */
  private closedSince(session: Session): boolean {
    return session.closed;
  }

  /**
   * The federation's sample of the whole network, or, when it has none (no
   * other instances, or Redis is away), up to `max` records from this registry.
   */
  private sampleOr(
    federated: string[] | undefined,
    network: string,
    max: number,
    exclude: Session | undefined,
  ): string[] {
    return federated ?? this.registry.sample(network, max, exclude, this.deps.now()).map((entry) => entry.recordText);
  }

  /** A `peers` request: across instances when federated, else (or when Redis is away) this registry. */
  private async answerPeers(session: Session, max: number, ref: number | undefined): Promise<void> {
    const federated = await this.deps.federation.sample(session.network, max, session.id);
    if (session.closed) return;
    const peers = this.sampleOr(federated, session.network, max, session);
    this.send(session, ref === undefined ? { type: 'peers', peers } : { type: 'peers', peers, ref });
  }

  /**
   * The relay's fast path (relay-frame.ts): a signal request in the canonical
   * form to a peer this instance holds, charged as afterParse charges it and
   * spliced into its delivery without being parsed. False, with nothing done
   * (nothing charged), for anything else: the full parser then decides.
   */
  private relayInPlace(session: Session, data: Buffer): boolean {
    const frame = readSignalFrame(data, session.id.length);
    if (frame === undefined) return false;
    // A hit proves `to` a peer ID: the registry holds only IDs verified at registration.
    const target = this.registry.get(session.network, frame.to as PeerId);
    if (target === undefined) return false;
    const admission = this.gate.afterSignal(session, frame.to, frame.ref);
    if (admission !== 'dropped')
      this.deliverSignal(session, target, spliceDelivery(session.id, data, frame), frame.ref, admission === 'answer');
    return true;
  }

  private relay(session: Session, message: SignalRequest, answer: boolean): void {
    const frame = encodeSignalDelivery(session.id, message.payload);
    // The delivery's `from` is two characters longer than the request's `to` (the payload is escaped no
    // longer than the request had it): a request filled to the cap would reach the recipient as a frame
    // over it, which its parser refuses.
    if (frame.length > MAX_SIGNALING_FRAME_BYTES) {
      this.error(session, ErrorCode.FRAME_TOO_LARGE, 'the delivery would be over the frame cap', message.ref);
      return;
    }
    // Registered IDs were verified at registration: a hit needs no checksum.
    const target = this.registry.get(session.network, message.to as PeerId);
    if (target === undefined) {
      if (!parsePeerId(message.to).ok) {
        this.error(session, ErrorCode.BAD_FIELD, "'to' is not a valid peer ID", message.ref);
      } else {
        void this.relayElsewhere(session, message, frame);
      }
      return;
    }
    this.deliverSignal(session, target, Buffer.from(frame), message.ref, answer);
  }

  /** A delivery from `session` to `target`, a peer held here; the sender told when it is refused. */
  private deliverSignal(
    session: Session,
    target: Session,
    frame: Buffer,
    ref: number | undefined,
    answer: boolean,
  ): void {
    if (!this.deliver(target, frame, session.id, !answer)) {
      this.error(session, ErrorCode.RECIPIENT_BUSY, 'the recipient has too much unread; dropped', ref);
      return;
    }
    this.deps.metrics.relayed.inc();
  }

  /** To a peer this instance does not hold: through the federation (none for LOCAL_ONLY), or UNKNOWN_PEER. */
  private async relayElsewhere(session: Session, message: SignalRequest, frame: string): Promise<void> {
    if (await this.deps.federation.relay(session.network, message.to as PeerId, frame)) {
      this.deps.metrics.relayed.inc();
    } else if (!session.closed) {
      this.error(session, ErrorCode.UNKNOWN_PEER, 'no such peer in this network', message.ref);
    }
  }

  // --- FederationHost: what other instances ask of this one ---

  deliverLocal(network: string, to: string, frame: string): 'delivered' | 'unknown' | 'busy' {
    // `to` was checked for shape; the registry holds only verified IDs.
    const target = this.registry.get(network, to as PeerId);
    if (target === undefined || target.closed) return 'unknown';
    // Quotas are keyed by the sender the other instance stamped. Reply credit is per instance (that instance
    // cannot say whether the signal was itself an answer on credit): across instances, answers are paid as usual.
    return this.deliver(target, Buffer.from(frame), deliverySender(frame) ?? 'federation', false)
      ? 'delivered'
      : 'busy';
  }

  replacedElsewhere(network: string, id: string, token: string): void {
    const session = this.registry.get(network, id as PeerId);
    if (session === undefined || session.presenceToken === token) return;
    this.deps.logger.debug({ id }, 'peer ID registered on another instance; closing it here');
    this.refuse(session, ErrorCode.REPLACED, 'this peer ID registered on a newer connection', CloseCode.REPLACED);
  }

  *registeredPeers(): Iterable<Session> {
    for (const session of this.sessions) if (session.state === SessionState.Registered) yield session;
  }

  /**
   * Relay a delivery frame from `sender` to `target`, within the target's
   * relay budget and the sender's quota of it; false when refused. Delivered,
   * a signal its sender paid for earns the target one answer (`earnsCredit`).
   * Everything relayed to a peer in one event-loop turn leaves in one write.
   */
  private deliver(target: Session, frame: Buffer, sender: string, earnsCredit: boolean): boolean {
    this.batch.add(target.tcp);
    if (!target.outbox.relay(frame, sender)) return false;
    if (earnsCredit) target.credit.earn(sender, this.deps.now());
    return true;
  }

  private async updateRecord(session: Session, message: RecordUpdate): Promise<void> {
    const result = await verifyRecord(this.deps.ed25519, message.record, {
      now: this.deps.now(),
      network: session.network,
    });
    if (session.closed) return;
    const ref = message.ref;
    if (!result.ok) {
      this.error(session, result.error.code, result.error.message, ref);
      return;
    }
    const record = result.value.record;
    if (record.id !== session.id) {
      this.error(session, ErrorCode.ID_MISMATCH, 'a connection may only update its own record', ref);
      return;
    }
    if (record.seq <= session.recordSeq) {
      this.error(session, ErrorCode.RECORD_STALE, 'sequence number is not newer than the held record', ref);
      return;
    }
    session.recordText = result.value.text;
    session.recordSeq = record.seq;
    session.recordExpiresAt = record.expiresAt;
    this.deps.federation.update(session);
    this.send(session, ref === undefined ? { type: 'ok' } : { type: 'ok', ref });
  }

  /** Notify every client of shutdown and close them. */
  goaway(retryAfterMs: number): void {
    const notice = Buffer.from(encodeServerMessage({ type: 'goaway', reason: ErrorCode.SHUTTING_DOWN, retryAfterMs }));
    for (const session of this.sessions) {
      if (session.state === SessionState.Closed) continue;
      // A client too far behind to read the notice gets the plain close.
      session.outbox.reply(notice);
      this.retire(session);
      session.socket.close(CloseCode.GOING_AWAY, ErrorCode.SHUTTING_DOWN);
    }
  }
}
