/**
 * The Web Crypto backend (`crypto.subtle`, algorithm Ed25519): native code in
 * current browsers and in Node 20. The caller injects `subtle`, so this file
 * stays free of DOM and Node types; {@link detectEd25519} picks it when the
 * platform passes a known-answer self-test, else falls back to tweetnacl.
 */
import { concatBytes, fromBase64url, fromHex } from '../bytes.js';
import { PUBLIC_KEY_BYTES, SEED_BYTES } from '../limits.js';
import type { Ed25519, Ed25519KeyPair } from './ed25519.js';
import { verifyDetached } from './ed25519.js';

/** The few SubtleCrypto calls used here; the platform's `crypto.subtle` satisfies it. */
export interface SubtleEd25519 {
  importKey(
    format: 'raw' | 'pkcs8',
    keyData: Uint8Array<ArrayBuffer>,
    algorithm: { name: 'Ed25519' },
    extractable: boolean,
    keyUsages: ('sign' | 'verify')[],
  ): Promise<unknown>;
  generateKey(algorithm: { name: 'Ed25519' }, extractable: boolean, keyUsages: ('sign' | 'verify')[]): Promise<unknown>;
  exportKey(format: 'raw', key: never): Promise<ArrayBuffer>;
  exportKey(format: 'jwk', key: never): Promise<{ x?: string }>;
  sign(algorithm: { name: 'Ed25519' }, key: never, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  verify(
    algorithm: { name: 'Ed25519' },
    key: never,
    signature: Uint8Array<ArrayBuffer>,
    data: Uint8Array<ArrayBuffer>,
  ): Promise<boolean>;
}

const ED25519 = { name: 'Ed25519' } as const;
/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): fixed 16-byte prefix. */
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');

/** Copy into a fresh ArrayBuffer-backed array, as Web Crypto's types demand. */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function isKeyPair(value: unknown): value is { publicKey: never; privateKey: never } {
  return typeof value === 'object' && value !== null && 'publicKey' in value && 'privateKey' in value;
}

/**
 * Public keys imported for verification, kept per backend: a link verifies
 * the same peer's key for its record, its SDP, each of its candidates and
 * its channel confirmation, and each import is a round trip to the
 * platform's crypto thread (on a page's busy main thread, a task that may
 * wait). The key is the exact 32 bytes, so a cached key is the one an import
 * would give. Oldest dropped first past this many.
 */
export const VERIFY_KEY_CACHE_SIZE = 256;

/** The import of each public key, at most VERIFY_KEY_CACHE_SIZE, the most recently used last. */
function verifyKeys(subtle: SubtleEd25519): (publicKey: Uint8Array) => Promise<unknown> {
  const imported = new Map<string, Promise<unknown>>();
  return (publicKey) => {
    // Only keys of a key's length are kept (verifyDetached passes no other).
    if (publicKey.length !== PUBLIC_KEY_BYTES)
      return subtle.importKey('raw', own(publicKey), ED25519, false, ['verify']);
    const name = String.fromCharCode(...publicKey);
    let key = imported.get(name);
    if (key !== undefined) {
      imported.delete(name);
    } else {
      key = subtle.importKey('raw', own(publicKey), ED25519, false, ['verify']);
      // A failed import is not kept: the next verification tries again (and fails as it would).
      key.catch(() => {
        if (imported.get(name) === key) imported.delete(name);
      });
      if (imported.size >= VERIFY_KEY_CACHE_SIZE) imported.delete(imported.keys().next().value ?? '');
    }
    imported.set(name, key);
    return key;
  };
}

export function createWebCryptoEd25519(subtle: SubtleEd25519): Ed25519 {
  const verifyKey = verifyKeys(subtle);
  const wrap = (publicKey: Uint8Array, privateKey: unknown): Ed25519KeyPair => ({
    publicKey,
    sign: async (message) => new Uint8Array(await subtle.sign(ED25519, privateKey as never, own(message))),
  });
  return {
    name: 'webcrypto',
    async generate() {
      // The private key is non-extractable: it never exists as bytes in JS.
      const pair = await subtle.generateKey(ED25519, false, ['sign', 'verify']);
      if (!isKeyPair(pair)) throw new TypeError('Ed25519 generateKey returned no key pair');
      const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
      return wrap(publicKey, pair.privateKey);
    },
    async fromSeed(seed) {
      if (seed.length !== SEED_BYTES) throw new RangeError('seed must be 32 bytes');
      // The public half comes from an extractable import's JWK export (`x`);
      // the key kept for signing is a second, non-extractable import.
      const extractable = await subtle.importKey('pkcs8', own(concatBytes(PKCS8_PREFIX, seed)), ED25519, true, [
        'sign',
      ]);
      const jwk = await subtle.exportKey('jwk', extractable as never);
      const publicKey = fromBase64url(jwk.x ?? '');
      if (publicKey === undefined || publicKey.length !== 32)
        throw new TypeError('Ed25519 JWK export without a public key');
      const privateKey = await subtle.importKey('pkcs8', own(concatBytes(PKCS8_PREFIX, seed)), ED25519, false, [
        'sign',
      ]);
      return wrap(publicKey, privateKey);
    },
    async verify(publicKey, message, signature) {
      const key = await verifyKey(publicKey);
      return subtle.verify(ED25519, key as never, own(signature), own(message));
    },
  };
}

/** RFC 8032 section 7.1, test 2: a known answer for the self-test. */
const SELF_TEST = {
  publicKey: fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'),
  message: fromHex('72'),
  signature: fromHex(
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  ),
};

/**
 * The fastest Ed25519 this platform offers that passes a known-answer test:
 * Web Crypto when `subtle` supports Ed25519 correctly, else tweetnacl.
 */
export async function detectEd25519(subtle: SubtleEd25519 | undefined): Promise<Ed25519> {
  if (subtle !== undefined) {
    const candidate = createWebCryptoEd25519(subtle);
    try {
      const tampered = new Uint8Array(SELF_TEST.message);
      tampered[0] = (tampered[0] ?? 0) ^ 1;
      // Side by side (one import of the key): each call is a round trip to
      // the platform's crypto thread, and this is on the way to a tab's first
      // signature.
      const [good, bad] = await Promise.all([
        verifyDetached(candidate, SELF_TEST.publicKey, SELF_TEST.message, SELF_TEST.signature),
        candidate.verify(SELF_TEST.publicKey, tampered, SELF_TEST.signature),
      ]);
      if (good && !bad) return candidate;
    } catch {
      // No Ed25519 in this platform's Web Crypto: fall through to tweetnacl.
    }
  }
  // Loaded only here, so browsers with native Ed25519 never download it.
  const { createTweetnaclEd25519 } = await import('./tweetnacl.js');
  return createTweetnaclEd25519();
}
