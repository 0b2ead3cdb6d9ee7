/**
 * The first steps of starting a node, which `startNode` runs before its
 * first await: open the signaling socket (or adopt the one the page's head
 * opened), start the platform's loading (storage, Ed25519, this node's
 * identity and cached peers: see platform.ts), and start the first offer.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { isValidNetworkName } from '../../shared/records.js';
import { EarlySocket, type HeadSocket, type SocketConstructor } from '../signaling-client.js';
import type { TransportFactory } from '../transport/transport.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK, consoleLogger, type NodeDeps, type NodeOptions } from './options.js';
import type { Booted, Platform } from './platform.js';
import { expectedStun } from './stun-prediction.js';
import { prepareOffer } from './warm-transport.js';

export type { Booted } from './platform.js';

export interface Boot {
  readonly network: string;
  readonly urls: readonly string[];
  readonly maxConnections: number;
  /** The signaling socket, opened at once (undefined for an invalid first URL). */
  readonly early: EarlySocket | undefined;
  /** The WebSocket class (NodeDeps', else the platform's; undefined: the global one). */
  readonly webSocket: SocketConstructor | undefined;
  /** The ICE servers (options.iceServers, default none). */
  readonly iceServers: NonNullable<NodeOptions['iceServers']>;
  /**
   * What every transport is made with: the options' ICE transport policy
   * applied, and the first initiator asked for with the same ICE servers
   * (`iceServers`, or when it is empty the STUN servers the signaling server
   * is expected to name: stun-prediction.ts) gets the
   * offer started here (unless the ICE servers are yet to be fetched).
   */
  readonly transport: TransportFactory;
  readonly ready: Promise<Booted>;
}

/**
 * The signaling endpoint of the server that served `origin` (a page's
 * `location`, or a script's URL): `/ws` on its host, `wss:` from an `https:`
 * origin, else `ws:`. The one place this URL is built; the page's head script
 * (web/index.html), which cannot import it, writes a copy that
 * test/unit/page-head.test.ts checks against this.
 */
export function defaultSignalingUrl(origin: { readonly protocol: string; readonly host: string }): string {
  return `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}/ws`;
}

export function cacheKey(network: string): string {
  return `cache:${network}`;
}

type BootDeps = Pick<NodeDeps, 'transport' | 'webSocket' | 'now'>;

/** Check the options and start loading; throws BAD_FIELD for invalid options. */
export function boot(platform: Platform, options: NodeOptions = {}, deps: BootDeps = {}): Boot {
  // The socket the page's head opened: adopted below if it suits, else closed.
  const head = platform.takeHeadSocket();
  try {
    return start(platform, options, deps, head);
  } catch (error) {
    head?.socket.close();
    throw error;
  }
}

function start(platform: Platform, options: NodeOptions, deps: BootDeps, head?: HeadSocket): Boot {
  const network = options.network ?? DEFAULT_NETWORK;
  if (!isValidNetworkName(network)) throw new TabmeshError(ErrorCode.BAD_FIELD, 'invalid network name');
  const urls = options.signaling ?? platform.defaultSignaling();
  if (urls.length === 0)
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'no signaling URL given and no page origin to default to');
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'maxConnections must be a positive integer');
  }
  const logger = options.logger ?? consoleLogger;
  const webSocket = deps.webSocket ?? platform.webSocket;
  let early: EarlySocket | undefined;
  try {
    early = new EarlySocket(urls[0] ?? '', network, head, webSocket);
  } catch {
    // An invalid first URL: the signaling client reports it when it tries.
    head?.socket.close();
    early = undefined;
  }
  // Runs up to its first await now: storage is asked for before the offer below.
  const ready = platform.load(network, logger);
  // The first offer starts now, after the socket and the database were asked
  // for: creating a peer connection takes the main thread a few ms, and they
  // progress meanwhile.
  const iceServers = options.iceServers ?? [];
  const policy = options.iceTransportPolicy ?? 'all';
  const given = deps.transport ?? platform.transport;
  const transport: TransportFactory = (transportOptions, events) =>
    given({ ...transportOptions, iceTransportPolicy: policy }, events);
  return {
    network,
    urls,
    maxConnections,
    early,
    webSocket,
    iceServers,
    transport:
      typeof iceServers === 'function'
        ? transport
        : // With no servers of the application's, the first offer is made with the STUN the server will name.
          prepareOffer(
            transport,
            iceServers.length === 0 ? expectedStun(urls[0] ?? '') : iceServers,
            deps.now ?? Date.now,
          ),
    ready,
  };
}
