/**
 * The budgets of relayed frames (issue 15, item 6). A forwarder that passed
 * on whatever came in, to neighbours that cut off whoever sent them more than
 * RELAY_RATE, got honest peers cut off for an attacker's floods: three
 * attacker links at the full rate into one tab made all five of its honest
 * neighbours cut it off within 10 s, and the attacker was never cut.
 *
 * Now each side holds to what the other accepts:
 *
 * - RelayIntake (one per link, receiving): at most RELAY_RATE frames from a
 *   neighbour, of which at most RELAY_PASS_RATE not for us (so for us to pass
 *   on). What goes over either is dropped and counts against an allowance
 *   that refills slowly; a neighbour that runs it out is cut off.
 * - RelayPacers (one per node, sending): at most RELAY_SEND_RATE frames to
 *   each neighbour, of which RELAY_PASS_SEND_RATE for it to pass on: under
 *   its intake's budgets, so an honest node never spends its neighbours'
 *   allowance, whatever comes in. Of that, flood copies take at most
 *   RELAY_FLOOD_SEND_RATE, and routed frames that came in from any one other
 *   neighbour at most its share (RELAY_PASS_SHARE_RATE), so a neighbour that
 *   floods us does not crowd out what the others route through us.
 * - Mesh keeps one budget per claimed sender too (RELAY_ORIGIN_RATE).
 *
 * So an attacker's floods are charged to the attacker's own links, and
 * forwarders pass on only their share.
 */
import type { PeerId } from '../../shared/identity/peer-id.js';
import {
  NEIGHBOUR_BUDGETS_KEPT,
  RELAY_BURST,
  RELAY_FLOOD_SEND_BURST,
  RELAY_FLOOD_SEND_RATE,
  RELAY_DROP_ALLOWANCE,
  RELAY_DROP_REFILL_RATE,
  RELAY_ORIGIN_BURST,
  RELAY_ORIGIN_RATE,
  RELAY_PASS_BURST,
  RELAY_PASS_RATE,
  RELAY_PASS_SEND_BURST,
  RELAY_PASS_SEND_RATE,
  RELAY_PASS_SHARE_BURST,
  RELAY_PASS_SHARE_RATE,
  RELAY_PASS_SHARES_KEPT,
  RELAY_RATE,
  RELAY_SEND_BURST,
  RELAY_SEND_RATE,
} from '../../shared/limits.js';
import { TokenBucket } from '../../shared/rate-limit.js';
import { KeyedBuckets, type Rate } from './budgets.js';

/** Every relay budget; the defaults are shared/limits.ts's. The simulator and the bench switch them off with Infinity. */
export interface RelayLimits {
  /** Frames a neighbour may send us. */
  readonly receive: Rate;
  /** Of those, frames not for us. */
  readonly pass: Rate;
  /** Frames over either that a neighbour may send before it is cut off (`burst`), refilled at `rate`. */
  readonly allowance: Rate;
  /** Frames we send one neighbour. */
  readonly send: Rate;
  /** Of those, frames it must pass on. */
  readonly passSend: Rate;
  /** Of those, frames that came in from any one other neighbour. */
  readonly passShare: Rate;
  /** Of those, flood copies. */
  readonly flood: Rate;
  /** Frames of one claimed sender we pass on, over all links. */
  readonly origin: Rate;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = Object.freeze({
  receive: { rate: RELAY_RATE, burst: RELAY_BURST },
  pass: { rate: RELAY_PASS_RATE, burst: RELAY_PASS_BURST },
  allowance: { rate: RELAY_DROP_REFILL_RATE, burst: RELAY_DROP_ALLOWANCE },
  send: { rate: RELAY_SEND_RATE, burst: RELAY_SEND_BURST },
  passSend: { rate: RELAY_PASS_SEND_RATE, burst: RELAY_PASS_SEND_BURST },
  passShare: { rate: RELAY_PASS_SHARE_RATE, burst: RELAY_PASS_SHARE_BURST },
  flood: { rate: RELAY_FLOOD_SEND_RATE, burst: RELAY_FLOOD_SEND_BURST },
  origin: { rate: RELAY_ORIGIN_RATE, burst: RELAY_ORIGIN_BURST },
});

/** What to do with a relayed frame from a neighbour. */
export type RelayVerdict = 'accept' | 'over-rate' | 'over-pass' | 'flooding';

/** What one neighbour may send us by way of relayed frames (held by its PeerLink). */
export class RelayIntake {
  private readonly received: TokenBucket;
  private readonly passed: TokenBucket;
  private readonly allowance: TokenBucket;

  constructor(now: number, limits: RelayLimits = DEFAULT_RELAY_LIMITS) {
    this.received = new TokenBucket(limits.receive.rate, limits.receive.burst, now);
    this.passed = new TokenBucket(limits.pass.rate, limits.pass.burst, now);
    this.allowance = new TokenBucket(limits.allowance.rate, limits.allowance.burst, now);
  }

  /** A relayed frame arrived; `pass` when it is not for us. Over a budget it is dropped, and past the allowance the neighbour is a flooder. */
  admit(now: number, pass: boolean): RelayVerdict {
    if (!this.received.take(now)) return this.overrun(now, 'over-rate');
    if (pass && !this.passed.take(now)) return this.overrun(now, 'over-pass');
    return 'accept';
  }

  private overrun(now: number, verdict: 'over-rate' | 'over-pass'): RelayVerdict {
    return this.allowance.take(now) ? verdict : 'flooding';
  }
}

/**
 * What we send each neighbour (held by the Mesh, for every link). Kept for
 * NEIGHBOUR_BUDGETS_KEPT neighbours, so a link that closes and opens again does
 * not start with a fresh burst while the neighbour's intake may not have.
 */
export class RelayPacers {
  private readonly sent: KeyedBuckets<PeerId>;
  private readonly passing: KeyedBuckets<PeerId>;
  /** By `from>to`: the share of `to`'s passing budget that frames from `from` may take. */
  private readonly shares: KeyedBuckets<string>;
  private readonly floods: KeyedBuckets<PeerId>;

  constructor(limits: RelayLimits = DEFAULT_RELAY_LIMITS) {
    this.sent = new KeyedBuckets(limits.send, NEIGHBOUR_BUDGETS_KEPT);
    this.passing = new KeyedBuckets(limits.passSend, NEIGHBOUR_BUDGETS_KEPT);
    this.shares = new KeyedBuckets(limits.passShare, RELAY_PASS_SHARES_KEPT);
    this.floods = new KeyedBuckets(limits.flood, NEIGHBOUR_BUDGETS_KEPT);
  }

  /**
   * Whether one more frame may go to `peer` now, taking from its budgets if
   * so. `pass`: one it must pass on; `flood`: a flood copy; `from`: the
   * neighbour it came from, for one we forward. A frame refused by a later
   * budget has spent a token of an earlier one: that only makes us send less.
   */
  take(
    peer: PeerId,
    copy: { readonly pass: boolean; readonly flood: boolean; readonly from?: PeerId },
    now: number,
  ): boolean {
    const { pass, flood, from } = copy;
    // Floods have a budget of their own; the shares keep one neighbour from crowding out the routed frames of the others.
    if (flood && !this.floods.take(peer, now)) return false;
    if (pass && !flood && from !== undefined && !this.shares.take(`${from}>${peer}`, now)) return false;
    if (pass && !this.passing.take(peer, now)) return false;
    return this.sent.take(peer, now);
  }
}
