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

/** The slot's seal key pair, made and stored on first use. `slot` undefined: not persisted. */
export async function loadSealKeys(nacl: Nacl, store: KeyValueStore, slot: number | undefined): Promise<SealKeyPair> {
  const key = `seal:${slot ?? 'unsaved'}`;
  const stored = slot === undefined ? undefined : parse(await store.get(key).catch(() => undefined));
  if (stored !== undefined && sealKeyPairMatches(nacl, stored)) return stored;
  const fresh = createSealKeyPair(nacl);
  if (slot !== undefined) await store.set(key, fresh).catch(() => undefined);
  return fresh;
}
