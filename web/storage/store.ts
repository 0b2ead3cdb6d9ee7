/**
 * Key-value storage for the node: IndexedDB through idb-keyval, or memory
 * when IndexedDB is missing or blocked. Values are structured-cloned (so
 * non-extractable CryptoKeys can be stored), and everything read back is
 * untrusted: callers parse it.
 */
import { createStore, del, get, getMany, set, type UseStore } from 'idb-keyval';

export interface KeyValueStore {
  /** For a store still opening ({@link storeWhenOpen}): 'indexeddb' until it has opened. 'file': Node's data directory. */
  readonly kind: 'indexeddb' | 'memory' | 'file';
  /** A store still opening: resolves with what it opened as. */
  readonly opened?: Promise<OpenedStore>;
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

export interface OpenedStore {
  readonly store: KeyValueStore;
  /** Why storage is in memory, when it was not asked for. */
  readonly reason?: string;
  /**
   * The values of the keys asked to be read with the probe, as stored then
   * (untrusted, like any read); empty for memory storage.
   */
  readonly prefetched: ReadonlyMap<string, unknown>;
}

/**
 * IndexedDB if it works here (a round trip proves it), else memory with the
 * reason. Private modes and blocked storage make IndexedDB throw or never
 * answer. The round trip reads `prefetch` (in one transaction), so what the
 * caller reads first costs no round trip of its own.
 */
export async function openStore(
  preferred: 'indexeddb' | 'memory',
  timeoutMs = 3000,
  prefetch: readonly string[] = [],
): Promise<OpenedStore> {
  if (preferred === 'memory') return { store: memoryStore(), prefetched: new Map() };
  try {
    // Even reading `indexedDB` throws where storage is blocked.
    if (typeof indexedDB === 'undefined') {
      return { store: memoryStore(), reason: 'IndexedDB is not available', prefetched: new Map() };
    }
    const handle: UseStore = createStore(IDB_DATABASE, IDB_STORE);
    // One read proves the database opens; blocked storage fails or hangs here.
    const keys = prefetch.length > 0 ? [...prefetch] : ['probe'];
    const probe = getMany(keys, handle);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const values = await Promise.race([
      probe,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('IndexedDB did not answer')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return {
      prefetched: new Map(prefetch.map((key, i): [string, unknown] => [key, values[i]])),
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
      prefetched: new Map(),
    };
  }
}

/**
 * A store to use while `opening` is under way: each call waits for it, then
 * goes to the store it opened (which may be memory: see {@link openStore}).
 */
export function storeWhenOpen(opening: Promise<OpenedStore>): KeyValueStore {
  let opened: OpenedStore | undefined;
  const settled = opening.then((result) => {
    opened = result;
    return result;
  });
  return {
    get kind() {
      return opened?.store.kind ?? 'indexeddb';
    },
    opened: settled,
    get: async (key) => (await settled).store.get(key),
    set: async (key, value) => (await settled).store.set(key, value),
    delete: async (key) => (await settled).store.delete(key),
  };
}
