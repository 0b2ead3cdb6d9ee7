/**
 * `tabmesh`: the browser node. `createNode(options)` makes this tab a peer;
 * see TabmeshNode for its API and NodeEvents for its events. Built as plain
 * ES modules with every dependency included (dist/lib), so a consumer's
 * bundler needs no `global` or `process` setup.
 *
 * The page (web/app) and the widget (web/widget) use the node through this
 * module only (enforced in eslint.config.js): what they need is exported here.
 *
 * @module tabmesh
 */
export { createNode } from './node/create.js';
export type { TabmeshNode } from './node/options.js';
export { defaultSignalingUrl } from './node/boot.js';
export {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_NETWORK,
  type KnownPeer,
  type LinkInfo,
  type LimitCounters,
  type Logger,
  type MessageDetail,
  type NodeDeps,
  type NodeEvents,
  type NodeOptions,
  type NodeStatus,
  type StorageKind,
} from './node/options.js';
export type { Transport, TransportEvents, TransportFactory, TransportOptions } from './transport/transport.js';
export { ErrorCode, TabmeshError, isGone, unlessGone, type Result } from '../shared/errors.js';
export type { SignalingSocket, SignalingState, SocketConstructor } from './signaling-client.js';
export type { MeshCounters } from './node/mesh.js';
export type { CacheStats } from './node/peer-book.js';
export { parsePeerId, shortPeerId, type PeerId } from '../shared/identity/peer-id.js';
export { isValidDisplayName } from '../shared/records.js';
