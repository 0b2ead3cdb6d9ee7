/**
 * createNode(): the public way to make a node. Its first steps (boot.ts)
 * start before its first await; it then restores the verified peer cache,
 * signs our record, and starts a TabNode.
 */
import { PeerCache } from '../../shared/peer-cache.js';
import { boot } from './boot.js';
import { TabNode } from './node.js';
import { consoleLogger, type NodeDeps, type NodeOptions, type TabmeshNode } from './options.js';
import { signOwnRecord } from './peer-book.js';

/**
 * Create a node, load (or make) this tab's identity and cache, and start
 * joining. Its first steps ({@link boot}) run before this returns: the
 * signaling socket, storage, Ed25519 and the first offer are under way at
 * once.
 */
export async function createNode(options: NodeOptions = {}, deps: NodeDeps = {}): Promise<TabmeshNode> {
  const started = boot(options, deps);
  const { network, urls, maxConnections, early, iceServers, transport } = started;
  const logger = options.logger ?? consoleLogger;
  const now = deps.now ?? Date.now;
  const { ed, store, storageReason, tab, cached } = await started.ready;
  const { cache, dropped } = await PeerCache.restore(cached, ed, { now: now(), network, self: tab.identity.id });
  if (dropped > 0) logger.warn(`dropped ${dropped} unusable entries from the stored peer cache`);
  const settings = { urls, name: options.name };
  const record = await signOwnRecord(tab.identity, network, settings, undefined, now(), undefined);
  const node = new TabNode(tab, ed, store, cache, record, network, {
    ...settings,
    maxConnections,
    storageReason,
    iceServers,
    logger,
    transport,
    now,
    random: deps.random ?? Math.random,
  });
  node.start(early);
  return node;
}
