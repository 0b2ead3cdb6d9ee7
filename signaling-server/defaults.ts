/**
 * Every server default, in one place, each overridable by an option, a CLI
 * flag and an environment variable (see cli.ts and docs/SELF-HOSTING.md).
 */
import { MAX_SIGNALING_FRAME_BYTES } from '../shared/limits.js';

export const DEFAULTS = {
  /** Port for `npm start` and the CLI. */
  port: 8787,
  /** Loopback only unless told otherwise: exposing a server is a decision. */
  host: '127.0.0.1',
  /** WebSocket endpoint path. */
  path: '/ws',
  /** Name bound into every registration signature. */
  serverName: 'tabmesh',
  /** Origins allowed to open the WebSocket: the server's own and any loopback page. */
  origins: ['self', 'localhost'] as readonly string[],
  /** Open WebSocket connections (registered or not) one server holds. */
  maxPeers: 10_000,
  /** Open connections from one IP address, an IPv6 address counted as its /64 (a NAT may hide many tabs). */
  maxConnectionsPerIp: 64,
  /** Largest frame; ws closes oversize frames with 1009. */
  maxFrameBytes: MAX_SIGNALING_FRAME_BYTES,
  /** Sustained messages per second per connection (token bucket refill). */
  rate: 20,
  /** Token bucket size: a tab opening five connections sends ~60 signals at once. */
  burst: 100,
  /**
   * Messages a throttled connection may still have dropped (the budget refills
   * at `rate`) before it is closed for flooding.
   */
  floodAllowance: 200,
  /** Records in a bootstrap sample. */
  sampleSize: 16,
  /** Time to answer the challenge. */
  registrationTimeoutMs: 10_000,
  /** Ping interval; a socket that misses one whole interval is dropped. */
  heartbeatIntervalMs: 30_000,
  /** Time clients get to close after a shutdown notice before being cut. */
  shutdownGraceMs: 5_000,
  /** Unsent bytes queued for one recipient before relays to it are refused. */
  maxBufferedBytes: 1024 * 1024,
  /**
   * With Redis: how long a peer's presence outlives its instance's last
   * refresh. An instance that dies is forgotten within this bound.
   */
  presenceTtlMs: 30_000,
  /** With Redis: how often an instance renews its peers' presence (well under the TTL, so one lost refresh is harmless). */
  presenceRefreshMs: 10_000,
  /** With Redis: a command (lookup, sample) that takes longer fails, and the instance answers from its own peers. */
  redisCommandTimeoutMs: 1_000,
  /**
   * With TURN: how long each tab's credentials are good for (seconds). coturn
   * checks them when an allocation is made, not afterwards (coturn issue
   * #774), so this bounds how long a leaked set is useful, not how long a
   * relayed connection lives. Tabs ask for fresh ones halfway through.
   */
  turnTtlS: 3_600,
  /** Networks named individually in /metrics; the rest are summed as `_other`. */
  maxMetricNetworks: 100,
} as const;
