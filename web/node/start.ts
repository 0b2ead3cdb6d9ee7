/**
 * startNode(): a node on a given platform (a tab's, or Node's). Its first
 * steps (boot.ts) start before its first await; it then restores the
 * verified peer cache, signs our record, and starts a TabNode.
 */
import { PEER_CACHE_SALT_BYTES } from '../../shared/limits.js';
import { restoreCache } from '../../shared/peer-cache-store.js';
import { boot, type Booted } from './boot.js';
import { TabNode } from './node.js';
import { consoleLogger, type NodeDeps, type NodeOptions, type TabmeshNode } from './options.js';
import { signOwnRecord } from './peer-book.js';
import type { Platform } from './platform.js';

/**
 * Start a node on `platform`: boot() runs before this returns (the
 * signaling socket, storage, Ed25519 and the first offer are under way at
 * once). Should it fail after loading, the identity (and its lock) is
 * released and the early socket closed.
 */
export async function startNode(platform: Platform, options: NodeOptions, deps: NodeDeps): Promise<TabmeshNode> {
  const started = boot(platform, options, deps);
  const { network, urls, maxConnections, early, iceServers, transport, webSocket } = started;
  const logger = options.logger ?? consoleLogger;
  const now = deps.now ?? Date.now;
  let booted: Booted;
  try {
    booted = await started.ready;
  } catch (error) {
    early?.socket.close();
    throw error;
  }
  const { ed, store, storageReason, tab, cached } = booted;
  try {
    const restored = await restoreCache(cached, ed, {
      now: now(),
      network,
      self: tab.identity.id,
      // Used when no salt is stored yet (or it is corrupt): secret, so no one can aim records at a bucket.
      freshSalt: crypto.getRandomValues(new Uint8Array(PEER_CACHE_SALT_BYTES)),
    });
    if (restored.dropped > 0) logger.warn(`dropped ${restored.dropped} unusable entries from the stored peer cache`);
    const settings = { urls, name: options.name };
    const record = await signOwnRecord(tab.identity, network, settings, undefined, now(), undefined);
    const node = new TabNode(tab, ed, store, restored, record, network, {
      ...settings,
      maxConnections,
      storageReason,
      iceServers,
      logger,
      transport,
      webSocket,
      localTabs: platform.localTabs,
      now,
      random: deps.random ?? Math.random,
    });
    node.start(early);
    return node;
  } catch (error) {
    early?.socket.close();
    tab.release();
    throw error;
  }
}
