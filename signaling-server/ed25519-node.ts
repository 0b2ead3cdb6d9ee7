/**
 * Ed25519 on node:crypto (OpenSSL): the server's backend. Under load,
 * verification runs asynchronously on libuv's thread pool (crypto.verify with
 * a callback), so admitting many tabs at once uses the second core instead of
 * blocking the event loop. A quiet server verifies inline: one verification
 * costs ~0.1 ms, while the hand-off to a pool thread and back was measured at
 * 1-5 ms (and 20-90 ms on a busy 2-core machine), all of it added to every
 * registration's round trip.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import type { Ed25519, Ed25519KeyPair } from '../shared/identity/ed25519.js';
import { bytesEqual } from '../shared/bytes.js';
import { SEED_BYTES } from '../shared/limits.js';
import { TokenBucket } from '../shared/rate-limit.js';

/**
 * Verifications per second done inline on the event loop (at ~0.1 ms each,
 * at most ~2% of it); beyond this rate they go to the thread pool.
 */
export const INLINE_VERIFIES_PER_SECOND = 200;

/** DER prefixes that wrap a raw Ed25519 key as SPKI (public) or PKCS#8 (seed), RFC 8410. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Import a raw key as JWK: measured here about 4x cheaper than parsing the
 * same key as DER/SPKI (28,000 against 13,000 verifies/s with 64 in flight).
 */
function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

function wrap(privateKey: KeyObject): Ed25519KeyPair {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)),
    sign: (message) =>
      new Promise((resolve, reject) => {
        nodeSign(null, message, privateKey, (error, signature) => {
          if (error !== null) reject(error);
          else resolve(new Uint8Array(signature));
        });
      }),
  };
}

/**
 * The key of the last verification, kept for the next: a registration
 * verifies two signatures by one key (the challenge's answer and the
 * record), and importing it costs about a fifth of a verification. One
 * entry, so it holds nothing of anyone for long.
 */
class LastKey {
  private raw: Uint8Array | undefined;
  private key: KeyObject | undefined;

  /** The KeyObject for `raw`; throws when OpenSSL refuses it (not a point on the curve). */
  get(raw: Uint8Array): KeyObject {
    if (this.key !== undefined && this.raw !== undefined && bytesEqual(this.raw, raw)) return this.key;
    const key = publicKeyObject(raw);
    this.raw = raw.slice();
    this.key = key;
    return key;
  }
}

export function createNodeEd25519(inlinePerSecond = INLINE_VERIFIES_PER_SECOND): Ed25519 {
  const lastKey = new LastKey();
  const inline = inlinePerSecond > 0 ? new TokenBucket(inlinePerSecond, inlinePerSecond, Date.now()) : undefined;
  return {
    name: 'node:crypto',
    generate: () => Promise.resolve(wrap(generateKeyPairSync('ed25519').privateKey)),
    fromSeed(seed) {
      if (seed.length !== SEED_BYTES) return Promise.reject(new RangeError('seed must be 32 bytes'));
      return Promise.resolve(
        wrap(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })),
      );
    },
    verify(publicKey, message, signature) {
      return new Promise((resolve) => {
        let key: KeyObject;
        try {
          key = lastKey.get(publicKey);
        } catch {
          // OpenSSL refuses keys that are not points on the curve.
          resolve(false);
          return;
        }
        if (inline?.take(Date.now()) === true) {
          try {
            resolve(nodeVerify(null, message, key, signature));
          } catch {
            resolve(false);
          }
          return;
        }
        nodeVerify(null, message, key, signature, (error, valid) => resolve(error === null && valid));
      });
    },
  };
}
