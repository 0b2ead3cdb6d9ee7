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
  /**
   * Connections at once that have not yet registered (challenge sent, no
   * valid answer yet); an upgrade beyond is refused at once, 503
   * `SERVER_BUSY`, before any WebSocket or challenge is made. In a
   * reconnect storm on a starved server, unbounded handshakes queue past
   * the time clients wait and the server spends itself on clients that have
   * given up (docs/BENCHMARKS.md, "Reconnect storm"); refused clients retry
   * on their jittered backoff. At ~3,400 admissions a second this is about
   * 0.3 s of work; it also caps what slow or silent clients can hold.
   */
  maxPendingRegistrations: 1_024,
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
  /**
   * Ping interval; a socket that has not answered the last ping (with its
   * payload: unsolicited pongs do not count) within one interval is dropped.
   */
  heartbeatIntervalMs: 30_000,
  /** Time clients get to close after a shutdown notice before being cut. */
  shutdownGraceMs: 5_000,
  /** Unsent bytes queued for one recipient before relays to it are refused (`RECIPIENT_BUSY`). */
  maxBufferedBytes: 1024 * 1024,
  /**
   * Unsent bytes one sender may have queued for one recipient. A sender's
   * quota is this or an equal share of maxBufferedBytes among the senders
   * with bytes queued for that recipient, one share kept free for a sender
   * not yet queued, whichever is smaller (a sender with nothing queued may
   * always send one signal); over it, `RECIPIENT_BUSY`. So a flood into a
   * tab fills only the flooders' shares, and an honest sender's signals
   * still find room: 32 KiB holds an offer with its candidates, and lets
   * 32 senders at once queue for one recipient before its budget is full.
   */
  maxBufferedPerSender: 32 * 1024,
  /**
   * Unsent bytes a connection may have before the server closes it (1008
   * `NOT_READING`) rather than write it another reply of its own (samples,
   * errors, acknowledgements, pings). Relays stop at maxBufferedBytes, so
   * relays alone never close a tab; the 256 KiB above it is for the
   * connection's own replies. The twenty largest samples a client may ask
   * for at once within its burst (100 tokens, 5 a sample, ~41 KB each:
   * ~820 KB) fit; a client that has asked for more than this without
   * reading is not reading, and what the server holds for it is bounded.
   */
  sendBudgetBytes: 1024 * 1024 + 256 * 1024,
  /**
   * Answers a connection may send a peer without paying for them: each
   * signal the peer relays to it (and pays for) earns one, so whoever sends
   * the signals pays for the answers, and a tab that answers every offer it
   * declines cannot be rate limited by the offers. Twice the burst: every
   * signal a peer can send at once, and as many again at its rate while the
   * answers are on their way. 0 turns it off.
   */
  replyCreditPerPeer: 200,
  /** Peers a connection holds reply credit for at once (the oldest is forgotten first): bounds its memory. */
  replyCreditPeers: 32,
  /** How long reply credit lasts after the signal that earned it: an answer comes within seconds. */
  replyCreditTtlMs: 30_000,
  /**
   * TCP connections from one address (an IPv6 address counted as its /64),
   * counted as they are accepted, before any HTTP is read, so half-open
   * requests cannot hold file descriptors beyond it: maxConnectionsPerIp
   * WebSockets plus 8 for the page's own HTTP requests (a browser opens at
   * most 6 per host). Not applied with trustProxy (every connection then
   * comes from the proxy, which must bound its own).
   */
  maxSocketsPerIp: 64 + 8,
  /**
   * Time a client has to send a whole HTTP request's headers (an upgrade
   * request is only headers). Node's default lets a half-open request hold
   * its socket for 60 s, checked every 30 s; a browser sends its headers in
   * one packet.
   */
  headersTimeoutMs: 10_000,
  /** Address of the metrics listener (`metricsPort`): loopback, for a scraper on the same host. */
  metricsHost: '127.0.0.1',
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
