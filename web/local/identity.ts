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
  if (early !== undefined) return early;
  const stored = await store.get(key);
  const loaded = await usable(ed, stored);
  if (loaded !== undefined) return loaded;
  if (stored !== undefined) warn(`discarded an unusable identity in storage slot ${key}`);
  // A fresh key is used at once and stored meanwhile: this tab holds the
  // slot's lock, so nobody else writes the slot, and if the write fails the
  // tab still has an identity, only not the same one after a reload.
  const keep = (value: StoredWebCryptoKey | StoredSeed): void => {
    store.set(key, value).catch((error: unknown) => {
      warn(
        `could not store the new identity in slot ${key}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  };
  if (ed.name === 'webcrypto') {
    // Non-extractable: the private key never exists as bytes in JavaScript.
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    keep({ kind: 'webcrypto', publicKey, privateKey: pair.privateKey });
    return identityFromKeyPair({
      publicKey,
      sign: async (m) => new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, new Uint8Array(m))),
    });
  }
  const fresh = crypto.getRandomValues(new Uint8Array(32));
  keep({ kind: 'seed', seed: fresh });
  return identityFromKeyPair(await ed.fromSeed(fresh));
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
  const preferred = preferredSlot();
  const order = Array.from({ length: MAX_IDENTITY_SLOTS }, (_, i) => i);
  if (preferred !== undefined) {
    order.splice(order.indexOf(preferred), 1);
    order.unshift(preferred);
  }
  for (const slot of order) {
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
