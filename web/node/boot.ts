/**
 * The first steps of starting a node, kept apart from the rest so a page can
 * run them before it has loaded and evaluated the rest of its script: open
 * the signaling socket, open storage, warm up Ed25519 and load this tab's
 * identity and cached peers. None of it needs WebRTC. `createNode` takes the
 * result, or boots by itself when given none.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { detectEd25519 } from '../../shared/identity/webcrypto.js';
import { isValidNetworkName } from '../../shared/records.js';
import { acquireTabIdentity, claimSlot, type TabIdentity } from '../local/identity.js';
import { EarlySocket } from '../signaling-client.js';
import { defaultSignaling, type HeadStart } from './early.js';
import { openStore, type KeyValueStore } from '../storage/store.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK, consoleLogger, type NodeDeps, type NodeOptions } from './options.js';

export interface Booted {
  readonly ed: Ed25519;
  readonly store: KeyValueStore;
  /** Why storage is in memory, when it is not by choice. */
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
  readonly ready: Promise<Booted>;
}

export function cacheKey(network: string): string {
  return `cache:${network}`;
}

/**
 * Check the options and start loading; throws BAD_FIELD for invalid options.
 * `head`: what the page started before its scripts loaded (see early.ts),
 * adopted where it matches the options.
 */
export function boot(options: NodeOptions = {}, deps: Pick<NodeDeps, 'ed25519'> = {}, head: HeadStart = {}): Boot {
  try {
    return start(options, deps, head);
  } catch (error) {
    head.socket?.socket.close();
    throw error;
  }
}

function start(options: NodeOptions, deps: Pick<NodeDeps, 'ed25519'>, head: HeadStart): Boot {
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
    early = new EarlySocket(urls[0] ?? '', network, head.socket);
  } catch {
    // An invalid first URL: the signaling client reports it when it tries.
    head.socket?.socket.close();
    early = undefined;
  }
  const ready = (async (): Promise<Booted> => {
    // Side by side: the first native Ed25519 call warms up the crypto library,
    // and a fresh IndexedDB takes a while to create.
    // The identity slot's Web Lock is claimed meanwhile too.
    const storage = options.storage ?? 'indexeddb';
    const slot = storage === 'memory' ? undefined : claimSlot();
    const [ed, { store, reason }] = await Promise.all([
      deps.ed25519 ?? detectEd25519(typeof crypto === 'undefined' ? undefined : crypto.subtle),
      openStore(storage, undefined, head.database),
    ]);
    if (reason !== undefined) logger.warn(reason);
    // The cached peers are read while the identity loads.
    const cached = store.get(cacheKey(network)).catch(() => undefined);
    const tab = await acquireTabIdentity(ed, store, (message) => logger.warn(message), slot);
    return { ed, store, storageReason: reason, tab, cached: await cached };
  })();
  return { network, urls, maxConnections, early, ready };
}
