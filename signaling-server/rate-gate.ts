/**
 * Who pays for each frame: the per-connection token bucket with a drop
 * allowance that cuts off floods, and answers paid for by the signals they
 * answer (reply-credit.ts), so what a peer provokes is charged to that peer.
 */
import { ErrorCode } from '../shared/errors.js';
import { CloseCode } from '../shared/protocol/close-codes.js';
import type { ClientMessage } from '../shared/protocol/signaling.js';
import { TokenBucket } from '../shared/rate-limit.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { Session } from './session.js';

/** Cost in tokens of a sample request, all told (it makes the server do more than a relay). */
const PEERS_REQUEST_COST = 5;

/**
 * What a frame came to: dropped (over the rate), paid by its sender, or an
 * answer on reply credit, paid for by the signal it answers (an answer
 * earns its recipient no credit in turn, or two peers could signal each
 * other for nothing).
 */
export type Admission = 'dropped' | 'paid' | 'answer';

export interface RateGateHost {
  /** Send the client an error (counted). */
  error(session: Session, code: ErrorCode, message: string, ref?: number): void;
  /** Tell the client why and close it. */
  refuse(session: Session, code: ErrorCode, message: string, closeCode: CloseCode): void;
}

export interface RateGateConfig {
  readonly rate: number;
  readonly floodAllowance: number;
}

export interface RateGateDeps {
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly now: () => number;
}

export class RateGate {
  constructor(
    private readonly config: RateGateConfig,
    private readonly deps: RateGateDeps,
    private readonly host: RateGateHost,
  ) {}

  /**
   * A frame arrived: false when it is dropped. Every frame counts against
   * its sender's bucket before it is even parsed, and before registration
   * too, so no frame, good or bad, is answered beyond the rate. Except on a
   * connection holding reply credit: it may be an answer, which its sender
   * does not pay for, so afterParse decides once the frame is known.
   */
  beforeParse(session: Session): boolean {
    return !session.credit.empty || this.admit(session, 1, undefined);
  }

  /**
   * The frame parsed (undefined: it did not, or was not text). What
   * beforeParse left to decide is decided here, and a sample request pays
   * its extra cost.
   */
  afterParse(session: Session, message: ClientMessage | undefined): Admission {
    const ref = message !== undefined && 'ref' in message ? message.ref : undefined;
    return this.afterRead(session, message?.type, message?.type === 'signal' ? message.to : undefined, ref);
  }

  /** afterParse for a signal to `to` read in place, with no message made (the relay's fast path, relay-frame.ts). */
  afterSignal(session: Session, to: string, ref: number | undefined): Admission {
    return this.afterRead(session, 'signal', to, ref);
  }

  private afterRead(
    session: Session,
    type: ClientMessage['type'] | undefined,
    to: string | undefined,
    ref: number | undefined,
  ): Admission {
    if (!session.credit.empty) {
      if (to !== undefined && session.credit.spend(to, this.deps.now())) {
        this.deps.metrics.creditedAnswers.inc();
        return 'answer';
      }
      if (!this.admit(session, 1, ref)) return 'dropped';
    }
    return type !== 'peers' || this.admit(session, PEERS_REQUEST_COST - 1, ref) ? 'paid' : 'dropped';
  }

  /** The sender's own token bucket, with a drop budget that cuts off floods. */
  admit(session: Session, cost: number, ref: number | undefined): boolean {
    const now = this.deps.now();
    if (session.bucket.take(now, cost)) {
      session.throttleReported = false;
      return true;
    }
    session.floodBudget ??= new TokenBucket(this.config.rate, this.config.floodAllowance, now);
    if (!session.floodBudget.take(now)) {
      this.deps.logger.info({ address: session.address, id: session.id }, 'flooding; closing');
      this.host.refuse(session, ErrorCode.FLOODING, 'kept sending while rate limited', CloseCode.FLOODING);
      return false;
    }
    if (session.throttleReported) {
      this.deps.metrics.refused(ErrorCode.RATE_LIMITED);
    } else {
      session.throttleReported = true;
      this.host.error(
        session,
        ErrorCode.RATE_LIMITED,
        `over ${this.config.rate} messages/s; dropping until you slow down`,
        ref,
      );
    }
    return false;
  }
}
