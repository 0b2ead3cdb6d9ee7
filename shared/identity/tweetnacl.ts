/**
 * The tweetnacl backend: pure JavaScript, everywhere, about 100 verifies a
 * second here. The fallback when the platform has no native Ed25519.
 */
import nacl from 'tweetnacl';
import { SEED_BYTES } from '../limits.js';
import type { Ed25519, Ed25519KeyPair } from './ed25519.js';

function keyPairFromSecret(secretKey: Uint8Array): Ed25519KeyPair {
  return {
    publicKey: secretKey.slice(32),
    sign: (message) => Promise.resolve(nacl.sign.detached(message, secretKey)),
  };
}

export function createTweetnaclEd25519(): Ed25519 {
  return {
    name: 'tweetnacl',
    generate: () => Promise.resolve(keyPairFromSecret(nacl.sign.keyPair().secretKey)),
    fromSeed(seed) {
      if (seed.length !== SEED_BYTES) return Promise.reject(new RangeError('seed must be 32 bytes'));
      return Promise.resolve(keyPairFromSecret(nacl.sign.keyPair.fromSeed(seed).secretKey));
    },
    verify: (publicKey, message, signature) =>
      Promise.resolve(nacl.sign.detached.verify(message, signature, publicKey)),
  };
}
