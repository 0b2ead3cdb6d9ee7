/**
 * createSignalingServer(): HTTP (the page, /healthz, /metrics) and the
 * WebSocket signaling endpoint on one port. Admission (path, Origin, per-IP
 * cap, server capacity, shutdown) is decided on the upgrade request, before a
 * WebSocket exists; everything after is the Hub's.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../shared/errors.js';
import { isValidNetworkName } from '../shared/records.js';
import type { Ed25519 } from '../shared/identity/ed25519.js';
import { AddressCounter, clientAddress, OriginPolicy } from './admission.js';
import { DEFAULTS } from './defaults.js';
import { createNodeEd25519 } from './ed25519-node.js';
import { LOCAL_ONLY, type Federation } from './federation.js';
import { Hub } from './hub.js';
import { createLogger, type Logger } from './logger.js';
import { FederationMetrics, ServerMetrics } from './metrics.js';
import { RedisFederation } from './redis-federation.js';
import { turnConfigProblem, type TurnConfig } from './turn.js';

/** User settings. Every one is optional; DEFAULTS (defaults.ts) lists the values. */
export interface SignalingServerOptions {
  readonly port?: number;
  readonly host?: string;
  readonly path?: string;
  readonly serverName?: string;
  readonly origins?: readonly string[];
  readonly maxPeers?: number;
  readonly maxConnectionsPerIp?: number;
  readonly maxFrameBytes?: number;
  readonly rate?: number;
  readonly burst?: number;
  readonly floodAllowance?: number;
  readonly sampleSize?: number;
  readonly registrationTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly shutdownGraceMs?: number;
  readonly maxBufferedBytes?: number;
  /** Take the client address from X-Forwarded-For (behind one reverse proxy). Default false. */
  readonly trustProxy?: boolean;
  /** Folder of the page to serve at `/`. Default: the built page, if there is one; `null` serves none. */
  readonly staticDir?: string | null;
  /** Expose Node process metrics (CPU, memory, event loop) in /metrics. Default true. */
  readonly processMetrics?: boolean;
  /**
   * An HTTP server of your own to mount on. The signaling server takes its
   * WebSocket upgrades on `path` (upgrades to other paths are left to your
   * other 'upgrade' listeners, or refused with 404 if there are none) and
   * leaves its requests to you: call `handleRequest` from your handler for
   * /healthz, /metrics and the page. `listen()` listens on `port` and `host`
   * only if it is not listening yet; `close()` closes the signaling
   * connections and leaves your server open. Default: a server of its own.
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
}

/** Collaborators, injectable for tests and embedding. */
export interface SignalingServerDeps {
  readonly logger?: Logger;
  readonly ed25519?: Ed25519;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface SignalingServer {
  /** Listen on the configured port and host (port 0 picks a free one). */
  listen(): Promise<{ port: number; host: string; url: string }>;
  /** For mounting on your own HTTP server: its 'request' and 'upgrade' handlers. */
  readonly handleRequest: (request: IncomingMessage, response: ServerResponse) => void;
  readonly handleUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Stop accepting, tell clients, close within shutdownGraceMs. Idempotent. */
  close(): Promise<void>;
  stats(): { connections: number; pending: number; peers: number; networks: number; redis?: 'up' | 'down' };
  readonly metrics: ServerMetrics;
}

const STATUS_TEXT: Record<number, string> = {
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** The embeddable widget, one ES module in the static folder (docs/EMBEDDING.md). */
export const WIDGET_PATH = '/widget.js';

/** The page built by `npm run build`, whether running from dist/ or from source. */
function defaultStaticDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '..', 'web'), resolve(here, '..', 'dist', 'web')]) {
    if (existsSync(join(candidate, 'index.html')) && existsSync(join(candidate, 'assets'))) return candidate;
  }
  return undefined;
}

/** Refuse an upgrade with a plain HTTP response; no WebSocket is made. */
function writeRefusal(socket: Duplex, status: number, code: ErrorCode): void {
  const body = `${code}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
}

/** Release an address's connection slot once, however often called. */
function releaser(counter: AddressCounter, address: string): () => void {
  let released = false;
  return () => {
    if (!released) {
      released = true;
      counter.release(address);
    }
  };
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

export function createSignalingServer(
  options: SignalingServerOptions = {},
  deps: SignalingServerDeps = {},
): SignalingServer {
  const config = {
    port: options.port ?? DEFAULTS.port,
    host: options.host ?? DEFAULTS.host,
    path: options.path ?? DEFAULTS.path,
    serverName: options.serverName ?? DEFAULTS.serverName,
    maxPeers: options.maxPeers ?? DEFAULTS.maxPeers,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    rate: options.rate ?? DEFAULTS.rate,
    burst: options.burst ?? DEFAULTS.burst,
    floodAllowance: options.floodAllowance ?? DEFAULTS.floodAllowance,
    sampleSize: options.sampleSize ?? DEFAULTS.sampleSize,
    registrationTimeoutMs: options.registrationTimeoutMs ?? DEFAULTS.registrationTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULTS.shutdownGraceMs,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
    trustProxy: options.trustProxy ?? false,
  };
  const logger = deps.logger ?? createLogger();
  const now = deps.now ?? Date.now;
  const origins = new OriginPolicy(options.origins ?? DEFAULTS.origins);
  const perAddress = new AddressCounter(options.maxConnectionsPerIp ?? DEFAULTS.maxConnectionsPerIp);
  const startedAt = now();

  const metrics: ServerMetrics = new ServerMetrics(
    {
      // Called only when /metrics is scraped, after theHub exists.
      connections: () => ({ pending: theHub.pendingCount, registered: theHub.registry.size }),
      networkSizes: () => theHub.registry.networkSizes(),
      networkCount: () => theHub.registry.networkCount,
    },
    DEFAULTS.maxMetricNetworks,
    options.processMetrics ?? true,
  );
  const turn = turnOptions(options);
  const presenceTtlMs = options.presenceTtlMs ?? DEFAULTS.presenceTtlMs;
  const presenceRefreshMs = options.presenceRefreshMs ?? DEFAULTS.presenceRefreshMs;
  if (presenceRefreshMs >= presenceTtlMs) throw new RangeError('presenceRefreshMs must be below presenceTtlMs');
  const federation: Federation =
    options.redis === undefined
      ? LOCAL_ONLY
      : new RedisFederation(
          {
            url: options.redis,
            presenceTtlMs,
            presenceRefreshMs,
            commandTimeoutMs: options.redisCommandTimeoutMs ?? DEFAULTS.redisCommandTimeoutMs,
          },
          // The hub answers for this instance; it exists before any message arrives.
          {
            host: {
              deliverLocal: (network, to, frame) => theHub.deliverLocal(network, to, frame),
              replacedElsewhere: (network, id, token) => theHub.replacedElsewhere(network, id, token),
              registeredPeers: () => theHub.registeredPeers(),
            },
            logger,
            metrics: new FederationMetrics(metrics.registry),
            now,
          },
        );
  const theHub: Hub = new Hub(
    { ...config, turn },
    {
      ed25519: deps.ed25519 ?? createNodeEd25519(),
      logger,
      metrics,
      now,
      random: deps.random ?? Math.random,
      federation,
    },
  );

  // noServer: we decide admission ourselves; clientTracking off: the hub tracks sessions.
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: config.maxFrameBytes,
    perMessageDeflate: false,
  });

  const staticDir = options.staticDir === null ? undefined : (options.staticDir ?? defaultStaticDir());
  // Vite names built assets by content hash, so they can be cached for good;
  // the HTML itself is revalidated (ETag) so a new build is picked up.
  const serveStatic =
    staticDir === undefined
      ? undefined
      : sirv(staticDir, {
          etag: true,
          dev: false,
          setHeaders: (response, pathname) => {
            if (pathname.startsWith('/assets/'))
              response.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
            // The widget is a module script other sites load: module scripts
            // are fetched with CORS. It is public and sent without credentials.
            if (pathname === WIDGET_PATH) response.setHeader('Access-Control-Allow-Origin', '*');
          },
        });
  let closing: Promise<void> | undefined;

  const handleRequest = (request: IncomingMessage, response: ServerResponse): void => {
    const url = request.url ?? '/';
    const pathname = url.split('?')[0];
    response.setHeader('X-Content-Type-Options', 'nosniff');
    if (pathname === '/healthz') {
      const stats = server.stats();
      response.writeHead(closing === undefined ? 200 : 503, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({
          status: closing === undefined ? 'ok' : 'shutting-down',
          ...stats,
          uptimeSeconds: Math.round((now() - startedAt) / 1000),
        }),
      );
      return;
    }
    if (pathname === '/metrics') {
      metrics.text().then(
        (text) => {
          response.writeHead(200, { 'Content-Type': metrics.contentType });
          response.end(text);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'metrics collection failed');
          response.writeHead(500).end();
        },
      );
      return;
    }
    const notFound = (): void => {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(
        serveStatic === undefined && pathname === '/'
          ? 'Tabmesh signaling server. No page is built here: run `npm run build`.\n'
          : 'Not found\n',
      );
    };
    if (serveStatic !== undefined && (request.method === 'GET' || request.method === 'HEAD')) {
      serveStatic(request, response, notFound);
      return;
    }
    notFound();
  };

  const refuseUpgrade = (request: IncomingMessage, socket: Duplex, status: number, code: ErrorCode): void => {
    metrics.refused(code);
    logger.debug({ code, address: request.socket.remoteAddress }, 'upgrade refused');
    writeRefusal(socket, status, code);
  };

  const handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const [path, query] = (request.url ?? '/').split('?');
    if (path !== config.path) return refuseUpgrade(request, socket, 404, ErrorCode.NOT_FOUND);
    // A tab may name its network up front, to get a bootstrap sample with the challenge.
    const network = new URLSearchParams(query ?? '').get('network') ?? undefined;
    if (network !== undefined && !isValidNetworkName(network))
      return refuseUpgrade(request, socket, 400, ErrorCode.BAD_FIELD);
    if (closing !== undefined) return refuseUpgrade(request, socket, 503, ErrorCode.SHUTTING_DOWN);
    if (!origins.allows(request.headers.origin, request.headers.host)) {
      return refuseUpgrade(request, socket, 403, ErrorCode.ORIGIN_REFUSED);
    }
    if (theHub.sessions.size >= config.maxPeers) return refuseUpgrade(request, socket, 503, ErrorCode.SERVER_FULL);
    const address = clientAddress(request, config.trustProxy);
    if (!perAddress.tryAcquire(address)) return refuseUpgrade(request, socket, 429, ErrorCode.TOO_MANY_CONNECTIONS);
    accept(request, socket, head, address, network);
  };

  // Kept apart from handleUpgrade so that the closures a connection keeps for
  // its whole life capture only what they use, never the request.
  const accept = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    address: string,
    network: string | undefined,
  ): void => {
    const release = releaser(perAddress, address);
    socket.once('close', release);
    // The 101 response and the challenge leave in one write.
    socket.cork();
    process.nextTick(() => socket.uncork());
    wss.handleUpgrade(request, socket, head, (ws) => {
      theHub.open(ws, socket, address, network, release);
    });
  };

  const mounted = options.httpServer !== undefined;
  const httpServer: Server = options.httpServer ?? createServer(handleRequest);
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // On a server of yours, other paths' upgrades belong to your other listeners.
    if (mounted && (request.url ?? '/').split('?')[0] !== config.path && httpServer.listenerCount('upgrade') > 1)
      return;
    handleUpgrade(request, socket, head);
  };
  httpServer.on('upgrade', onUpgrade);
  if (!mounted) {
    httpServer.on('clientError', (_error, socket) => {
      metrics.refused(ErrorCode.BAD_FRAME);
      socket.destroy();
    });
  }

  const heartbeat = setInterval(() => theHub.heartbeat(), config.heartbeatIntervalMs);
  const sweep = setInterval(
    () => theHub.sweepRegistrations(),
    Math.max(10, Math.min(1000, Math.floor(config.registrationTimeoutMs / 4))),
  );
  heartbeat.unref();
  sweep.unref();

  const server: SignalingServer = {
    handleRequest,
    handleUpgrade,
    metrics,
    async listen() {
      // With Redis, tabs that register at once are published at once (bounded: without Redis we start alone).
      await federation.ready();
      return new Promise((resolvePromise, reject) => {
        const listening = (): void => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          const info = { port: address.port, host: address.address, url: `http://${host}:${address.port}` };
          logger.info({ ...info, ws: `ws://${host}:${address.port}${config.path}` }, 'listening');
          resolvePromise(info);
        };
        if (httpServer.listening) return listening();
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, listening);
      });
    },
    stats() {
      return {
        connections: theHub.sessions.size,
        pending: theHub.pendingCount,
        peers: theHub.registry.size,
        networks: theHub.registry.networkCount,
        ...(federation instanceof RedisFederation ? { redis: federation.connected ? 'up' : 'down' } : {}),
      };
    },
    close() {
      closing ??= (async () => {
        logger.info({ connections: theHub.sessions.size }, 'shutting down');
        clearInterval(heartbeat);
        clearInterval(sweep);
        httpServer.off('upgrade', onUpgrade);
        // A server of yours stays open; only the signaling connections close.
        const stopped = new Promise<void>((done) => {
          if (mounted || !httpServer.listening) done();
          else httpServer.close(() => done());
        });
        if (!mounted) httpServer.closeIdleConnections();
        theHub.goaway(config.shutdownGraceMs);
        const allClosed = new Promise<void>((done) => {
          const check = (): void => {
            if (theHub.sessions.size === 0) done();
          };
          for (const session of theHub.sessions) session.socket.once('close', check);
          check();
        });
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<'timeout'>((done) => {
          timer = setTimeout(() => done('timeout'), config.shutdownGraceMs);
        });
        if ((await Promise.race([allClosed, grace])) === 'timeout') {
          logger.warn({ remaining: theHub.sessions.size }, 'shutdown grace over; terminating the rest');
          for (const session of theHub.sessions) session.socket.terminate();
        }
        clearTimeout(timer);
        if (!mounted) httpServer.closeAllConnections();
        await stopped;
        await federation.close();
        wss.close();
        logger.info({}, 'stopped');
      })();
      return closing;
    },
  };
  return server;
}
