/**
 * Sealing to a peer's X25519 key with tweetnacl `box`, for whatever travels
 * through other peers: a fresh ephemeral key pair per seal, so the sender
 * needs no key of its own here and forwarders learn nothing. The seal gives
 * confidentiality and integrity only; who sent it is proven by the Ed25519
 * signature inside.
 *
 * Sealed form: ephemeral public key (32) ‖ nonce (24) ‖ box.
 *
 * tweetnacl is passed in rather than imported, so the page's first script
 * does not carry it: callers load it with {@link loadNacl} when first needed.
 */
import type naclModule from 'tweetnacl';
import { concatBytes } from './bytes.js';
import { SEAL_KEY_BYTES } from './limits.js';

export type Nacl = typeof naclModule;

/** tweetnacl, loaded on first use (its own chunk in the page build). */
export async function loadNacl(): Promise<Nacl> {
  return (await import('tweetnacl')).default;
}

/** Bytes a seal adds to its plaintext. */
export const SEAL_OVERHEAD_BYTES = SEAL_KEY_BYTES + 24 + 16;

export interface SealKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function createSealKeyPair(nacl: Nacl): SealKeyPair {
  const { publicKey, secretKey } = nacl.box.keyPair();
  return { publicKey, secretKey };
}

/** Whether `publicKey` belongs to `secretKey` (for key pairs loaded from storage). */
export function sealKeyPairMatches(nacl: Nacl, pair: SealKeyPair): boolean {
  if (pair.publicKey.length !== SEAL_KEY_BYTES || pair.secretKey.length !== SEAL_KEY_BYTES) return false;
  const derived = nacl.box.keyPair.fromSecretKey(pair.secretKey).publicKey;
  return nacl.verify(derived, pair.publicKey);
}

export function seal(nacl: Nacl, recipient: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (recipient.length !== SEAL_KEY_BYTES) throw new RangeError('seal key must be 32 bytes');
  const ephemeral = nacl.box.keyPair();
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const boxed = nacl.box(plaintext, nonce, recipient, ephemeral.secretKey);
  return concatBytes(ephemeral.publicKey, nonce, boxed);
}

/** The plaintext, or undefined when the seal is not for this key or was altered. */
export function openSeal(nacl: Nacl, secretKey: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
  const ephemeral = sealed.subarray(0, SEAL_KEY_BYTES);
  // X25519 ignores a key's top bit, so a forwarder could flip it and the seal
  // would still open; honest ephemeral keys (canonical, below 2^255 - 19) never set it.
  if (((ephemeral[SEAL_KEY_BYTES - 1] ?? 0) & 0x80) !== 0) return undefined;
  const nonce = sealed.subarray(SEAL_KEY_BYTES, SEAL_KEY_BYTES + 24);
  const opened = nacl.box.open(sealed.subarray(SEAL_KEY_BYTES + 24), nonce, ephemeral, secretKey);
  return opened ?? undefined;
}
