/**
 * `tabmesh/node`: a Tabmesh peer in Node 20+. The same node as in a tab (see
 * TabmeshNode, NodeEvents), made with the same options plus `dataDir`, over
 * WebRTC from the optional dependency @roamhq/wrtc (through simple-peer) and
 * signaling over the `ws` package. No same-browser tabs: Node's
 * BroadcastChannel reaches only workers of its own process.
 *
 * With `dataDir`, the identity (identity.json, 0600) and peer cache
 * (peers-<network>.json) persist there, in a directory created 0700 and
 * locked for one node at a time. Without it, storage is memory and the node
 * has a fresh identity (a new peer ID) each start.
 *
 * @module tabmesh/node
 */
import { consoleLogger, type NodeDeps, type NodeOptions, type TabmeshNode } from '../node/options.js';
import { startNode } from '../node/start.js';
import { simplePeerTransport } from '../transport/simple-peer.js';
import { prepareDataDir } from './data-dir.js';
import { acquireLock } from './lock.js';
import { nodePlatform, type OpenedDataDir } from './platform.js';
import { loadWrtc } from './wrtc.js';

/** createNode's options in Node: a tab's, without `storage`, with `dataDir`. */
export interface NodeJsOptions extends Omit<NodeOptions, 'storage'> {
  /**
   * Directory for the identity and peer cache, created (0700) if absent, used
   * by one node at a time (DATA_DIR_LOCKED otherwise). Default none: memory
   * storage and a fresh identity each start.
   */
  readonly dataDir?: string;
  /** Required in Node (there is no page to default to). */
  readonly signaling?: readonly string[];
}

/**
 * Create a Node peer and start joining. Rejects with a TabmeshError:
 * BAD_FIELD (invalid options, no `signaling`), WEBRTC_UNAVAILABLE
 * (@roamhq/wrtc missing and no `deps.transport`), DATA_DIR_LOCKED,
 * DATA_DIR_UNUSABLE. `node.close()` releases the data directory.
 */
export async function createNode(options: NodeJsOptions = {}, deps: NodeDeps = {}): Promise<TabmeshNode> {
  const { dataDir, ...nodeOptions } = options;
  const logger = options.logger ?? consoleLogger;
  const transport = deps.transport ?? simplePeerTransport(await loadWrtc());
  let dir: OpenedDataDir | undefined;
  if (dataDir !== undefined) {
    const path = await prepareDataDir(dataDir, logger);
    dir = { path, lock: acquireLock(path, logger) };
  }
  try {
    return await startNode(nodePlatform(dir, transport, deps.ed25519), nodeOptions, deps);
  } catch (error) {
    dir?.lock.release();
    throw error;
  }
}

export { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK } from '../node/options.js';
export type {
  KnownPeer,
  LimitCounters,
  LinkInfo,
  Logger,
  MessageDetail,
  NodeDeps,
  NodeEvents,
  NodeOptions,
  NodeStatus,
  StorageKind,
  TabmeshNode,
} from '../node/options.js';
export type { Transport, TransportEvents, TransportFactory, TransportOptions } from '../transport/transport.js';
export { ErrorCode, TabmeshError, isGone, unlessGone, type Result } from '../../shared/errors.js';
export type { SignalingSocket, SignalingState, SocketConstructor } from '../signaling-client.js';
export type { MeshCounters } from '../node/mesh.js';
export type { CacheStats } from '../node/peer-book.js';
export { parsePeerId, shortPeerId, type PeerId } from '../../shared/identity/peer-id.js';
export { isValidDisplayName } from '../../shared/records.js';
export { DIR_MODE, IDENTITY_FILE, LOCK_FILE, peersFile } from './data-dir.js';
export { IDENTITY_FORMAT, IDENTITY_VERSION, MAX_IDENTITY_FILE_BYTES } from './identity-file.js';
export { DATA_FILE_FORMAT, DATA_FILE_VERSION, MAX_DATA_FILE_BYTES } from './file-store.js';
export { WRTC_PACKAGE } from './wrtc.js';
