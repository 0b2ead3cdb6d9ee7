/**
 * The page's first script, inlined into index.html's head at build time (the
 * `tabmesh-head-start` plugin in vite.config.ts). It runs as the page starts
 * to parse, before the stylesheet and the page's modules load, and starts
 * the two slow things a visit waits for: the signaling socket (to the page's
 * own server, unless `?signaling=` names others) and the IndexedDB database.
 * `boot()` adopts both (web/node/early.ts). It must never break the page:
 * whatever fails here, the node starts its own later.
 */
import { DEFAULT_NETWORK } from '../node/options.js';
import { defaultSignaling, startSocket, type HeadStart } from '../node/early.js';
import { openDatabase } from '../storage/store.js';

declare global {
  interface Window {
    tabmeshHead?: HeadStart;
  }
}

try {
  const params = new URLSearchParams(location.search);
  // As optionsFromUrl (url.ts) reads them; boot() checks the socket's URL anyway.
  const ownServer = (params.get('signaling') ?? '').split(',').every((url) => url.trim() === '');
  const [url] = defaultSignaling();
  const socket =
    ownServer && url !== undefined ? startSocket(url, params.get('network') || DEFAULT_NETWORK) : undefined;
  let database: Promise<IDBDatabase> | undefined;
  try {
    database = openDatabase();
    // Failure is boot()'s to report; it must not surface here as unhandled.
    database.catch(() => undefined);
  } catch {
    // Storage blocked (even reading `indexedDB` throws): boot() finds out too.
  }
  window.tabmeshHead = { ...(socket === undefined ? {} : { socket }), ...(database === undefined ? {} : { database }) };
} catch {
  // Nothing started: boot() starts everything itself.
}
