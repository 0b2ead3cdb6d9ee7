/**
 * The heart of the server: what each parsed client message does.
 * Registration by challenge and response, relay with the sender stamped from
 * the authenticated session, bootstrap samples, record updates, rate limits.
 * HTTP and admission live in server.ts; this file sees only open WebSockets.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { ErrorCode, type TabmeshError } from '../shared/errors.js';
import type { Ed25519 } from '../shared/identity/ed25519.js';
import { parsePeerId, type PeerId } from '../shared/identity/peer-id.js';
import { Purpose, verifyFrom } from '../shared/identity/signing.js';
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
  registrationBytes,
  type RecordUpdate,
  type RegisterMessage,
  type ClientMessage,
  type ServerLimits,
  type ServerMessage,
  type SignalRequest,
} from '../shared/protocol/signaling.js';
import { TokenBucket } from '../shared/rate-limit.js';
import { decodeRecord, verifyRecord } from '../shared/records.js';
import type { Federation, FederationHost } from './federation.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { Registry } from './registry.js';
import { Session, SessionState } from './session.js';
import { mintTurnCredentials, type TurnConfig } from './turn.js';

export interface HubConfig {
  readonly serverName: string;
  readonly rate: number;
  readonly burst: number;
  readonly floodAllowance: number;
  readonly sampleSize: number;
  readonly registrationTimeoutMs: number;
  readonly maxBufferedBytes: number;
  readonly maxFrameBytes: number;
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
}

/** Cost in tokens of a sample request, all told (it makes the server do more than a relay). */
const PEERS_REQUEST_COST = 5;

export class Hub implements FederationHost {
  readonly registry: Registry<Session>;
  readonly sessions = new Set<Session>();
  /** Sessions still registering, swept for the registration timeout. */
  private readonly pending = new Set<Session>();
  private readonly limits: ServerLimits;

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
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** A new socket: make its session, send the challenge, wire its events. */
  open(
    socket: WebSocket,
    tcp: Duplex,
    address: string,
    network: string | undefined,
    onClose: (session: Session) => void,
  ): Session {
    const now = this.deps.now();
    const nonce = new Uint8Array(randomBytes(CHALLENGE_NONCE_BYTES));
    const deadline = now + this.config.registrationTimeoutMs;
    const session = new Session(
      socket,
      tcp,
      address,
      network,
      deadline,
      nonce,
      this.config.rate,
      this.config.burst,
      now,
    );
    this.sessions.add(session);
    this.pending.add(session);
    socket.on('message', (data, isBinary) => this.receive(session, data, isBinary));
    socket.on('pong', () => {
      session.alive = true;
    });
    socket.on('error', (error) => {
      // ws reports protocol errors (oversize frames, bad UTF-8) here before closing.
      const code = (error as { code?: string }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.deps.metrics.refused(ErrorCode.FRAME_TOO_LARGE);
      else this.deps.metrics.refused(ErrorCode.BAD_FRAME);
      this.deps.logger.debug({ address, code }, 'socket error');
    });
    socket.on('close', () => {
      this.drop(session);
      onClose(session);
    });
    const challenge = {
      type: 'challenge',
      nonce,
      server: this.config.serverName,
      now,
      expires: deadline,
      // Tells a tab to wait for the welcome's credentials before it dials.
      ...(this.config.turn === undefined ? {} : { turn: true }),
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

  /** Forget a closed session. */
  private drop(session: Session): void {
    session.state = SessionState.Closed;
    session.nonce = undefined;
    this.sessions.delete(session);
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

  /** One heartbeat round: drop sockets that missed the last ping, ping the rest. */
  heartbeat(): void {
    for (const session of this.sessions) {
      if (!session.alive) {
        this.deps.metrics.refused(ErrorCode.HEARTBEAT_TIMEOUT);
        this.deps.logger.debug({ address: session.address }, 'heartbeat missed; dropping');
        session.socket.terminate();
        continue;
      }
      session.alive = false;
      session.socket.ping();
    }
  }

  private send(session: Session, message: ServerMessage): void {
    session.socket.send(encodeServerMessage(message));
  }

  private error(session: Session, code: ErrorCode, message: string, ref?: number): void {
    this.deps.metrics.refused(code);
    this.send(session, ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
  }

  /** Tell the client why and close the connection. */
  refuse(session: Session, code: ErrorCode, message: string, closeCode = registrationCloseCode(code)): void {
    if (session.state === SessionState.Closed) return;
    this.error(session, code, message);
    this.pending.delete(session);
    session.state = SessionState.Closed;
    session.socket.close(closeCode, code);
  }

  private receive(session: Session, data: unknown, isBinary: boolean): void {
    if (session.state === SessionState.Closed) return;
    // Every frame counts against the bucket before it is even parsed, and
    // before registration too: no frame, good or bad, is answered beyond the rate.
    if (!this.admit(session, 1, undefined)) return;
    if (isBinary || !Buffer.isBuffer(data)) {
      this.refuse(
        session,
        ErrorCode.BAD_FRAME,
        'the signaling channel carries text frames only',
        CloseCode.UNSUPPORTED_DATA,
      );
      return;
    }
    const parsed = parseClientMessage(data.toString('utf8'));
    if (!parsed.ok) {
      this.badMessage(session, parsed.error);
      return;
    }
    const message = parsed.value;
    if (message.type === 'peers' && !this.admit(session, PEERS_REQUEST_COST - 1, message.ref)) return;
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
    this.dispatch(session, message);
  }

  /** Handle one request on a registered (or registering, for `register`) connection. */
  private dispatch(session: Session, message: ClientMessage): void {
    switch (message.type) {
      case 'signal':
        this.relay(session, message);
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

  /** The per-connection token bucket, with a drop budget that cuts off floods. */
  private admit(session: Session, cost: number, ref: number | undefined): boolean {
    const now = this.deps.now();
    if (session.bucket.take(now, cost)) {
      session.throttleReported = false;
      return true;
    }
    session.floodBudget ??= new TokenBucket(this.config.rate, this.config.floodAllowance, now);
    if (!session.floodBudget.take(now)) {
      this.deps.logger.info({ address: session.address, id: session.id }, 'flooding; closing');
      this.refuse(session, ErrorCode.FLOODING, 'kept sending while rate limited', CloseCode.FLOODING);
      return false;
    }
    if (session.throttleReported) {
      this.deps.metrics.refused(ErrorCode.RATE_LIMITED);
    } else {
      session.throttleReported = true;
      this.error(
        session,
        ErrorCode.RATE_LIMITED,
        `over ${this.config.rate} messages/s; dropping until you slow down`,
        ref,
      );
    }
    return false;
  }

  private async register(session: Session, message: RegisterMessage): Promise<void> {
    const nonce = session.nonce;
    session.nonce = undefined; // one answer per challenge, right or wrong
    session.state = SessionState.Verifying;
    const now = this.deps.now();
    if (nonce === undefined || now > session.deadline) {
      this.refuse(session, ErrorCode.CHALLENGE_EXPIRED, 'the challenge has expired');
      return;
    }
    const decoded = decodeRecord(message.record);
    if (!decoded.ok) {
      this.refuse(session, decoded.error.code, decoded.error.message);
      return;
    }
    if (decoded.value.record.id !== message.id) {
      this.refuse(session, ErrorCode.ID_MISMATCH, 'the record is not for the ID being registered');
      return;
    }
    if (session.announcedNetwork !== undefined && message.network !== session.announcedNetwork) {
      this.refuse(session, ErrorCode.NETWORK_MISMATCH, 'registering in another network than the URL named');
      return;
    }
    const signed = registrationBytes(nonce, this.config.serverName, message.network, message.id);
    const [answer, record] = await Promise.all([
      verifyFrom(this.deps.ed25519, message.id, Purpose.REGISTER, signed, message.signature),
      verifyRecord(this.deps.ed25519, message.record, { now, network: message.network }),
    ]);
    if (session.closed) return; // the socket closed while we verified
    if (!answer) {
      this.refuse(session, ErrorCode.BAD_SIGNATURE, 'the challenge signature does not verify for this ID');
      return;
    }
    if (!record.ok) {
      this.refuse(session, record.error.code, record.error.message);
      return;
    }
    session.id = message.id;
    session.network = message.network;
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
    for (const message of held) this.dispatch(session, message);
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

  private relay(session: Session, message: SignalRequest): void {
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
    if (target.socket.bufferedAmount > this.config.maxBufferedBytes) {
      this.error(session, ErrorCode.RECIPIENT_BUSY, 'the recipient is not reading; dropped', message.ref);
      return;
    }
    this.deliver(target, frame);
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
    if (target.socket.bufferedAmount > this.config.maxBufferedBytes) return 'busy';
    this.deliver(target, frame);
    return 'delivered';
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
   * Send to a peer, coalescing everything relayed to it in this event-loop
   * turn into one write: the TCP socket stays corked until process.nextTick.
   * A client's burst (an offer and its candidates) then costs one syscall
   * instead of one per frame, with no added latency.
   */
  private deliver(target: Session, text: string): void {
    if (!target.corked) {
      target.corked = true;
      target.tcp.cork();
      if (this.corked.length === 0) process.nextTick(this.uncorkAll);
      this.corked.push(target);
    }
    target.socket.send(text);
  }

  private readonly corked: Session[] = [];
  private readonly uncorkAll = (): void => {
    for (const session of this.corked) {
      session.corked = false;
      session.tcp.uncork();
    }
    this.corked.length = 0;
  };

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
    const notice = encodeServerMessage({ type: 'goaway', reason: ErrorCode.SHUTTING_DOWN, retryAfterMs });
    for (const session of this.sessions) {
      if (session.state === SessionState.Closed) continue;
      session.state = SessionState.Closed;
      session.socket.send(notice);
      session.socket.close(CloseCode.GOING_AWAY, ErrorCode.SHUTTING_DOWN);
    }
  }
}
