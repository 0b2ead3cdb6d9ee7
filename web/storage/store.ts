/**
 * Key-value storage for the node: IndexedDB through idb-keyval, or memory
 * when IndexedDB is missing or blocked. Values are structured-cloned (so
 * non-extractable CryptoKeys can be stored), and everything read back is
 * untrusted: callers parse it.
 */
import { del, get, promisifyRequest, set, type UseStore } from 'idb-keyval';

export interface KeyValueStore {
  readonly kind: 'indexeddb' | 'memory';
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export function memoryStore(): KeyValueStore {
  const map = new Map<string, unknown>();
  return {
    kind: 'memory',
    get: (key) => Promise.resolve(map.get(key)),
    set: (key, value) => {
      map.set(key, value);
      return Promise.resolve();
    },
    delete: (key) => {
      map.delete(key);
      return Promise.resolve();
    },
  };
}

/** Database and object store names used in IndexedDB. */
export const IDB_DATABASE = 'tabmesh';
export const IDB_STORE = 'kv';

/**
 * IndexedDB if it works here (a round trip proves it), else memory with the
 * reason. Private modes and blocked storage make IndexedDB throw or never answer.
 */
export async function openStore(
  preferred: 'indexeddb' | 'memory',
  timeoutMs = 3000,
  started?: Promise<IDBDatabase>,
): Promise<{ store: KeyValueStore; reason?: string }> {
  if (preferred === 'memory') return { store: memoryStore() };
  try {
    // Even reading `indexedDB` throws where storage is blocked.
    if (typeof indexedDB === 'undefined') return { store: memoryStore(), reason: 'IndexedDB is not available' };
    // The database opening proves storage works; blocked storage fails or hangs here.
    const opening = started?.catch(() => openDatabase()) ?? openDatabase();
    const handle: UseStore = storeOn(opening);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      opening,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('IndexedDB did not answer')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return {
      store: {
        kind: 'indexeddb',
        get: (key) => get(key, handle),
        set: (key, value) => set(key, value, handle),
        delete: (key) => del(key, handle),
      },
    };
  } catch (error) {
    return {
      store: memoryStore(),
      reason: `IndexedDB unusable: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/**
 * Open (creating if new) the node's database, as idb-keyval's createStore
 * would. Exported for the page's first script, which starts this before the
 * rest of the page loads (web/app/head-start.ts).
 */
export function openDatabase(): Promise<IDBDatabase> {
  const request = indexedDB.open(IDB_DATABASE);
  request.onupgradeneeded = () => request.result.createObjectStore(IDB_STORE);
  return promisifyRequest(request);
}

/**
 * idb-keyval's store on an opening database; should the connection close
 * (the browser may close it), the next call opens a fresh one.
 */
function storeOn(opening: Promise<IDBDatabase>): UseStore {
  let current: Promise<IDBDatabase> | undefined;
  const watch = (database: Promise<IDBDatabase>): Promise<IDBDatabase> => {
    current = database;
    const forget = (): void => {
      if (current === database) current = undefined;
    };
    database.then((db) => db.addEventListener('close', forget), forget);
    return database;
  };
  void watch(opening);
  return (mode, callback) =>
    (current ?? watch(openDatabase())).then((db) => callback(db.transaction(IDB_STORE, mode).objectStore(IDB_STORE)));
}
