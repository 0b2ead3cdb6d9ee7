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
import {
  AddressCounter,
  capSocketsPerAddress,
  clientAddress,
  OriginPolicy,
  selfOrigin,
  type SelfOrigin,
} from './admission.js';
import { DEFAULTS } from './defaults.js';
import { createNodeEd25519 } from './ed25519-node.js';
import { LOCAL_ONLY, type Federation } from './federation.js';
import { Hub } from './hub.js';
import { createLogger, type Logger } from './logger.js';
import { serveMetrics } from './metrics-endpoint.js';
import { FederationMetrics, ServerMetrics, StunMetrics } from './metrics.js';
import { resolveOptions, type SignalingServerOptions } from './options.js';
import { RedisFederation } from './redis-federation.js';
import { StunResponder } from './stun/responder.js';
import { announcedStunUrls } from './stun/urls.js';

export type { SignalingServerOptions } from './options.js';

/** Collaborators, injectable for tests and embedding. */
export interface SignalingServerDeps {
  readonly logger?: Logger;
  readonly ed25519?: Ed25519;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** Where a server listens; `metricsUrl` with metricsPort, `stunPort` (UDP, on `host`) with the STUN responder on. */
export interface ListenInfo {
  port: number;
  host: string;
  url: string;
  metricsUrl?: string;
  stunPort?: number;
}

export interface SignalingServer {
  /** Listen on the configured port and host (port 0 picks a free one), and metricsPort if set. */
  listen(): Promise<ListenInfo>;
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

/**
 * Connections the kernel may hold accepted before the server takes them
 * (listen(2)'s backlog; Linux caps it at net.core.somaxconn, 4096 by
 * default). Node's own default, 511, overflows in a reconnect storm: when a
 * restarted server's clients all come back within a second, the handshakes
 * past it are dropped, and a client whose final ACK was dropped believes it
 * is connected while the server never saw it, until its TCP gives up
 * (docs/BENCHMARKS.md, "Reconnect storm").
 */
export const LISTEN_BACKLOG = 4096;

/** Listen on `port` and `host` unless already listening; where it listens. */
function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    const listening = (): void => {
      server.off('error', reject);
      resolvePromise(server.address() as AddressInfo);
    };
    if (server.listening) return listening();
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, listening);
  });
}

/** An address as a URL's host: IPv6 in brackets. */
function urlHost(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/** Refuse an upgrade with a plain HTTP response; no WebSocket is made. */
function writeRefusal(socket: Duplex, status: number, code: ErrorCode): void {
  const body = `${code}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
}

/** Uncorks a socket: a shared function, so the tick that flushes the 101 and the challenge makes no closure. */
function uncork(socket: Duplex): void {
  socket.uncork();
}

export function createSignalingServer(
  options: SignalingServerOptions = {},
  deps: SignalingServerDeps = {},
): SignalingServer {
  const config = resolveOptions(options);
  const logger = deps.logger ?? createLogger();
  const now = deps.now ?? Date.now;
  const origins = new OriginPolicy(config.origins);
  const perAddress = new AddressCounter(config.maxConnectionsPerIp);
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
  const federation: Federation =
    options.redis === undefined
      ? LOCAL_ONLY
      : new RedisFederation(
          {
            url: options.redis,
            presenceTtlMs: config.presenceTtlMs,
            presenceRefreshMs: config.presenceRefreshMs,
            commandTimeoutMs: config.redisCommandTimeoutMs,
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
  const theHub: Hub = new Hub(config, {
    ed25519: deps.ed25519 ?? createNodeEd25519(),
    logger,
    metrics,
    now,
    random: deps.random ?? Math.random,
    federation,
    // One function for every connection: the session knows its address.
    closed: (session) => perAddress.release(session.address),
  });

  // noServer: we decide admission ourselves; clientTracking off: the hub tracks sessions.
  const wss = new WebSocketServer({
    WebSocket: theHub.socketClass,
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
  // The STUN responder starts in listen(), on the address the HTTP server got; challenges name it from then on.
  let stunResponder: StunResponder | undefined;
  let stunPort: number | undefined;
  // Where a tab is told to find it when its Host header names nothing usable.
  const publicHost = config.publicOrigin === undefined ? undefined : new URL(config.publicOrigin).hostname;

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
      serveMetrics(request, response, 'main', config.metricsToken, metrics, logger);
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
    if (!origins.allows(request.headers.origin, self())) {
      return refuseUpgrade(request, socket, 403, ErrorCode.ORIGIN_REFUSED);
    }
    if (theHub.sessions.size >= config.maxPeers) return refuseUpgrade(request, socket, 503, ErrorCode.SERVER_FULL);
    if (theHub.pendingCount >= config.maxPendingRegistrations)
      return refuseUpgrade(request, socket, 503, ErrorCode.SERVER_BUSY);
    const address = clientAddress(request, config.trustProxy);
    if (!perAddress.tryAcquire(address)) return refuseUpgrade(request, socket, 429, ErrorCode.TOO_MANY_CONNECTIONS);
    const stunUrls = announcedStunUrls(config.stun.urls, stunPort, request.headers.host, publicHost);
    accept(request, socket, head, address, network, stunUrls);
  };

  // Kept apart from handleUpgrade so that nothing a connection keeps for its
  // whole life can hold the request. It keeps no closure of its own at all:
  // its events reach the hub through the socket class, and its address slot
  // is released by the hub when the WebSocket closes.
  const accept = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    address: string,
    network: string | undefined,
    stunUrls: readonly string[] | undefined,
  ): void => {
    // The 101 response and the challenge leave in one write.
    socket.cork();
    process.nextTick(uncork, socket);
    const upgrade = { settled: false };
    wss.handleUpgrade(request, socket, head, (ws) => {
      // ws upgrades synchronously (no verifyClient); were it ever late, the slot was already given back below.
      if (upgrade.settled) {
        ws.terminate();
        return;
      }
      upgrade.settled = true;
      theHub.open(ws, socket, address, network, stunUrls);
    });
    if (!upgrade.settled) {
      // ws refused the handshake (and answered or destroyed the socket): no WebSocket holds the slot.
      upgrade.settled = true;
      perAddress.release(address);
    }
  };

  const mounted = options.httpServer !== undefined;
  const httpServer: Server =
    options.httpServer ??
    createServer(
      {
        // A request's headers (an upgrade request is nothing else) must all arrive within headersTimeoutMs;
        // Node checks every connectionsCheckingInterval, so that is a fraction of it.
        headersTimeout: config.headersTimeoutMs,
        requestTimeout: config.headersTimeoutMs,
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
      },
      handleRequest,
    );
  // What `self` stands for depends on the address listened on: known once listening.
  let selfCache: SelfOrigin | undefined;
  const self = (): SelfOrigin => {
    // Cached first: asking the socket (getsockname) on every upgrade cost ~2% of an admission's CPU.
    if (selfCache !== undefined) return selfCache;
    const bound = httpServer.address();
    if (bound === null || typeof bound === 'string') return { kind: 'none' };
    selfCache = selfOrigin(config.publicOrigin, bound);
    return selfCache;
  };
  // Behind a proxy every connection comes from the proxy: the cap on TCP connections is for a server facing clients.
  if (!mounted && !config.trustProxy)
    capSocketsPerAddress(httpServer, config.maxSocketsPerIp, () => {
      metrics.refused(ErrorCode.TOO_MANY_CONNECTIONS);
    });
  const metricsServer = config.metricsPort === undefined ? undefined : createMetricsServer();
  function createMetricsServer(): Server {
    return createServer(
      { headersTimeout: config.headersTimeoutMs, requestTimeout: config.headersTimeoutMs },
      (request, response) => {
        response.setHeader('X-Content-Type-Options', 'nosniff');
        if ((request.url ?? '/').split('?')[0] === '/metrics')
          serveMetrics(request, response, 'metrics', config.metricsToken, metrics, logger);
        else response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n');
      },
    );
  }
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // On a server of yours, other paths' upgrades belong to your other listeners.
    if (mounted && (request.url ?? '/').split('?')[0] !== config.path && httpServer.listenerCount('upgrade') > 1)
      return;
    handleUpgrade(request, socket, head);
  };
  httpServer.on('upgrade', onUpgrade);
  if (!mounted) {
    httpServer.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      // A request whose headers did not all arrive within headersTimeoutMs: told so, as Node would, and cut.
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      metrics.refused(timedOut ? ErrorCode.REQUEST_TIMEOUT : ErrorCode.BAD_FRAME);
      if (timedOut && socket.writable) socket.write('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
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
      const address = await listenOn(httpServer, config.port, config.host);
      const host = urlHost(address);
      const info: ListenInfo = { port: address.port, host: address.address, url: `http://${host}:${address.port}` };
      if (metricsServer !== undefined && config.metricsPort !== undefined) {
        const bound = await listenOn(metricsServer, config.metricsPort, config.metricsHost);
        info.metricsUrl = `http://${urlHost(bound)}:${bound.port}/metrics`;
      }
      if (config.stun.listen && closing === undefined && stunResponder === undefined) {
        const responder = (): StunResponder =>
          new StunResponder(address.address, { logger, metrics: new StunMetrics(metrics.registry), now });
        stunResponder = responder();
        // The HTTP port's number, unless told otherwise (where tabs expect it:
        // web/node/stun-prediction.ts). An HTTP port picked at random (0) may
        // find its number taken for UDP: then any free one.
        try {
          stunPort = (await stunResponder.listen(address.address, config.stun.port ?? address.port)).port;
        } catch (error) {
          if (config.stun.port !== undefined || config.port !== 0) throw error;
          await stunResponder.close();
          stunResponder = responder();
          stunPort = (await stunResponder.listen(address.address, 0)).port;
        }
      }
      if (stunPort !== undefined) info.stunPort = stunPort;
      if (origins.namesSelf && self().kind === 'none')
        logger.warn(
          { host: address.address },
          "origins has 'self' but no publicOrigin, and this server is not on loopback: 'self' allows no page",
        );
      logger.info({ ...info, ws: `ws://${host}:${address.port}${config.path}` }, 'listening');
      return info;
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
        if (metricsServer?.listening === true) {
          metricsServer.closeAllConnections();
          await new Promise((done) => metricsServer.close(done));
        }
        stunPort = undefined;
        await stunResponder?.close();
        await federation.close();
        wss.close();
        logger.info({}, 'stopped');
      })();
      return closing;
    },
  };
  return server;
}
