/**
 * The server's user settings (every one optional; DEFAULTS in defaults.ts
 * lists the values) and their resolution into one checked configuration.
 */
import type { Server } from 'node:http';
import { normalizeOrigin } from './admission.js';
import { DEFAULTS } from './defaults.js';
import { stunUrlsProblem } from './stun/urls.js';
import { turnConfigProblem, type TurnConfig } from './turn.js';

/** Shortest metrics token accepted: 128 bits of base64 or hex is 22 to 32 characters. */
export const MIN_METRICS_TOKEN_CHARS = 16;

/** User settings. Every one is optional; DEFAULTS (defaults.ts) lists the values. */
export interface SignalingServerOptions {
  readonly port?: number;
  readonly host?: string;
  readonly path?: string;
  readonly serverName?: string;
  /**
   * Page origins allowed to open the WebSocket: `self` (publicOrigin, or
   * without one the server's own loopback origins when it listens on
   * loopback), `localhost` (any loopback page), `*`, or exact origins.
   */
  readonly origins?: readonly string[];
  /**
   * The origin pages reach this server at (`https://mesh.example.com`), what
   * `self` in `origins` stands for. The Host header is never trusted for it:
   * a page on another name resolving to this server (DNS rebinding) sends
   * its own name there. Default: none.
   */
  readonly publicOrigin?: string;
  readonly maxPeers?: number;
  /** Connections not yet registered at once; beyond, 503 `SERVER_BUSY` (defaults.ts). */
  readonly maxPendingRegistrations?: number;
  readonly maxConnectionsPerIp?: number;
  /** TCP connections per address before any HTTP is read (not with trustProxy, nor on a server of yours). */
  readonly maxSocketsPerIp?: number;
  /** Time to send a whole request's headers, on the server's own HTTP server. */
  readonly headersTimeoutMs?: number;
  readonly maxFrameBytes?: number;
  readonly rate?: number;
  readonly burst?: number;
  readonly floodAllowance?: number;
  readonly sampleSize?: number;
  readonly registrationTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly shutdownGraceMs?: number;
  readonly maxBufferedBytes?: number;
  /** Unsent bytes one sender may queue into one recipient; Infinity turns per-sender quotas off. */
  readonly maxBufferedPerSender?: number;
  /** Unsent bytes past which a connection is closed rather than sent more (at least maxBufferedBytes). */
  readonly sendBudgetBytes?: number;
  /** Replies a connection may send a peer on that peer's account; 0 turns reply credit off. */
  readonly replyCreditPerPeer?: number;
  readonly replyCreditPeers?: number;
  readonly replyCreditTtlMs?: number;
  /** Take the client address from X-Forwarded-For (behind one reverse proxy). Default false. */
  readonly trustProxy?: boolean;
  /** Folder of the page to serve at `/`. Default: the built page, if there is one; `null` serves none. */
  readonly staticDir?: string | null;
  /** Expose Node process metrics (CPU, memory, event loop) in /metrics. Default true. */
  readonly processMetrics?: boolean;
  /**
   * A token that /metrics requires as `Authorization: Bearer <token>` (at
   * least 16 characters). With it, /metrics is served on the main port too.
   * Default: none, and /metrics is served only on metricsPort.
   */
  readonly metricsToken?: string;
  /** A port of its own for /metrics (on metricsHost). Default: none. */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /**
   * An HTTP server of your own to mount on. The signaling server takes its
   * WebSocket upgrades on `path` (upgrades to other paths are left to your
   * other 'upgrade' listeners, or refused with 404 if there are none) and
   * leaves its requests to you: call `handleRequest` from your handler for
   * /healthz, /metrics and the page. `listen()` listens on `port` and `host`
   * only if it is not listening yet; `close()` closes the signaling
   * connections and leaves your server open. Its timeouts and TCP
   * connections are yours to bound. Default: a server of its own.
   */
  readonly httpServer?: Server;
  /**
   * Redis URL (`redis://…`, `rediss://…`): share presence and relays with
   * every instance using the same Redis, so they act as one server. Default:
   * none, the server is on its own and needs no other service.
   */
  readonly redis?: string;
  /** With `redis`: how long a peer's presence outlives its instance's last refresh. */
  readonly presenceTtlMs?: number;
  /** With `redis`: how often presence is refreshed (must be below presenceTtlMs). */
  readonly presenceRefreshMs?: number;
  /** With `redis`: a Redis command slower than this fails and the instance answers from its own peers. */
  readonly redisCommandTimeoutMs?: number;
  /**
   * TURN server URLs (`turn:host:3478`, `turns:host:5349?transport=tcp`, at
   * most 8): with `turnSecret`, every registered tab gets short-lived
   * credentials for them in its welcome (docs/TURN.md). Default: none.
   */
  readonly turnUrls?: readonly string[];
  /** The secret shared with the TURN server (coturn's `static-auth-secret`, at least 16 characters). Never logged. */
  readonly turnSecret?: string;
  /** Lifetime of each tab's TURN credentials, in seconds (60..86400). Default DEFAULTS.turnTtlS. */
  readonly turnTtlS?: number;
  /**
   * Answer STUN Binding requests on UDP (stun/responder.ts), so tabs behind
   * a NAT learn their public address from this server and from no third
   * party. Default true.
   */
  readonly stun?: boolean;
  /**
   * The UDP port of the STUN responder, on `host`. Default: the HTTP port's
   * number (when `port` is 0, a free port of its own); 0 picks a free one.
   */
  readonly stunPort?: number;
  /**
   * The STUN URLs each tab is told of (`stun:host:port`, at most 8), instead
   * of this server's own responder under the name the tab reached it by.
   * For a responder behind a port mapping, or STUN served elsewhere (with
   * `stun: false`). Default: the responder's own.
   */
  readonly stunUrls?: readonly string[];
}

/** The STUN settings, checked. */
export interface StunConfig {
  /** Whether the responder runs. */
  readonly listen: boolean;
  /** Its port; undefined for the HTTP port's number (or a free one when that is 0). */
  readonly port: number | undefined;
  /** What challenges announce instead of the responder's own URL. */
  readonly urls: readonly string[] | undefined;
}

/** The options with every default applied and checked. */
export type ServerConfig = ReturnType<typeof resolveOptions>;

/** Apply the defaults and check what goes together; throws RangeError on a setting that cannot work. */
export function resolveOptions(options: SignalingServerOptions) {
  const config = {
    port: options.port ?? DEFAULTS.port,
    host: options.host ?? DEFAULTS.host,
    path: options.path ?? DEFAULTS.path,
    serverName: options.serverName ?? DEFAULTS.serverName,
    origins: options.origins ?? DEFAULTS.origins,
    publicOrigin: options.publicOrigin === undefined ? undefined : normalizeOrigin(options.publicOrigin),
    maxPeers: options.maxPeers ?? DEFAULTS.maxPeers,
    maxPendingRegistrations: options.maxPendingRegistrations ?? DEFAULTS.maxPendingRegistrations,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? DEFAULTS.maxConnectionsPerIp,
    maxSocketsPerIp: options.maxSocketsPerIp ?? DEFAULTS.maxSocketsPerIp,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    rate: options.rate ?? DEFAULTS.rate,
    burst: options.burst ?? DEFAULTS.burst,
    floodAllowance: options.floodAllowance ?? DEFAULTS.floodAllowance,
    sampleSize: options.sampleSize ?? DEFAULTS.sampleSize,
    registrationTimeoutMs: options.registrationTimeoutMs ?? DEFAULTS.registrationTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULTS.shutdownGraceMs,
    outbox: {
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
      maxBufferedPerSender: options.maxBufferedPerSender ?? DEFAULTS.maxBufferedPerSender,
      sendBudgetBytes: options.sendBudgetBytes ?? DEFAULTS.sendBudgetBytes,
    },
    credit: {
      perPeer: options.replyCreditPerPeer ?? DEFAULTS.replyCreditPerPeer,
      peers: options.replyCreditPeers ?? DEFAULTS.replyCreditPeers,
      ttlMs: options.replyCreditTtlMs ?? DEFAULTS.replyCreditTtlMs,
    },
    trustProxy: options.trustProxy ?? false,
    metricsToken: options.metricsToken,
    metricsPort: options.metricsPort,
    metricsHost: options.metricsHost ?? DEFAULTS.metricsHost,
    presenceTtlMs: options.presenceTtlMs ?? DEFAULTS.presenceTtlMs,
    presenceRefreshMs: options.presenceRefreshMs ?? DEFAULTS.presenceRefreshMs,
    redisCommandTimeoutMs: options.redisCommandTimeoutMs ?? DEFAULTS.redisCommandTimeoutMs,
    turn: turnOptions(options),
    stun: stunOptions(options),
  };
  if (config.presenceRefreshMs >= config.presenceTtlMs)
    throw new RangeError('presenceRefreshMs must be below presenceTtlMs');
  // Relays stop at maxBufferedBytes so that they never close their recipient: the send budget must be above it.
  if (config.outbox.sendBudgetBytes < config.outbox.maxBufferedBytes)
    throw new RangeError('sendBudgetBytes must be at least maxBufferedBytes');
  if (config.metricsToken !== undefined && config.metricsToken.length < MIN_METRICS_TOKEN_CHARS)
    throw new RangeError(`metricsToken must be at least ${MIN_METRICS_TOKEN_CHARS} characters`);
  if (config.credit.peers < 1) throw new RangeError('replyCreditPeers must be at least 1');
  return config;
}

/** The TURN settings, checked; undefined when TURN is off. Half a configuration is an error. */
function turnOptions(options: SignalingServerOptions): TurnConfig | undefined {
  if (options.turnUrls === undefined && options.turnSecret === undefined) return undefined;
  if (options.turnUrls === undefined || options.turnSecret === undefined)
    throw new RangeError('turnUrls and turnSecret go together');
  const turn = { urls: options.turnUrls, secret: options.turnSecret, ttlS: options.turnTtlS ?? DEFAULTS.turnTtlS };
  const problem = turnConfigProblem(turn);
  if (problem !== undefined) throw new RangeError(problem);
  return turn;
}

/** The STUN settings, checked: a port for a responder that is off is an error. */
function stunOptions(options: SignalingServerOptions): StunConfig {
  const listen = options.stun ?? true;
  if (!listen && options.stunPort !== undefined) throw new RangeError('stunPort needs stun on');
  if (
    options.stunPort !== undefined &&
    !(Number.isInteger(options.stunPort) && options.stunPort >= 0 && options.stunPort <= 65535)
  )
    throw new RangeError('stunPort must be 0..65535');
  const problem = options.stunUrls === undefined ? undefined : stunUrlsProblem(options.stunUrls);
  if (problem !== undefined) throw new RangeError(problem);
  return { listen, port: options.stunPort, urls: options.stunUrls };
}
