/**
 * createNode(): the public way to make a node in a browser tab. Its first
 * steps (boot.ts) start before its first await; see start.ts.
 */
import { browserPlatform } from './browser-platform.js';
import type { NodeDeps, NodeOptions, TabmeshNode } from './options.js';
import { startNode } from './start.js';

/**
 * Create a node, load (or make) this tab's identity and cache, and start
 * joining. Its first steps (boot.ts) run before this returns: the
 * signaling socket, storage, Ed25519 and the first offer are under way at
 * once.
 */
export function createNode(options: NodeOptions = {}, deps: NodeDeps = {}): Promise<TabmeshNode> {
  return startNode(browserPlatform(options.storage ?? 'indexeddb', deps.ed25519), options, deps);
}
