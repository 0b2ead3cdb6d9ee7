/**
 * What differs between the places a node runs (a browser tab, a Node
 * process): how its identity and storage are loaded, its transport, its
 * WebSocket class, and whether same-browser tabs exist. boot() and
 * startNode() take one of these; the rest of the node is the same code.
 * The browser's is in browser-platform.ts, Node's in web/nodejs/.
 */
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { TabIdentity } from '../local/identity.js';
import type { HeadSocket, SocketConstructor } from '../signaling-client.js';
import type { KeyValueStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import type { Logger } from './options.js';

/** What loading gives: the node's Ed25519, storage, identity and stored peer cache. */
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

export interface Platform {
  /** A signaling socket opened before the node's code ran (the page's head), taken once; undefined elsewhere. */
  takeHeadSocket(): HeadSocket | undefined;
  /** Signaling URLs when the options give none (the page's own server); none where there is no page. */
  defaultSignaling(): string[];
  /** The WebSocket class; undefined: the global one, looked up when a socket is made. */
  readonly webSocket: SocketConstructor | undefined;
  /** Makes transports, unless NodeDeps gives one. */
  readonly transport: TransportFactory;
  /** Whether to find same-browser tabs over BroadcastChannel (a browser's; Node's reaches only its own workers). */
  readonly localTabs: boolean;
  /**
   * Start loading Ed25519, storage, the identity and the stored cache of
   * `network`. Called synchronously by boot(): what it starts before its
   * first await is under way before boot() returns.
   */
  load(network: string, logger: Logger): Promise<Booted>;
}
