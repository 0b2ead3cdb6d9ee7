/**
 * Domain separation. Every signature covers `len(purpose) ‖ purpose ‖ bytes`,
 * so a signature made for one purpose (a peer record) can never pass as
 * another (a registration answer or a signal). The length byte makes the
 * prefix unambiguous even if one purpose string were a prefix of another.
 */
import { concatBytes, utf8 } from '../bytes.js';
import type { Ed25519, Ed25519KeyPair } from './ed25519.js';
import { verifyDetached } from './ed25519.js';
import { peerIdFromPublicKey, publicKeyOf, type PeerId } from './peer-id.js';

export const Purpose = {
  /** A tab's answer to a signaling server's challenge. */
  REGISTER: 'tabmesh/register/1',
  /** A peer record. */
  RECORD: 'tabmesh/record/1',
  /** An offer, answer or candidate between peers. */
  SIGNAL: 'tabmesh/signal/1',
  /** The confirmation both peers exchange over a new channel. */
  CONFIRM: 'tabmesh/confirm/1',
  /** A broadcast, signed by its origin. */
  BROADCAST: 'tabmesh/broadcast/1',
  /** A message routed, sealed, through the mesh to one peer. */
  ROUTED: 'tabmesh/routed/1',
} as const;
export type Purpose = (typeof Purpose)[keyof typeof Purpose];

const PREFIXES = new Map<Purpose, Uint8Array>(
  Object.values(Purpose).map((purpose) => {
    const bytes = utf8(purpose);
    return [purpose, concatBytes(Uint8Array.of(bytes.length), bytes)];
  }),
);

/** The exact bytes signed for `purpose` over `bytes`. */
export function signable(purpose: Purpose, bytes: Uint8Array): Uint8Array {
  const prefix = PREFIXES.get(purpose);
  if (prefix === undefined) throw new RangeError('unknown signing purpose');
  return concatBytes(prefix, bytes);
}

/** A peer's own identity: its ID and the key that proves it. */
export interface Identity {
  readonly id: PeerId;
  readonly publicKey: Uint8Array;
  sign(purpose: Purpose, bytes: Uint8Array): Promise<Uint8Array>;
}

export function identityFromKeyPair(keyPair: Ed25519KeyPair): Identity {
  const id = peerIdFromPublicKey(keyPair.publicKey);
  return {
    id,
    publicKey: keyPair.publicKey,
    sign: (purpose, bytes) => keyPair.sign(signable(purpose, bytes)),
  };
}

/** Check that `signature` is `signer`'s signature for `purpose` over `bytes`. */
export function verifyFrom(
  ed: Ed25519,
  signer: PeerId,
  purpose: Purpose,
  bytes: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return verifyDetached(ed, publicKeyOf(signer), signable(purpose, bytes), signature);
}
