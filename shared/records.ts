/**
 * Peer records: a peer's signed self-description. The signed form is
 * `canonical bytes ‖ 64-byte signature` (purpose `tabmesh/record/1`), carried
 * as one base64url string. {@link verifyRecord} is the only way in from
 * untrusted input: size cap, strict decode, time checks, then the signature.
 */
import { Reader, Writer, DecodeError } from './canonical.js';
import { concatBytes, fromBase64url, toBase64url, base64urlLength, utf8 } from './bytes.js';
import { ErrorCode, fail, ok, TabmeshError, type Result } from './errors.js';
import type { Ed25519 } from './identity/ed25519.js';
import { peerIdFromPublicKey, publicKeyOf, type PeerId } from './identity/peer-id.js';
import { Purpose, verifyFrom, type Identity } from './identity/signing.js';
import {
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_DISPLAY_NAME_BYTES,
  MAX_ENDPOINT_BYTES,
  MAX_NETWORK_BYTES,
  MAX_RECORD_BYTES,
  MAX_RECORD_ENDPOINTS,
  MAX_RECORD_LIFETIME_MS,
  NETWORK_NAME_PATTERN,
  PUBLIC_KEY_BYTES,
  SEAL_KEY_BYTES,
  SIGNATURE_BYTES,
} from './limits.js';

/** Version byte at the start of a record's canonical bytes. */
const RECORD_FORMAT = 1;
/** Longest base64url text of a record, derived from MAX_RECORD_BYTES. */
export const MAX_RECORD_TEXT_CHARS = base64urlLength(MAX_RECORD_BYTES);

export interface PeerRecord {
  readonly id: PeerId;
  /** Newer replaces older; equal or older is ignored. */
  readonly seq: number;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly network: string;
  /** Signaling server URLs (ws: or wss:) the peer can be reached through. */
  readonly endpoints: readonly string[];
  /** Optional short display name; never trusted for anything. */
  readonly name?: string;
  /**
   * The peer's X25519 public key for sealed mesh traffic (tweetnacl `box`).
   * Bound to the ID by the record's signature, so a forwarder cannot swap it.
   * Optional: a peer without one cannot be reached through the mesh.
   */
  readonly sealKey?: Uint8Array;
}

/** A verified record with its signed bytes, ready to store or pass on unchanged. */
export interface SignedRecord {
  readonly record: PeerRecord;
  readonly bytes: Uint8Array;
  /** base64url of `bytes`: the wire and storage form. */
  readonly text: string;
}

const ENDPOINT_PATTERN =
  /^wss?:\/\/(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$/;
// C0/C1 controls and the bidirectional overrides that can disguise text.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

export function isValidNetworkName(name: string): boolean {
  return NETWORK_NAME_PATTERN.test(name);
}

export function isValidEndpoint(url: string): boolean {
  if (utf8(url).length > MAX_ENDPOINT_BYTES) return false;
  const match = ENDPOINT_PATTERN.exec(url);
  if (match === null) return false;
  const port = match[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

export function isValidDisplayName(name: string): boolean {
  const bytes = utf8(name).length;
  return bytes > 0 && bytes <= MAX_DISPLAY_NAME_BYTES && !FORBIDDEN_NAME_CHARS.test(name) && name.trim() === name;
}

/** Why a record's fields are unacceptable, or undefined when they are fine. */
function fieldProblem(record: PeerRecord): string | undefined {
  if (!Number.isSafeInteger(record.seq) || record.seq < 0) return 'seq must be a safe non-negative integer';
  if (!Number.isSafeInteger(record.issuedAt) || record.issuedAt < 0) return 'issuedAt must be a timestamp';
  if (!Number.isSafeInteger(record.expiresAt) || record.expiresAt <= record.issuedAt) {
    return 'expiresAt must be a timestamp after issuedAt';
  }
  if (!isValidNetworkName(record.network)) return 'invalid network name';
  if (record.endpoints.length > MAX_RECORD_ENDPOINTS) return `more than ${MAX_RECORD_ENDPOINTS} endpoints`;
  if (!record.endpoints.every(isValidEndpoint)) return 'invalid endpoint URL';
  if (new Set(record.endpoints).size !== record.endpoints.length) return 'duplicate endpoint';
  if (record.name !== undefined && !isValidDisplayName(record.name)) return 'invalid display name';
  if (record.sealKey !== undefined && record.sealKey.length !== SEAL_KEY_BYTES) return 'seal key of the wrong length';
  return undefined;
}

/** The canonical bytes a record's signature covers (its signed form is these ‖ the signature). */
export function recordData(record: PeerRecord): Uint8Array {
  const writer = new Writer()
    .u8(RECORD_FORMAT)
    .fixed(publicKeyOf(record.id), PUBLIC_KEY_BYTES)
    .varint(record.seq)
    .varint(record.issuedAt)
    .varint(record.expiresAt)
    .string(record.network, MAX_NETWORK_BYTES)
    .varint(record.endpoints.length);
  for (const endpoint of record.endpoints) writer.string(endpoint, MAX_ENDPOINT_BYTES);
  writer.string(record.name ?? '', MAX_DISPLAY_NAME_BYTES);
  const sealKey = record.sealKey ?? new Uint8Array();
  return writer.varint(sealKey.length).fixed(sealKey, sealKey.length).finish();
}

export interface RecordFields {
  readonly seq: number;
  readonly network: string;
  readonly endpoints?: readonly string[];
  readonly name?: string;
  /** X25519 public key for sealed mesh traffic, {@link SEAL_KEY_BYTES} bytes. */
  readonly sealKey?: Uint8Array;
  /** Issue time; the caller's clock. */
  readonly now: number;
  /** Validity from `now`; default {@link DEFAULT_RECORD_LIFETIME_MS}. */
  readonly lifetimeMs?: number;
}

/** Create and sign this peer's own record. Throws BAD_FIELD for invalid fields. */
export async function signRecord(identity: Identity, fields: RecordFields): Promise<SignedRecord> {
  const record: PeerRecord = {
    id: identity.id,
    seq: fields.seq,
    issuedAt: fields.now,
    expiresAt: fields.now + (fields.lifetimeMs ?? DEFAULT_RECORD_LIFETIME_MS),
    network: fields.network,
    endpoints: [...(fields.endpoints ?? [])],
    ...(fields.name === undefined ? {} : { name: fields.name }),
    ...(fields.sealKey === undefined ? {} : { sealKey: fields.sealKey.slice() }),
  };
  const problem = fieldProblem(record);
  if (problem !== undefined) throw new TabmeshError(ErrorCode.BAD_FIELD, problem);
  if (record.expiresAt - record.issuedAt > MAX_RECORD_LIFETIME_MS) {
    throw new TabmeshError(ErrorCode.BAD_FIELD, 'lifetime over MAX_RECORD_LIFETIME_MS');
  }
  const data = recordData(record);
  const bytes = concatBytes(data, await identity.sign(Purpose.RECORD, data));
  if (bytes.length > MAX_RECORD_BYTES) throw new TabmeshError(ErrorCode.BAD_FIELD, 'record over MAX_RECORD_BYTES');
  return { record, bytes, text: toBase64url(bytes) };
}

/** Strict structural decode of signed record bytes (no signature or time checks). */
export function decodeRecord(
  bytes: Uint8Array,
): Result<{ record: PeerRecord; data: Uint8Array; signature: Uint8Array }> {
  if (bytes.length > MAX_RECORD_BYTES) return fail(ErrorCode.RECORD_TOO_LARGE, `record over ${MAX_RECORD_BYTES} bytes`);
  if (bytes.length <= SIGNATURE_BYTES) return fail(ErrorCode.RECORD_MALFORMED, 'record too short');
  const data = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  const signature = bytes.subarray(bytes.length - SIGNATURE_BYTES);
  try {
    const reader = new Reader(data);
    if (reader.u8() !== RECORD_FORMAT) return fail(ErrorCode.RECORD_MALFORMED, 'unknown record format');
    const key = reader.fixed(PUBLIC_KEY_BYTES);
    const seq = reader.varint();
    const issuedAt = reader.varint();
    const expiresAt = reader.varint();
    const network = reader.string(MAX_NETWORK_BYTES);
    const count = reader.varint();
    if (count > MAX_RECORD_ENDPOINTS) return fail(ErrorCode.RECORD_MALFORMED, 'too many endpoints');
    const endpoints: string[] = [];
    for (let i = 0; i < count; i++) endpoints.push(reader.string(MAX_ENDPOINT_BYTES));
    const name = reader.string(MAX_DISPLAY_NAME_BYTES);
    const sealKeyLength = reader.varint();
    if (sealKeyLength !== 0 && sealKeyLength !== SEAL_KEY_BYTES)
      return fail(ErrorCode.RECORD_MALFORMED, 'seal key of the wrong length');
    const sealKey = reader.fixed(sealKeyLength);
    reader.end();
    let id: PeerId;
    try {
      id = peerIdFromPublicKey(key);
    } catch {
      // Small-order or non-canonical key: no peer may hold it.
      return fail(ErrorCode.RECORD_MALFORMED, 'record key is not an acceptable Ed25519 key');
    }
    const record: PeerRecord = {
      id,
      seq,
      issuedAt,
      expiresAt,
      network,
      endpoints,
      ...(name === '' ? {} : { name }),
      ...(sealKeyLength === 0 ? {} : { sealKey: sealKey.slice() }),
    };
    const problem = fieldProblem(record);
    if (problem !== undefined) return fail(ErrorCode.RECORD_MALFORMED, problem);
    return ok({ record, data, signature });
  } catch (error) {
    if (error instanceof DecodeError) return fail(ErrorCode.RECORD_MALFORMED, error.message);
    throw error;
  }
}

/** Time rules alone: future-dated, over-long and expired records fail. */
export function checkRecordTimes(record: PeerRecord, now: number): Result<PeerRecord> {
  if (record.issuedAt > now + MAX_CLOCK_SKEW_MS) {
    return fail(ErrorCode.RECORD_FUTURE_DATED, 'record issued in the future beyond the allowed clock skew');
  }
  if (record.expiresAt - record.issuedAt > MAX_RECORD_LIFETIME_MS) {
    return fail(ErrorCode.RECORD_LIFETIME_TOO_LONG, 'record lifetime over the maximum');
  }
  if (now > record.expiresAt + MAX_CLOCK_SKEW_MS) return fail(ErrorCode.RECORD_EXPIRED, 'record expired');
  return ok(record);
}

export interface VerifyRecordOptions {
  readonly now: number;
  /** When set, a record of another network is refused with NETWORK_MISMATCH. */
  readonly network?: string;
}

/**
 * The edge parser for records from anywhere untrusted (wire, peers, storage):
 * returns a verified {@link SignedRecord} or a typed error saying why not.
 * Cheap checks run before the signature, so garbage costs little.
 */
export async function verifyRecord(
  ed: Ed25519,
  input: string | Uint8Array,
  options: VerifyRecordOptions,
): Promise<Result<SignedRecord>> {
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    if (input.length > MAX_RECORD_TEXT_CHARS)
      return fail(ErrorCode.RECORD_TOO_LARGE, `record over ${MAX_RECORD_BYTES} bytes`);
    const decoded = fromBase64url(input);
    if (decoded === undefined) return fail(ErrorCode.RECORD_MALFORMED, 'record is not canonical base64url');
    bytes = decoded;
  } else {
    bytes = input;
  }
  const decoded = decodeRecord(bytes);
  if (!decoded.ok) return decoded;
  const { record, data, signature } = decoded.value;
  const timely = checkRecordTimes(record, options.now);
  if (!timely.ok) return timely;
  if (options.network !== undefined && record.network !== options.network) {
    return fail(ErrorCode.NETWORK_MISMATCH, 'record belongs to another network');
  }
  if (!(await verifyFrom(ed, record.id, Purpose.RECORD, data, signature))) {
    return fail(ErrorCode.RECORD_BAD_SIGNATURE, 'record signature does not verify');
  }
  const copy = bytes.slice();
  return ok({ record, bytes: copy, text: typeof input === 'string' ? input : toBase64url(copy) });
}

/**
 * Whether `incoming` should replace `held` (same peer): only a strictly newer
 * sequence number does. An equal or older one (a replay) is ignored, and
 * signatures are never compared (they are malleable; see STYLE.md).
 */
export function supersedes(incoming: PeerRecord, held: PeerRecord | undefined): boolean {
  if (held === undefined) return true;
  if (incoming.id !== held.id) throw new RangeError('records of different peers');
  return incoming.seq > held.seq;
}
