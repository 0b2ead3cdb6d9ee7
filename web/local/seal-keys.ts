/**
 * This tab's X25519 key pair for sealed mesh traffic (tweetnacl `box`),
 * kept beside its identity in the same slot, so a reloaded tab can open what
 * was sealed to the key in its record. A stored pair is used only if its
 * halves match; anything else is replaced.
 */
import { createSealKeyPair, sealKeyPairMatches, type Nacl, type SealKeyPair } from '../../shared/seal.js';
import type { KeyValueStore } from '../storage/store.js';

function parse(value: unknown): SealKeyPair | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { publicKey, secretKey } = value as Record<string, unknown>;
  if (!(publicKey instanceof Uint8Array) || !(secretKey instanceof Uint8Array)) return undefined;
  return { publicKey, secretKey };
}

/**
 * The slot's seal key pair, made and stored on first use. `slot` undefined:
 * not persisted. Storage that fails is reported to `warn` and costs only
 * persistence: the tab seals with a fresh pair (its record names that key).
 */
export async function loadSealKeys(
  nacl: Nacl,
  store: KeyValueStore,
  slot: number | undefined,
  warn: (message: string, error: unknown) => void,
): Promise<SealKeyPair> {
  const key = `seal:${slot ?? 'unsaved'}`;
  let stored: SealKeyPair | undefined;
  if (slot !== undefined) {
    try {
      stored = parse(await store.get(key));
    } catch (error) {
      warn('could not read the stored seal keys; making new ones', error);
    }
  }
  if (stored !== undefined && sealKeyPairMatches(nacl, stored)) return stored;
  const fresh = createSealKeyPair(nacl);
  if (slot !== undefined) {
    try {
      await store.set(key, fresh);
    } catch (error) {
      warn('could not store the seal keys; after a reload this tab will make new ones', error);
    }
  }
  return fresh;
}
