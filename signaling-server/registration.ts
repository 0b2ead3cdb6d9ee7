/**
 * The checks of an answer to a registration challenge, in order, cheapest
 * first: the challenge is still good, the record decodes and names the ID
 * being registered, the network is the one the URL named, and then both
 * signatures (the challenge's and the record's) verify.
 */
import { ErrorCode, fail, type Result } from '../shared/errors.js';
import type { Ed25519 } from '../shared/identity/ed25519.js';
import { Purpose, verifyFrom } from '../shared/identity/signing.js';
import { registrationBytes, type RegisterMessage } from '../shared/protocol/signaling.js';
import { decodeRecord, verifyRecord, type SignedRecord } from '../shared/records.js';

export interface Challenge {
  /** The challenge's nonce, or undefined once spent. */
  readonly nonce: Uint8Array | undefined;
  readonly deadline: number;
  /** The network the WebSocket URL named, if it named one. */
  readonly announcedNetwork: string | undefined;
  readonly serverName: string;
}

/** The registering peer's verified record, or the error the connection is refused with. */
export async function checkRegistration(
  ed25519: Ed25519,
  challenge: Challenge,
  message: RegisterMessage,
  now: number,
): Promise<Result<SignedRecord>> {
  const { nonce } = challenge;
  if (nonce === undefined || now > challenge.deadline) {
    return fail(ErrorCode.CHALLENGE_EXPIRED, 'the challenge has expired');
  }
  const decoded = decodeRecord(message.record);
  if (!decoded.ok) return decoded;
  if (decoded.value.record.id !== message.id) {
    return fail(ErrorCode.ID_MISMATCH, 'the record is not for the ID being registered');
  }
  if (challenge.announcedNetwork !== undefined && message.network !== challenge.announcedNetwork) {
    return fail(ErrorCode.NETWORK_MISMATCH, 'registering in another network than the URL named');
  }
  const signed = registrationBytes(nonce, challenge.serverName, message.network, message.id);
  const [answer, record] = await Promise.all([
    verifyFrom(ed25519, message.id, Purpose.REGISTER, signed, message.signature),
    verifyRecord(ed25519, message.record, { now, network: message.network }),
  ]);
  if (!answer) return fail(ErrorCode.BAD_SIGNATURE, 'the challenge signature does not verify for this ID');
  return record;
}
