/**
 * What a link holds its peer to, in one place: the rates of what the peer may
 * send (records, membership messages, relayed frames), the caps on messages
 * it leaves half-sent, and how much we queue for it on behalf of others. The
 * defaults are shared/limits.ts's; the bench switches them off (Infinity) to
 * measure what each contains.
 */
import {
  MAX_FORWARD_QUEUE_BYTES,
  MEMBERSHIP_BURST,
  MEMBERSHIP_RATE,
  PEER_EXCHANGE_BURST,
  PEER_EXCHANGE_RATE,
} from '../../shared/limits.js';
import { DEFAULT_REASSEMBLY_LIMITS, type ReassemblyLimits } from '../../shared/protocol/channel.js';
import { TokenBucket } from '../../shared/rate-limit.js';
import { DEFAULT_RELAY_LIMITS, RelayIntake, type RelayLimits, type RelayVerdict } from './relay-budget.js';

export interface LinkLimits {
  readonly relay: RelayLimits;
  readonly reassembly: ReassemblyLimits;
  /** Bytes queued on the channel beyond which a forwarded broadcast is not queued. */
  readonly forwardQueueBytes: number;
}

export const DEFAULT_LINK_LIMITS: LinkLimits = Object.freeze({
  relay: DEFAULT_RELAY_LIMITS,
  reassembly: DEFAULT_REASSEMBLY_LIMITS,
  forwardQueueBytes: MAX_FORWARD_QUEUE_BYTES,
});

/** The rates of what one peer may send us over its link. */
export class LinkRates {
  private readonly records: TokenBucket;
  private readonly membership: TokenBucket;
  private readonly relay: RelayIntake;

  constructor(now: number, limits: LinkLimits) {
    this.records = new TokenBucket(PEER_EXCHANGE_RATE, PEER_EXCHANGE_BURST, now);
    this.membership = new TokenBucket(MEMBERSHIP_RATE, MEMBERSHIP_BURST, now);
    this.relay = new RelayIntake(now, limits.relay);
  }

  /** A peer-exchange message, within PEER_EXCHANGE_RATE (over it, dropped). */
  record(now: number): boolean {
    return this.records.take(now);
  }

  /** A membership message, within MEMBERSHIP_RATE (over it, the peer is flooding). */
  member(now: number): boolean {
    return this.membership.take(now);
  }

  /** A relayed frame (`pass`: not for us): see RelayIntake. */
  relayed(now: number, pass: boolean): RelayVerdict {
    return this.relay.admit(now, pass);
  }
}
