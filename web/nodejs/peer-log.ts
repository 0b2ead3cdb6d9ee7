/**
 * tabmesh-peer's log: one JSON line per event on stdout (pino, as
 * tabmesh-signal), each with `level`, `time` (ms since the epoch),
 * `service: "tabmesh-peer"`, the `event` name and the event's fields (no
 * `msg`). Which node events become which lines is watchNode's job;
 * docs/NODE.md lists them.
 */
import { pino, type DestinationStream } from 'pino';
import type { Logger, TabmeshNode } from '../node/options.js';
import type { PeerLogLevel } from './peer-config.js';

/** Every event name a line can carry. */
export type PeerEvent =
  | 'starting'
  | 'started'
  | 'joined'
  | 'signaling'
  | 'peer:connect'
  | 'peer:disconnect'
  | 'neighbours'
  | 'message'
  | 'warning'
  | 'node'
  | 'metrics'
  | 'stopping'
  | 'stopped'
  | 'stop-timeout'
  | 'stop-forced'
  | 'fatal';

export type PeerLog = Record<'debug' | 'info' | 'warn' | 'error', (event: PeerEvent, fields?: object) => void>;

/** The `service` field of every line, telling the peer's lines from the server's in one journal. */
export const PEER_LOG_SERVICE = 'tabmesh-peer';

/** A log writing to `destination` (default: stdout, synchronously, so a line before exit is never lost). */
export function createPeerLog(level: PeerLogLevel, destination?: DestinationStream): PeerLog {
  const options = { level, base: { service: PEER_LOG_SERVICE } };
  const logger = destination === undefined ? pino(options) : pino(options, destination);
  return {
    debug: (event, fields = {}) => logger.debug({ event, ...fields }),
    info: (event, fields = {}) => logger.info({ event, ...fields }),
    warn: (event, fields = {}) => logger.warn({ event, ...fields }),
    error: (event, fields = {}) => logger.error({ event, ...fields }),
  };
}

/**
 * The node's own diagnostics (its `logger` option) as `node` lines: the
 * node's text in `message`, its fields in `detail`.
 */
export function nodeLogger(log: PeerLog): Logger {
  const route =
    (level: keyof PeerLog) =>
    (message: string, fields?: object): void =>
      log[level]('node', fields === undefined ? { message } : { message, detail: plain(fields) });
  return { debug: route('debug'), info: route('info'), warn: route('warn'), error: route('error') };
}

/** `fields` with any Error among its values as its name, message and code (JSON would make it `{}`). */
function plain(fields: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]: [string, unknown]) => [
      key,
      value instanceof Error ? { name: value.name, message: value.message, ...errorCode(value) } : value,
    ]),
  );
}

function errorCode(error: Error): { code?: string } {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { code } : {};
}

/** The part of the node watchNode reads. */
export type WatchedNode = Pick<TabmeshNode, 'id' | 'network' | 'status' | 'connections' | 'addEventListener'>;

/**
 * Log the node's events until `signal` aborts: `joined` once (the first
 * signaling connection or peer connection, whichever comes first),
 * signaling state changes, connections, neighbour counts when they change,
 * warnings, and each message received (debug: sender and size, never the
 * payload).
 */
export function watchNode(node: WatchedNode, log: PeerLog, signal: AbortSignal): void {
  let joined = false;
  let signaling: string | undefined;
  let counts = '';
  const join = (via: 'signaling' | 'peer'): void => {
    if (joined) return;
    joined = true;
    const url = node.status.signalingUrl;
    log.info('joined', {
      id: node.id,
      network: node.network,
      via,
      ...(url === undefined ? {} : { signalingUrl: url }),
    });
  };
  const onStatus = (): void => {
    const status = node.status;
    if (status.signaling !== signaling) {
      signaling = status.signaling;
      log.info('signaling', { state: status.signaling, url: status.signalingUrl ?? null });
    }
    if (status.signaling === 'connected') join('signaling');
  };
  const listen = { signal };
  node.addEventListener('status', onStatus, listen);
  node.addEventListener(
    'peer:connect',
    (event) => {
      log.info('peer:connect', { peer: event.detail.peer, connections: node.connections().length });
      join('peer');
    },
    listen,
  );
  node.addEventListener(
    'peer:disconnect',
    ({ detail }) =>
      log.info('peer:disconnect', {
        peer: detail.peer,
        code: detail.code ?? null,
        reason: detail.reason,
        connections: node.connections().length,
      }),
    listen,
  );
  node.addEventListener(
    'neighbours',
    ({ detail }) => {
      const next = `${detail.active.length}/${detail.passive.length}`;
      if (next === counts) return;
      counts = next;
      log.info('neighbours', { active: detail.active.length, passive: detail.passive.length });
    },
    listen,
  );
  node.addEventListener(
    'warning',
    ({ detail }) => log.warn('warning', { code: detail.code, message: detail.message, peer: detail.peer ?? null }),
    listen,
  );
  node.addEventListener(
    'message',
    ({ detail }) =>
      log.debug('message', {
        from: detail.from,
        bytes: typeof detail.data === 'string' ? Buffer.byteLength(detail.data) : detail.data.byteLength,
        broadcast: detail.broadcast,
        routed: detail.routed ?? false,
      }),
    listen,
  );
  // The node may have reached the server before these listeners were added.
  onStatus();
}
