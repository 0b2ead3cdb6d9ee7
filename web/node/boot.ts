/**
 * The first steps of starting a node, which `createNode` runs before its
 * first await: open the signaling socket (or adopt the one the page's head
 * opened), open storage, warm up Ed25519, load this tab's identity and
 * cached peers, and start the first offer.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { detectEd25519 } from '../../shared/identity/webcrypto.js';
import { isValidNetworkName } from '../../shared/records.js';
import {
  acquireTabIdentity,
  claimFirstIdentity,
  identityStoredBefore,
  preferredSlot,
  slotKey,
  type TabIdentity,
} from '../local/identity.js';
import { EarlySocket, takeHeadSocket, type HeadSocket } from '../signaling-client.js';
import { openStore, storeWhenOpen, type KeyValueStore, type OpenedStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import { simplePeerTransport } from '../transport/simple-peer.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK, consoleLogger, type NodeDeps, type NodeOptions } from './options.js';
import { prepareOffer } from './warm-transport.js';

export interface Booted {
  readonly ed: Ed25519;
  /** On a first visit, a store still opening (its `opened` says how it ends). */
  readonly store: KeyValueStore;
  /** Why storage is in memory, when it is not by choice (so far, for a store still opening). */
  readonly storageReason: string | undefined;
  readonly tab: TabIdentity;
  /** The stored peer cache, still to be parsed and verified. */
  readonly cached: unknown;
}

export interface Boot {
  readonly network: string;
  readonly urls: readonly string[];
  readonly maxConnections: number;
  /** The signaling socket, opened at once (undefined for an invalid first URL). */
  readonly early: EarlySocket | undefined;
  /** The ICE servers (options.iceServers, default none). */
  readonly iceServers: NonNullable<NodeOptions['iceServers']>;
  /**
   * What every transport is made with: the options' ICE transport policy
   * applied, and the first initiator asked for with `iceServers` gets the
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

/** The signaling endpoint of the page's own server, when running in a page. */
function defaultSignaling(): string[] {
  if (typeof location === 'undefined' || !location.host) return [];
  return [defaultSignalingUrl(location)];
}

export function cacheKey(network: string): string {
  return `cache:${network}`;
}

/** Check the options and start loading; throws BAD_FIELD for invalid options. */
export function boot(options: NodeOptions = {}, deps: Pick<NodeDeps, 'ed25519' | 'transport' | 'now'> = {}): Boot {
  // The socket the page's head opened: adopted below if it suits, else closed.
  const head = takeHeadSocket();
  try {
    return start(options, deps, head);
  } catch (error) {
    head?.socket.close();
    throw error;
  }
}

function start(options: NodeOptions, deps: Pick<NodeDeps, 'ed25519' | 'transport' | 'now'>, head?: HeadSocket): Boot {
  const network = options.network ?? DEFAULT_NETWORK;
  if (!isValidNetworkName(network)) throw new TabmeshError(ErrorCode.BAD_FIELD, 'invalid network name');
  const urls = options.signaling ?? defaultSignaling();
  if (urls.length === 0)
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'no signaling URL given and no page origin to default to');
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'maxConnections must be a positive integer');
  }
  const logger = options.logger ?? consoleLogger;
  let early: EarlySocket | undefined;
  try {
    early = new EarlySocket(urls[0] ?? '', network, head);
  } catch {
    // An invalid first URL: the signaling client reports it when it tries.
    head?.socket.close();
    early = undefined;
  }
  const ready = (async (): Promise<Booted> => {
    // Storage's first round trip reads the peer cache and the identity slot
    // this tab tries first (the one it had before a reload, else the first):
    // a returning visitor needs no other read.
    const slot = preferredSlot() ?? 0;
    const cachedKey = cacheKey(network);
    const storage = options.storage ?? 'indexeddb';
    const opening = openStore(storage, undefined, [cachedKey, slotKey(slot)]);
    let opened: OpenedStore | undefined;
    void opening.then((result) => {
      opened = result;
      if (result.reason !== undefined) logger.warn(result.reason);
    });
    // The database opens (a fresh one takes a while to create) while the
    // first native Ed25519 call warms up the crypto library.
    const ed = await (deps.ed25519 ?? detectEd25519(typeof crypto === 'undefined' ? undefined : crypto.subtle));
    const warn = (message: string): void => logger.warn(message);
    // A first visit has no identity or peers to read: it goes on while the
    // database is created (unless storage has already given its answer).
    if (storage === 'indexeddb' && opened === undefined && !identityStoredBefore()) {
      const tab = await claimFirstIdentity(ed, opening, warn);
      if (tab !== undefined) {
        const store = storeWhenOpen(opening);
        // The node hears from `store.opened` should storage end in memory.
        return { ed, store, storageReason: undefined, tab, cached: undefined };
      }
    }
    const { store, reason, prefetched } = await opening;
    // Memory storage prefetches nothing, and starts empty: no cache either way.
    const cached = prefetched.get(cachedKey);
    const tab = await acquireTabIdentity(ed, store, warn, prefetched);
    return { ed, store, storageReason: reason, tab, cached };
  })();
  // The first offer starts now, after the socket and the database were asked
  // for: creating a peer connection takes the main thread a few ms, and they
  // progress meanwhile.
  const iceServers = options.iceServers ?? [];
  const policy = options.iceTransportPolicy ?? 'all';
  const given = deps.transport ?? simplePeerTransport();
  const transport: TransportFactory = (transportOptions, events) =>
    given({ ...transportOptions, iceTransportPolicy: policy }, events);
  return {
    network,
    urls,
    maxConnections,
    early,
    iceServers,
    transport: typeof iceServers === 'function' ? transport : prepareOffer(transport, iceServers, deps.now ?? Date.now),
    ready,
  };
}
