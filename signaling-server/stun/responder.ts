/**
 * The STUN responder: a UDP socket that answers Binding requests with the
 * sender's own address (XOR-MAPPED-ADDRESS), so a tab behind a NAT learns
 * its public address from the server it already talks to, and no third
 * party's STUN server learns it. Everything else is dropped without a word.
 * Answers are rate limited per source address and in total, and never more
 * than MAX_AMPLIFICATION times the request (codec.ts): a forged source
 * address gets little, and only slowly.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { RecentMap } from '../../shared/recent-map.js';
import { TokenBucket } from '../../shared/rate-limit.js';
import { addressKey } from '../admission.js';
import type { Logger } from '../logger.js';
import type { StunMetrics, StunResult } from '../metrics.js';
import {
  addressBytes,
  encodeBindingSuccess,
  parseBindingRequest,
  withinAmplification,
  type StunRefusal,
} from './codec.js';

/** The metric label of each refusal. */
const RESULT_OF: Readonly<Record<StunRefusal, StunResult>> = {
  MALFORMED: 'malformed',
  NOT_BINDING: 'not_binding',
  UNKNOWN_ATTRIBUTE: 'unknown_attribute',
  BAD_FINGERPRINT: 'bad_fingerprint',
};

export interface StunLimits {
  /** Answers per second to one source address (an IPv6 address counted as its /64). */
  readonly rate: number;
  /** Answers one source address may get at once. */
  readonly burst: number;
  /** Source addresses whose budgets are held; past it the one heard from longest ago is forgotten. */
  readonly maxAddresses: number;
  /** Answers per second to everyone together. */
  readonly globalRate: number;
  readonly globalBurst: number;
}

/**
 * The responder's limits. A browser sends one Binding request (and up to
 * about eight retransmissions if unanswered) per STUN server, local
 * interface and new connection; a household behind one NAT address with a
 * few tabs each opening several connections at once stays within the burst.
 * A forgotten address starts again with a full burst, which is all that
 * naming many (forged) addresses gains: the global bucket caps the total at
 * 5,000 answers a second, at most 220 KB/s of STUN from one server.
 */
export const STUN_LIMITS: StunLimits = {
  rate: 10,
  burst: 50,
  maxAddresses: 10_000,
  globalRate: 5_000,
  globalBurst: 10_000,
};

export interface StunResponderDeps {
  readonly logger: Logger;
  readonly metrics: StunMetrics;
  readonly now: () => number;
}

/** Where the responder listens. */
export interface StunAddress {
  readonly address: string;
  readonly port: number;
}

export class StunResponder {
  private readonly socket: Socket;
  private readonly buckets: RecentMap<string, TokenBucket>;
  private readonly global: TokenBucket;
  private closed = false;

  /** A socket for `host` (an IP address: udp6 for IPv6, which also takes IPv4 unless the host is IPv6-only). */
  constructor(
    host: string,
    private readonly deps: StunResponderDeps,
    private readonly limits: StunLimits = STUN_LIMITS,
  ) {
    this.socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.buckets = new RecentMap(limits.maxAddresses);
    this.global = new TokenBucket(limits.globalRate, limits.globalBurst, deps.now());
    this.socket.on('message', (message, remote) => this.receive(message, remote));
    this.socket.on('error', (error) => {
      // A UDP socket reports send failures here too; none of them is the server's end.
      deps.logger.warn({ err: error }, 'STUN socket error');
    });
  }

  /** Bind to `host` and `port` (0: any free port); where it listens. */
  listen(host: string, port: number): Promise<StunAddress> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind({ address: host, port, exclusive: true }, () => {
        this.socket.off('error', reject);
        const bound = this.socket.address();
        resolve({ address: bound.address, port: bound.port });
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch (error) {
        // Never bound: there is nothing to close.
        if ((error as NodeJS.ErrnoException).code !== 'ERR_SOCKET_DGRAM_NOT_RUNNING') throw error;
        resolve();
      }
    });
  }

  /** One datagram: answered, or dropped and counted by why. */
  private receive(message: Buffer, remote: RemoteInfo): void {
    const result = this.answer(message, remote);
    this.deps.metrics.count(result);
    if (result !== 'answered') this.deps.logger.debug({ address: remote.address, result }, 'STUN request dropped');
  }

  private answer(message: Buffer, remote: RemoteInfo): StunResult {
    const request = parseBindingRequest(message);
    if (!request.ok) return RESULT_OF[request.refusal];
    const address = addressBytes(remote.address);
    if (address === undefined) return 'malformed';
    const response = encodeBindingSuccess(request.transactionId, address, remote.port);
    if (!withinAmplification(message.length, response.length)) return 'too_small';
    const now = this.deps.now();
    const key = addressKey(remote.address);
    const bucket = this.buckets.get(key) ?? new TokenBucket(this.limits.rate, this.limits.burst, now);
    // Set again on every request: the address heard from longest ago is the one forgotten.
    this.buckets.set(key, bucket);
    if (!bucket.take(now) || !this.global.take(now)) return 'rate_limited';
    this.socket.send(response, remote.port, remote.address, (error) => {
      if (error !== null) this.deps.logger.debug({ err: error, address: remote.address }, 'STUN answer not sent');
    });
    return 'answered';
  }
}
