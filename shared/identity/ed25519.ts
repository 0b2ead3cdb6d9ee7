/**
 * Ed25519 behind one small interface, with the checks that make every backend
 * agree. Backends: Web Crypto (browsers and Node), node:crypto (server), and
 * tweetnacl (fallback). They differ on edge cases (tweetnacl accepts S >= L,
 * libraries differ on non-canonical and small-order keys), so every
 * verification goes through {@link verifyDetached}, which rejects those
 * inputs before any backend sees them. See "Taming the many EdDSAs"
 * (Chalkias et al., 2020) for the cases.
 */
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../limits.js';
import { bytesEqual, fromHex } from '../bytes.js';

/** A key pair whose private half may live inside the platform (non-extractable). */
export interface Ed25519KeyPair {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** One Ed25519 implementation. Use {@link verifyDetached}, not `verify`, on untrusted input. */
export interface Ed25519 {
  /** Which implementation this is, for logs and benchmarks. */
  readonly name: string;
  /** A fresh random key pair. */
  generate(): Promise<Ed25519KeyPair>;
  /** The key pair for a 32-byte RFC 8032 seed (private key). */
  fromSeed(seed: Uint8Array): Promise<Ed25519KeyPair>;
  /** Raw backend verification, with no encoding checks. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');

/**
 * Encodings of the points of order 1, 2, 4 and 8, including the two
 * "negative zero" forms. A key among these verifies signatures on many
 * messages and behaves differently across libraries, so it is refused.
 */
const SMALL_ORDER_KEYS: readonly Uint8Array[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map(fromHex);

/** Exposed for tests that prove each listed key really has small order. */
export const SMALL_ORDER_KEY_ENCODINGS: readonly Uint8Array[] = SMALL_ORDER_KEYS;

/** True when the 32 little-endian bytes at `offset` are below L (canonical S). */
export function isCanonicalScalar(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 31; i >= 0; i--) {
    const b = bytes[offset + i] ?? 0;
    const l = L[i] ?? 0;
    if (b < l) return true;
    if (b > l) return false;
  }
  return false; // equal to L
}

/** True when y (the key with its sign bit cleared) is below p = 2^255 - 19. */
function isCanonicalY(key: Uint8Array): boolean {
  if (((key[31] ?? 0) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (key[i] !== 0xff) return true;
  return (key[0] ?? 0) < 0xed;
}

/**
 * Whether a 32-byte string is acceptable as an Ed25519 public key: canonical
 * encoding and not of small order. (Points off the curve are rejected by
 * every backend at verification.)
 */
export function isAcceptablePublicKey(key: Uint8Array): boolean {
  if (key.length !== PUBLIC_KEY_BYTES) return false;
  if (!isCanonicalY(key)) return false;
  for (const bad of SMALL_ORDER_KEYS) if (bytesEqual(bad, key)) return false;
  return true;
}

/**
 * Verify a detached signature the same way on every backend: reject
 * malformed lengths, non-canonical S (S >= L, the malleability tweetnacl
 * allows), and non-canonical or small-order keys, then ask the backend.
 * Never throws: a backend error counts as a failed verification.
 */
export async function verifyDetached(
  ed: Ed25519,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== SIGNATURE_BYTES) return false;
  if (!isCanonicalScalar(signature, 32)) return false;
  if (!isAcceptablePublicKey(publicKey)) return false;
  try {
    return await ed.verify(publicKey, message, signature);
  } catch {
    // A backend that throws (e.g. an off-curve key in Web Crypto) has refused it.
    return false;
  }
}
