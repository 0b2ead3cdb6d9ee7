/**
 * Peer IDs are self-certifying: a bech32m string (prefix `tm`) that encodes the
 * peer's 32-byte Ed25519 public key, so anyone can check a signature from the
 * ID alone. bech32m's checksum catches every error of up to four characters,
 * so a mistyped ID fails to parse instead of naming a different peer.
 * Only the canonical lowercase form is accepted, so one key has one ID.
 */
import { bech32m } from '@scure/base';
import { ErrorCode, fail, ok, TabmeshError, type Result } from '../errors.js';
import { PEER_ID_LENGTH, PEER_ID_PREFIX, PUBLIC_KEY_BYTES } from '../limits.js';
import { isAcceptablePublicKey } from './ed25519.js';

declare const peerIdBrand: unique symbol;
/** A validated peer ID. Only {@link parsePeerId} and {@link peerIdFromPublicKey} make one. */
export type PeerId = string & { readonly [peerIdBrand]: true };

const SHAPE = /^tm1[02-9ac-hj-np-z]{58}$/;

/**
 * Whether `input` has the shape of a peer ID (prefix, length, alphabet), without
 * the checksum or key checks. For lookups against sets of already-verified IDs.
 */
export function isPeerIdShaped(input: unknown): input is string {
  return typeof input === 'string' && input.length === PEER_ID_LENGTH && SHAPE.test(input);
}

/** Parse untrusted input into a peer ID, or a BAD_PEER_ID error saying why. */
export function parsePeerId(input: unknown): Result<PeerId> {
  if (typeof input !== 'string') return fail(ErrorCode.BAD_PEER_ID, 'peer ID must be a string');
  if (!isPeerIdShaped(input)) {
    return fail(ErrorCode.BAD_PEER_ID, `peer ID must be 'tm1' and 58 lowercase bech32 characters`);
  }
  let key: Uint8Array;
  try {
    const decoded = bech32m.decode(input as `${string}1${string}`, PEER_ID_LENGTH);
    if (decoded.prefix !== PEER_ID_PREFIX) return fail(ErrorCode.BAD_PEER_ID, 'wrong peer ID prefix');
    key = bech32m.fromWords(decoded.words);
  } catch {
    // Checksum or padding failure: the usual sign of a typo.
    return fail(ErrorCode.BAD_PEER_ID, 'peer ID checksum does not match');
  }
  if (key.length !== PUBLIC_KEY_BYTES || !isAcceptablePublicKey(key)) {
    return fail(ErrorCode.BAD_PEER_ID, 'peer ID does not encode an acceptable Ed25519 key');
  }
  return ok(input as PeerId);
}

/** The peer ID of a public key. Throws BAD_PEER_ID for a key no peer may use. */
export function peerIdFromPublicKey(publicKey: Uint8Array): PeerId {
  if (!isAcceptablePublicKey(publicKey)) {
    throw new TabmeshError(ErrorCode.BAD_PEER_ID, 'not an acceptable Ed25519 public key');
  }
  return bech32m.encode(PEER_ID_PREFIX, bech32m.toWords(publicKey), PEER_ID_LENGTH) as PeerId;
}

/** The public key inside a (validated) peer ID. */
export function publicKeyOf(id: PeerId): Uint8Array {
  return bech32m.fromWords(bech32m.decode(id as `${string}1${string}`, PEER_ID_LENGTH).words);
}

/** A short display form: the prefix and the first eight key characters. */
export function shortPeerId(id: PeerId): string {
  return `${id.slice(0, 11)}…`;
}
