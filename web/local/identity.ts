/**
 * One identity per live tab, kept across reloads. Identities live in numbered
 * slots in storage; a tab holds its slot's Web Lock for as long as it lives,
 * so two open tabs never share a slot (and so never an ID). A reloaded tab
 * prefers the slot it had (remembered in sessionStorage, which survives a
 * reload but not a new tab), so it gets its own ID back.
 */
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { verifyDetached } from '../../shared/identity/ed25519.js';
import { identityFromKeyPair, type Identity } from '../../shared/identity/signing.js';
import type { KeyValueStore } from '../storage/store.js';

/** Slots tried before giving up on a stable identity (one per concurrently open tab). */
export const MAX_IDENTITY_SLOTS = 64;
const SESSION_KEY = 'tabmesh:slot';

interface StoredWebCryptoKey {
  readonly kind: 'webcrypto';
  readonly publicKey: Uint8Array;
  readonly privateKey: CryptoKey;
}

interface StoredSeed {
  readonly kind: 'seed';
  readonly seed: Uint8Array;
}

export interface TabIdentity {
  readonly identity: Identity;
  /** The slot held, or undefined when the identity is not persisted. */
  readonly slot: number | undefined;
  /** Releases the slot's lock. */
  release(): void;
}

/** Hold the Web Lock for a slot until `release`; resolves false if another tab holds it. */
function holdLock(name: string): Promise<{ held: boolean; release: () => void }> {
  return new Promise((resolve) => {
    let release: () => void = () => undefined;
    const done = new Promise<void>((r) => {
      release = r;
    });
    navigator.locks
      .request(name, { ifAvailable: true }, async (lock) => {
        if (lock === null) {
          resolve({ held: false, release: () => undefined });
          return;
        }
        resolve({ held: true, release });
        await done;
      })
      .catch(() => resolve({ held: false, release: () => undefined }));
  });
}

function parseStoredKey(value: unknown): StoredWebCryptoKey | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, publicKey, privateKey } = value as Record<string, unknown>;
  if (kind !== 'webcrypto' || !(publicKey instanceof Uint8Array) || publicKey.length !== 32) return undefined;
  if (!(privateKey instanceof CryptoKey) || privateKey.algorithm.name !== 'Ed25519' || privateKey.type !== 'private') {
    return undefined;
  }
  return { kind, publicKey, privateKey };
}

function parseStoredSeed(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, seed } = value as Record<string, unknown>;
  return kind === 'seed' && seed instanceof Uint8Array && seed.length === 32 ? seed : undefined;
}

/** Check a loaded key pair signs what its public key verifies: foreign or corrupt entries fail. */
async function works(ed: Ed25519, identity: Identity, sign: (m: Uint8Array) => Promise<Uint8Array>): Promise<boolean> {
  const probe = new TextEncoder().encode(`tabmesh key check ${identity.id}`);
  try {
    return await verifyDetached(ed, identity.publicKey, probe, await sign(probe));
  } catch {
    // A key that cannot sign is as good as absent.
    return false;
  }
}

/** The identity in a stored slot entry, if it is one and its key checks out. */
async function usable(ed: Ed25519, stored: unknown): Promise<Identity | undefined> {
  const webKey = parseStoredKey(stored);
  if (webKey !== undefined && ed.name === 'webcrypto') {
    const sign = async (m: Uint8Array): Promise<Uint8Array> =>
      new Uint8Array(await crypto.subtle.sign('Ed25519', webKey.privateKey, new Uint8Array(m)));
    try {
      const identity = identityFromKeyPair({ publicKey: webKey.publicKey, sign });
      if (await works(ed, identity, sign)) return identity;
    } catch {
      // Not usable: the caller makes a fresh identity.
    }
  }
  const seed = parseStoredSeed(stored);
  if (seed !== undefined) {
    const pair = await ed.fromSeed(seed);
    const identity = identityFromKeyPair(pair);
    if (await works(ed, identity, (m) => pair.sign(m))) return identity;
  }
  return undefined;
}

/** The storage key of an identity slot. */
export function slotKey(slot: number): string {
  return `identity:${slot}`;
}

/** The slot this tab had before a reload, if any (sessionStorage survives a reload, not a new tab). */
export function preferredSlot(): number | undefined {
  let remembered: string | null;
  try {
    remembered = sessionStorage.getItem(SESSION_KEY);
  } catch {
    // Blocked storage: no slot remembered.
    return undefined;
  }
  const slot = Number(remembered ?? NaN);
  return Number.isInteger(slot) && slot >= 0 && slot < MAX_IDENTITY_SLOTS ? slot : undefined;
}

/**
 * A localStorage entry set once an identity is in this browser's IndexedDB.
 * Without it, a visit is a first visit: the tab makes its key at once and
 * stores it when the database has opened (creating a database takes tens of
 * ms), instead of waiting to find every slot empty.
 */
export const IDENTITY_STORED_KEY = 'tabmesh:identity-stored';

/** Whether an identity may be stored here (true where localStorage cannot tell). */
export function identityStoredBefore(): boolean {
  try {
    return localStorage.getItem(IDENTITY_STORED_KEY) !== null;
  } catch {
    // Blocked storage: assume there may be one, and look.
    return true;
  }
}

function markIdentityStored(): void {
  try {
    if (localStorage.getItem(IDENTITY_STORED_KEY) === null) localStorage.setItem(IDENTITY_STORED_KEY, '1');
  } catch {
    // Blocked storage: the next visit looks in the database first, as without the mark.
    return;
  }
}

/** A fresh Web Crypto key pair and its public key's bytes. */
export interface WebCryptoKey {
  readonly pair: CryptoKeyPair;
  readonly publicKey: Uint8Array;
}

async function webCryptoKey(): Promise<WebCryptoKey> {
  // Non-extractable: the private key never exists as bytes in JavaScript.
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  return { pair, publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)) };
}

/**
 * A first visit's key made while Ed25519 is still being detected (its
 * known-answer test: two round trips to the crypto thread that the key's
 * generation and export need not wait for). {@link claimFirstIdentity} uses
 * it only if detection chose Web Crypto, the backend that made it; undefined
 * (never a rejection) where Web Crypto has no Ed25519.
 */
export function earlyWebCryptoKey(): Promise<WebCryptoKey | undefined> {
  // Synchronous throws too (no `crypto`, or no `subtle` outside a secure context) end in undefined.
  return Promise.resolve()
    .then(webCryptoKey)
    .catch(() => undefined);
}

/** A fresh key (`early` if it came, when Web Crypto is the backend), and what to store for it. */
async function freshKey(
  ed: Ed25519,
  early?: Promise<WebCryptoKey | undefined>,
): Promise<{ identity: Identity; stored: StoredWebCryptoKey | StoredSeed }> {
  if (ed.name === 'webcrypto') {
    const { pair, publicKey } = (await early) ?? (await webCryptoKey());
    const identity = identityFromKeyPair({
      publicKey,
      sign: async (m) => new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, new Uint8Array(m))),
    });
    return { identity, stored: { kind: 'webcrypto', publicKey, privateKey: pair.privateKey } };
  }
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return { identity: identityFromKeyPair(await ed.fromSeed(seed)), stored: { kind: 'seed', seed } };
}

/** Store a fresh key in its slot (whose lock this tab holds), warning if that fails. */
async function keep(
  store: KeyValueStore,
  key: string,
  value: StoredWebCryptoKey | StoredSeed,
  warn: (m: string) => void,
): Promise<void> {
  try {
    await store.set(key, value);
    markIdentityStored();
  } catch (error) {
    warn(`could not store the new identity in slot ${key}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function loadOrCreate(
  ed: Ed25519,
  store: KeyValueStore,
  key: string,
  warn: (m: string) => void,
  prefetched: unknown,
): Promise<Identity> {
  // Read before this slot's lock was granted. A slot is written only by the
  // tab holding its lock, and only when it holds no usable key; so a key that
  // checks out is still the slot's key. Anything else (nothing) is read again.
  const early = await usable(ed, prefetched);
  if (early !== undefined) {
    markIdentityStored();
    return early;
  }
  const stored = await store.get(key);
  const loaded = await usable(ed, stored);
  if (loaded !== undefined) {
    markIdentityStored();
    return loaded;
  }
  if (stored !== undefined) warn(`discarded an unusable identity in storage slot ${key}`);
  // A fresh key is used at once and stored meanwhile: this tab holds the
  // slot's lock, so nobody else writes the slot, and if the write fails the
  // tab still has an identity, only not the same one after a reload.
  const fresh = await freshKey(ed);
  void keep(store, key, fresh.stored, warn);
  return fresh.identity;
}

/** Slots in the order a tab tries them: its own before a reload first. */
function slotOrder(): number[] {
  const preferred = preferredSlot();
  const order = Array.from({ length: MAX_IDENTITY_SLOTS }, (_, i) => i);
  if (preferred !== undefined) {
    order.splice(order.indexOf(preferred), 1);
    order.unshift(preferred);
  }
  return order;
}

/**
 * A first visit's identity ({@link identityStoredBefore} false), without
 * waiting for storage or a lock (on a first visit, both wait for the site's
 * storage to be created): a fresh key, used at once (a fresh key is nobody
 * else's, so no lock is needed to keep two tabs apart). It is stored
 * meanwhile in the lowest free slot that holds no usable key, under that
 * slot's lock, so a reload brings it back; `slot` is undefined until then.
 * Undefined without Web Locks: the caller takes the usual way.
 */
export async function claimFirstIdentity(
  ed: Ed25519,
  opening: Promise<{ readonly store: KeyValueStore }>,
  warn: (m: string) => void,
  early?: Promise<WebCryptoKey | undefined>,
): Promise<TabIdentity | undefined> {
  if (typeof navigator === 'undefined' || !('locks' in navigator)) return undefined;
  const fresh = await freshKey(ed, early);
  let slot: number | undefined;
  let release: (() => void) | undefined;
  // Set by release(), possibly while a slot is being claimed.
  let released = false;
  const isReleased = (): boolean => released;
  const settle = async (): Promise<void> => {
    const { store } = await opening;
    if (store.kind === 'memory') return;
    for (const candidate of slotOrder()) {
      if (isReleased()) return;
      const lock = await holdLock(`tabmesh:identity:${candidate}`);
      if (!lock.held) continue;
      const key = slotKey(candidate);
      // Read under the lock: only a tab holding it writes the slot. A usable
      // key there is some earlier tab's, for a later tab to come back to.
      const stored = await store.get(key);
      if (isReleased() || (await usable(ed, stored)) !== undefined) {
        lock.release();
        continue;
      }
      if (stored !== undefined) warn(`discarded an unusable identity in storage slot ${key}`);
      await store.set(key, fresh.stored);
      markIdentityStored();
      sessionStorage.setItem(SESSION_KEY, String(candidate));
      slot = candidate;
      if (isReleased()) lock.release();
      else release = lock.release;
      return;
    }
  };
  settle().catch((error: unknown) => {
    warn(`could not store the new identity: ${error instanceof Error ? error.message : String(error)}`);
  });
  return {
    identity: fresh.identity,
    get slot() {
      return slot;
    },
    release() {
      released = true;
      release?.();
    },
  };
}

/**
 * This tab's identity. With Web Locks and persistent storage: the slot it had
 * before a reload if free, else the lowest free slot. Without Web Locks (or
 * with memory storage) a fresh identity that lives as long as the page.
 */
export async function acquireTabIdentity(
  ed: Ed25519,
  store: KeyValueStore,
  warn: (m: string) => void,
  prefetched: ReadonlyMap<string, unknown> = new Map(),
): Promise<TabIdentity> {
  const hasLocks = typeof navigator !== 'undefined' && 'locks' in navigator;
  if (store.kind === 'memory' || !hasLocks) {
    if (!hasLocks) warn('Web Locks unavailable: this tab gets a fresh identity');
    return { identity: identityFromKeyPair(await ed.generate()), slot: undefined, release: () => undefined };
  }
  for (const slot of slotOrder()) {
    const lock = await holdLock(`tabmesh:identity:${slot}`);
    if (!lock.held) continue;
    const key = slotKey(slot);
    try {
      const identity = await loadOrCreate(ed, store, key, warn, prefetched.get(key));
      sessionStorage.setItem(SESSION_KEY, String(slot));
      return { identity, slot, release: lock.release };
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  warn(`all ${MAX_IDENTITY_SLOTS} identity slots are held by other tabs: this tab gets a fresh identity`);
  return { identity: identityFromKeyPair(await ed.generate()), slot: undefined, release: () => undefined };
}
