/**
 * The browser's platform (see platform.ts): IndexedDB (or memory) storage,
 * one identity per tab in slots held with Web Locks, the browser's WebRTC
 * and WebSocket, the socket the page's head may have opened, and
 * same-browser tabs over BroadcastChannel.
 */
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { detectEd25519 } from '../../shared/identity/webcrypto.js';
import {
  acquireTabIdentity,
  claimFirstIdentity,
  earlyWebCryptoKey,
  identityStoredBefore,
  preferredSlot,
  slotKey,
} from '../local/identity.js';
import { takeHeadSocket } from '../signaling-client.js';
import { openStore, storeWhenOpen, type OpenedStore } from '../storage/store.js';
import { simplePeerTransport } from '../transport/simple-peer.js';
import { cacheKey, defaultSignalingUrl } from './boot.js';
import type { Logger } from './options.js';
import type { Booted, Platform } from './platform.js';

/** The signaling endpoint of the page's own server, when running in a page. */
function defaultSignaling(): string[] {
  if (typeof location === 'undefined' || !location.host) return [];
  return [defaultSignalingUrl(location)];
}

/** A tab's platform; `ed25519` given replaces the detected implementation. */
export function browserPlatform(storage: 'indexeddb' | 'memory', ed25519: Ed25519 | undefined): Platform {
  return {
    takeHeadSocket,
    defaultSignaling,
    webSocket: undefined,
    transport: simplePeerTransport(),
    localTabs: true,
    load: (network, logger) => load(storage, ed25519, network, logger),
  };
}

async function load(
  storage: 'indexeddb' | 'memory',
  given: Ed25519 | undefined,
  network: string,
  logger: Logger,
): Promise<Booted> {
  // Storage's first round trip reads the peer cache and the identity slot
  // this tab tries first (the one it had before a reload, else the first):
  // a returning visitor needs no other read.
  const slot = preferredSlot() ?? 0;
  const cachedKey = cacheKey(network);
  const opening = openStore(storage, undefined, [cachedKey, slotKey(slot)]);
  let opened: OpenedStore | undefined;
  void opening.then((result) => {
    opened = result;
    if (result.reason !== undefined) logger.warn(result.reason);
  });
  // A first visit makes its key while Ed25519 is detected (used only if
  // detection picks Web Crypto).
  const first = storage === 'indexeddb' && !identityStoredBefore();
  const early = first && given === undefined ? earlyWebCryptoKey() : undefined;
  // The database opens (a fresh one takes a while to create) while the
  // first native Ed25519 call warms up the crypto library.
  const ed = await (given ?? detectEd25519(typeof crypto === 'undefined' ? undefined : crypto.subtle));
  const warn = (message: string): void => logger.warn(message);
  // A first visit has no identity or peers to read: it goes on while the
  // database is created (unless storage has already given its answer).
  if (first && opened === undefined && !identityStoredBefore()) {
    const tab = await claimFirstIdentity(ed, opening, warn, early);
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
}
