/** STUN messages for tests: requests to send the responder, and what its answers say. */
import { MAGIC_COOKIE, fingerprintOf } from '../../signaling-server/stun/codec.js';

export interface RequestShape {
  /** Message type; default 0x0001 (Binding request). */
  readonly type?: number;
  /** 12 bytes; default a fixed pattern. */
  readonly transactionId?: Uint8Array;
  /** Attributes, each a type and a value (padded to 4 bytes here). */
  readonly attributes?: readonly (readonly [number, Uint8Array])[];
  /** Append a FINGERPRINT (correct unless `badFingerprint`). */
  readonly fingerprint?: boolean;
  readonly badFingerprint?: boolean;
}

export const TRANSACTION_ID = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);

/** A STUN message as a client would send it. */
export function stunRequest(shape: RequestShape = {}): Uint8Array {
  const parts: number[] = [];
  for (const [type, value] of shape.attributes ?? []) {
    parts.push(type >> 8, type & 0xff, value.length >> 8, value.length & 0xff, ...value);
    while (parts.length % 4 !== 0) parts.push(0);
  }
  const withFingerprint = shape.fingerprint === true || shape.badFingerprint === true;
  const length = parts.length + (withFingerprint ? 8 : 0);
  const out = new Uint8Array(20 + length);
  const view = new DataView(out.buffer);
  view.setUint16(0, shape.type ?? 0x0001);
  view.setUint16(2, length);
  view.setUint32(4, MAGIC_COOKIE);
  out.set(shape.transactionId ?? TRANSACTION_ID, 8);
  out.set(parts, 20);
  if (withFingerprint) {
    const at = 20 + parts.length;
    view.setUint16(at, 0x8028);
    view.setUint16(at + 2, 4);
    view.setUint32(at + 4, (fingerprintOf(out.subarray(0, at)) ^ (shape.badFingerprint === true ? 1 : 0)) >>> 0);
  }
  return out;
}

export interface MappedAddress {
  readonly transactionId: Uint8Array;
  readonly family: 'IPv4' | 'IPv6';
  /** IPv4 dotted, or IPv6 as 8 groups of lower-case hex without leading zeros. */
  readonly address: string;
  readonly port: number;
}

/** What a Binding success response with one XOR-MAPPED-ADDRESS says; throws on anything else. */
export function readBindingSuccess(bytes: Uint8Array): MappedAddress {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0x0101 || view.getUint32(4) !== MAGIC_COOKIE) throw new Error('not a Binding success');
  if (view.getUint16(2) !== bytes.length - 20 || view.getUint16(20) !== 0x0020)
    throw new Error('no XOR-MAPPED-ADDRESS');
  const family = view.getUint8(25) === 1 ? 'IPv4' : 'IPv6';
  const size = family === 'IPv4' ? 4 : 16;
  if (view.getUint16(22) !== 4 + size || bytes.length !== 28 + size) throw new Error('unexpected length');
  const port = view.getUint16(26) ^ (MAGIC_COOKIE >>> 16);
  const raw = Array.from({ length: size }, (_, i) => (bytes[28 + i] ?? 0) ^ (bytes[4 + i] ?? 0));
  const address =
    family === 'IPv4'
      ? raw.join('.')
      : Array.from({ length: 8 }, (_, i) => (((raw[2 * i] ?? 0) << 8) | (raw[2 * i + 1] ?? 0)).toString(16)).join(':');
  return { transactionId: bytes.slice(8, 20), family, address, port };
}
