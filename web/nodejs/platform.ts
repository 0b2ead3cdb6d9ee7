/**
 * Node's platform (see web/node/platform.ts): Ed25519 on node:crypto, the
 * `ws` package's WebSocket, no same-browser tabs, and storage in a data
 * directory (identity-file.ts, file-store.ts) or, without one, in memory
 * with a fresh identity each start.
 */
import WebSocket from 'ws';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { identityFromKeyPair } from '../../shared/identity/signing.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import type { TabIdentity } from '../local/identity.js';
import { cacheKey } from '../node/boot.js';
import type { Logger } from '../node/options.js';
import type { Booted, Platform } from '../node/platform.js';
import { memoryStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import { describe } from './data-dir.js';
import { FileStore, NODE_SLOT } from './file-store.js';
import { IdentityFile } from './identity-file.js';
import type { DirLock } from './lock.js';

/**
 * Largest frame the Node peer takes from a signaling server (ws's default is
 * 100 MiB): a hostile server could otherwise make it buffer that much per
 * frame. The largest honest frame, a welcome with its sample of records and
 * TURN credentials, is under a quarter of this. Oversize closes the socket
 * (1009) and the client reconnects elsewhere or later.
 */
export const MAX_SERVER_FRAME_BYTES = 256 * 1024;
/**
 * Bound on a signaling server's answer to the WebSocket upgrade: a server
 * that accepts the TCP connection and never answers would otherwise hold the
 * client in 'connecting' for good. The same bound as the server's own
 * headers timeout.
 */
export const SIGNALING_HANDSHAKE_TIMEOUT_MS = 10_000;

/** `ws`'s WebSocket with the bounds above. */
class BoundedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { maxPayload: MAX_SERVER_FRAME_BYTES, handshakeTimeout: SIGNALING_HANDSHAKE_TIMEOUT_MS });
  }
}

/** A data directory prepared and locked for one node. */
export interface OpenedDataDir {
  readonly path: string;
  readonly lock: DirLock;
}

export function nodePlatform(
  dir: OpenedDataDir | undefined,
  transport: TransportFactory,
  ed25519: Ed25519 | undefined,
): Platform {
  return {
    takeHeadSocket: () => undefined,
    // No page, so no server to default to: options.signaling is required.
    defaultSignaling: () => [],
    webSocket: BoundedWebSocket,
    transport,
    localTabs: false,
    load: (network, logger) => load(dir, ed25519 ?? createNodeEd25519(), network, logger),
  };
}

async function load(dir: OpenedDataDir | undefined, ed: Ed25519, network: string, logger: Logger): Promise<Booted> {
  if (dir === undefined) {
    const tab: TabIdentity = {
      identity: identityFromKeyPair(await ed.generate()),
      slot: undefined,
      release: () => undefined,
    };
    return { ed, store: memoryStore(), storageReason: undefined, tab, cached: undefined };
  }
  const file = await IdentityFile.open(dir.path, ed, logger);
  const store = new FileStore(dir.path, file, logger);
  let cached: unknown;
  try {
    cached = await store.get(cacheKey(network));
  } catch (error) {
    // An unreadable cache costs only the peers it held.
    logger.warn(`could not read the stored peer cache: ${describe(error)}`);
    cached = undefined;
  }
  const tab: TabIdentity = {
    identity: identityFromKeyPair(file.keyPair),
    slot: NODE_SLOT,
    release: () => dir.lock.release(),
  };
  return { ed, store, storageReason: undefined, tab, cached };
}
