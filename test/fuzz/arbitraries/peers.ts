/** Peer IDs for generated messages: random acceptable keys, or a few fixed ones. */
import fc from 'fast-check';
import { isAcceptablePublicKey } from '../../../shared/identity/index.js';
import { peerIdFromPublicKey, type PeerId } from '../../../shared/identity/peer-id.js';

/** A peer ID of a random acceptable Ed25519 key. */
export const peerArb: fc.Arbitrary<PeerId> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .filter(isAcceptablePublicKey)
  .map((key) => peerIdFromPublicKey(key));

export const pathArb = (max: number): fc.Arbitrary<PeerId[]> => fc.array(peerArb, { maxLength: max });

/** `count` fixed peer IDs (deterministic acceptable keys: top bit clear, never small-order). */
export function fixedPeers(count: number): PeerId[] {
  return Array.from({ length: count }, (_, n) => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => (n * 37 + i * 11 + 1) & 0x7f);
    if (!isAcceptablePublicKey(key)) throw new Error(`fixed key ${n} is not acceptable`);
    return peerIdFromPublicKey(key);
  });
}
