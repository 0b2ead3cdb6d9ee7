/**
 * What tabmesh-peer does once its options are read: listen for metrics,
 * start the node, log its events, and on SIGTERM or SIGINT close it within
 * SHUTDOWN_TIMEOUT_MS. Resolves with the exit code. The node's constructor
 * and the signal source come in as collaborators (the CLI passes the real
 * createNode and `process`).
 */
import { TabmeshError } from '../../shared/errors.js';
import type { NodeOptions, TabmeshNode } from '../node/options.js';
import type { PeerConfig } from './peer-config.js';
import { nodeLogger, watchNode, type PeerLog, type WatchedNode } from './peer-log.js';
import { listenForMetrics, PeerMetrics, type MetricsListener, type MetricsNode } from './peer-metrics.js';

/**
 * How long a signal gives the node to close its connections and release its
 * data folder; past it the process exits 1 anyway. Below Docker's stop grace
 * (10 s) and systemd's TimeoutStopSec (90 s by default), so the log says why.
 */
export const SHUTDOWN_TIMEOUT_MS = 5_000;
/** The `code` of a fatal line for an error that carries none. */
export const UNKNOWN_ERROR_CODE = 'UNKNOWN';

/** What runPeer uses of the node. */
export type RunnableNode = WatchedNode & MetricsNode & Pick<TabmeshNode, 'close'>;

/** createNode's options (web/nodejs/index.ts): the node's, and the data folder. */
export type PeerNodeOptions = NodeOptions & { readonly dataDir?: string };

export interface PeerRunDeps {
  readonly createNode: (options: PeerNodeOptions) => Promise<RunnableNode>;
  /** Where SIGTERM and SIGINT come from: `process`. */
  readonly signals: { on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown };
  /** The package version, for the starting line and tabmesh_peer_info. */
  readonly version: string;
}

interface Running {
  readonly node: RunnableNode;
  readonly metrics: MetricsListener | undefined;
}

/** An error's stable code: a TabmeshError's, else Node's (EADDRINUSE, ERR_MODULE_NOT_FOUND...), else UNKNOWN. */
export function errorCode(error: unknown): string {
  if (error instanceof TabmeshError) return error.code;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : UNKNOWN_ERROR_CODE;
}

/** One `fatal` line: the error's code and message (and its stack only when it has no code: unexpected). */
export function logFatal(log: PeerLog, error: unknown): void {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const stack = code === UNKNOWN_ERROR_CODE && error instanceof Error && error.stack !== undefined;
  log.error('fatal', { code, message, ...(stack ? { stack: error.stack } : {}) });
}

function nodeOptions(config: PeerConfig, log: PeerLog): PeerNodeOptions {
  return {
    signaling: config.signaling,
    network: config.network,
    maxConnections: config.maxConnections,
    iceServers: config.iceServers,
    logger: nodeLogger(log),
    ...(config.name === undefined ? {} : { name: config.name }),
    ...(config.dataDir === undefined ? {} : { dataDir: config.dataDir }),
  };
}

/** Listen for metrics first (a port in use stops us before anything is taken), then start the node. */
async function start(config: PeerConfig, log: PeerLog, deps: PeerRunDeps, signal: AbortSignal): Promise<Running> {
  const metrics =
    config.metrics === undefined
      ? undefined
      : await listenForMetrics(config.metrics.host, config.metrics.port, (error) =>
          log.error('metrics', { code: errorCode(error), message: String(error) }),
        );
  if (metrics !== undefined) log.info('metrics', { url: metrics.url });
  try {
    const node = await deps.createNode(nodeOptions(config, log));
    log.info('started', { id: node.id, network: node.network, crypto: node.status.crypto });
    watchNode(node, log, signal);
    metrics?.attach(new PeerMetrics(node, { version: deps.version, signal }));
    return { node, metrics };
  } catch (error) {
    await metrics?.close();
    throw error;
  }
}

async function stop(starting: Promise<Running>, watching: AbortController): Promise<void> {
  let running: Running;
  try {
    running = await starting;
  } catch {
    return; // Startup failed and said so in a fatal line: nothing to close.
  }
  watching.abort();
  await Promise.all([running.node.close(), running.metrics?.close()]);
}

/**
 * Run the peer until a signal stops it. Resolves 0 once stopped, 1 when it
 * cannot start, fails to stop, or outlives SHUTDOWN_TIMEOUT_MS, or on a
 * second signal (which does not wait).
 */
export function runPeer(config: PeerConfig, log: PeerLog, deps: PeerRunDeps): Promise<number> {
  log.info('starting', {
    version: deps.version,
    network: config.network,
    dataDir: config.dataDir ?? null,
    signaling: config.signaling,
    maxConnections: config.maxConnections,
    metrics: config.metrics === undefined ? null : `${config.metrics.host}:${config.metrics.port}`,
  });
  return new Promise((resolve) => {
    const watching = new AbortController();
    const starting = start(config, log, deps, watching.signal);
    starting.catch((error: unknown) => {
      logFatal(log, error);
      resolve(1);
    });
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn('stop-forced', { signal });
        resolve(1);
        return;
      }
      stopping = true;
      log.info('stopping', { signal });
      const timer = setTimeout(() => {
        log.error('stop-timeout', { timeoutMs: SHUTDOWN_TIMEOUT_MS });
        resolve(1);
      }, SHUTDOWN_TIMEOUT_MS);
      stop(starting, watching).then(
        () => {
          clearTimeout(timer);
          log.info('stopped');
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(timer);
          logFatal(log, error);
          resolve(1);
        },
      );
    };
    deps.signals.on('SIGTERM', onSignal);
    deps.signals.on('SIGINT', onSignal);
  });
}
