/**
 * A strict codec for the one STUN exchange the server takes part in: a
 * Binding request in, a Binding success response with XOR-MAPPED-ADDRESS
 * out (RFC 8489, which RFC 5389 clients speak too). Untrusted bytes become a
 * transaction ID or a typed refusal, once; nothing else of the request is
 * kept. Anything we would not answer is refused, and the responder drops
 * refused datagrams without a word (see parseBindingRequest for the rules).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';

/** RFC 8489 §5: every STUN message starts with 20 bytes of header. */
export const STUN_HEADER_BYTES = 20;
/** RFC 8489 §5: the fixed second word of an RFC 5389+ message. */
export const MAGIC_COOKIE = 0x2112a442;
/** RFC 8489 §5: the transaction ID, 96 bits. */
export const TRANSACTION_ID_BYTES = 12;
/**
 * Largest request read. RFC 8489 §6.1: without a known path MTU a STUN
 * message over UDP stays within 576 bytes of IPv4 datagram, 548 of STUN
 * after the IP and UDP headers. Browsers send 20 (Chromium: the bare
 * header); anything past this is not a client of ours.
 */
export const MAX_STUN_REQUEST_BYTES = 548;
/**
 * The most a response may be larger than the request it answers, as a
 * factor. A Binding request can come from a forged source address, so its
 * answer goes to whoever was named: the server must never be a good
 * amplifier. QUIC allows 3 towards an address it has not validated (RFC 9000
 * §8.1). The browsers' bare 20-byte request gets 32 bytes back (IPv4) or 44
 * (IPv6): 1.6 and 2.2, on the wire (with IP and UDP headers) 1.25 and 1.35.
 * A strict "never more bytes than asked" would leave every browser
 * unanswered; the per-address and global rate limits bound the rest.
 */
export const MAX_AMPLIFICATION = 3;

const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTRIBUTE_HEADER_BYTES = 4;
/** RFC 8489 §14.7: FINGERPRINT is the CRC-32 of the message before it, XORed with this ("STUN"). */
const FINGERPRINT_XOR = 0x5354554e;
const FINGERPRINT = 0x8028;
const XOR_MAPPED_ADDRESS = 0x0020;
/** RFC 8489 §14: types from here up are comprehension-optional (ignorable). */
const COMPREHENSION_OPTIONAL = 0x8000;
const FAMILY_IPV4 = 0x01;
const FAMILY_IPV6 = 0x02;

/**
 * Why a datagram is not answered, each a stable code (and the `result` label
 * of tabmesh_stun_requests_total, lower-cased).
 * - MALFORMED: not a well-formed RFC 5389+ STUN message (too short or too
 *   long, top bits set, no magic cookie, a length that is not the rest of the
 *   datagram or not a multiple of 4, an attribute running past the end,
 *   FINGERPRINT not last or not 4 bytes).
 * - NOT_BINDING: STUN, but not a Binding request (an indication, a response,
 *   another method).
 * - UNKNOWN_ATTRIBUTE: a comprehension-required attribute (type below
 *   0x8000). We understand none: a plain Binding request has none, and
 *   USERNAME or MESSAGE-INTEGRITY mean credentials we do not have.
 * - BAD_FINGERPRINT: a FINGERPRINT that does not match.
 */
export type StunRefusal = 'MALFORMED' | 'NOT_BINDING' | 'UNKNOWN_ATTRIBUTE' | 'BAD_FINGERPRINT';

export type BindingRequest =
  { readonly ok: true; readonly transactionId: Uint8Array } | { readonly ok: false; readonly refusal: StunRefusal };

function refuse(refusal: StunRefusal): BindingRequest {
  return { ok: false, refusal };
}

/** RFC 8489 §14.7's FINGERPRINT value of `bytes` (the message up to the attribute). */
export function fingerprintOf(bytes: Uint8Array): number {
  return (crc32(bytes) ^ FINGERPRINT_XOR) >>> 0;
}

/**
 * A Binding request, or why not. RFC 8489 §6.3.1 has a server answer an
 * unknown comprehension-required attribute with a 420 error; we drop the
 * request instead: browsers send none to a STUN server, an error response is
 * still bytes towards a possibly forged address, and to the sender a drop is
 * a lost datagram it retransmits and then gives up on. Credentials (USERNAME,
 * MESSAGE-INTEGRITY: RFC 8489 §9 would have a 400 or 401) are dropped the
 * same way: no credentials are configured, and browsers use none here.
 * Classic RFC 3489 requests (no magic cookie) get no answer either: without
 * the cookie there is no XOR-MAPPED-ADDRESS, and every browser speaks 5389.
 */
export function parseBindingRequest(bytes: Uint8Array): BindingRequest {
  if (bytes.length < STUN_HEADER_BYTES || bytes.length > MAX_STUN_REQUEST_BYTES) return refuse('MALFORMED');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(0);
  const length = view.getUint16(2);
  if ((type & 0xc000) !== 0 || view.getUint32(4) !== MAGIC_COOKIE) return refuse('MALFORMED');
  if (length % 4 !== 0 || length !== bytes.length - STUN_HEADER_BYTES) return refuse('MALFORMED');
  let unknown = false;
  for (let at = STUN_HEADER_BYTES; at < bytes.length;) {
    if (bytes.length - at < ATTRIBUTE_HEADER_BYTES) return refuse('MALFORMED');
    const attribute = view.getUint16(at);
    const valueBytes = view.getUint16(at + 2);
    const next = at + ATTRIBUTE_HEADER_BYTES + Math.ceil(valueBytes / 4) * 4;
    if (next > bytes.length) return refuse('MALFORMED');
    if (attribute === FINGERPRINT) {
      // RFC 8489 §14.7: the last attribute, over everything before it, with the length counting it.
      if (valueBytes !== 4 || next !== bytes.length) return refuse('MALFORMED');
      if (view.getUint32(at + ATTRIBUTE_HEADER_BYTES) !== fingerprintOf(bytes.subarray(0, at)))
        return refuse('BAD_FINGERPRINT');
    } else if (attribute < COMPREHENSION_OPTIONAL) unknown = true;
    at = next;
  }
  // The message is well formed; only now does what it asks matter.
  if (type !== BINDING_REQUEST) return refuse('NOT_BINDING');
  if (unknown) return refuse('UNKNOWN_ATTRIBUTE');
  return { ok: true, transactionId: bytes.slice(8, STUN_HEADER_BYTES) };
}

/**
 * An IP address as 4 or 16 bytes: IPv4, IPv6 (a zone `%eth0` dropped), and
 * an IPv4-mapped IPv6 address as the IPv4 it maps (what a dual-stack socket
 * reports for an IPv4 client). Undefined for anything else.
 */
export function addressBytes(address: string): Uint8Array | undefined {
  const bare = (address.split('%')[0] ?? '').toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare)?.[1];
  const v4 = mapped ?? (isIPv4(bare) ? bare : undefined);
  if (v4 !== undefined) return isIPv4(v4) ? Uint8Array.from(v4.split('.'), Number) : undefined;
  if (!isIPv6(bare)) return undefined;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = new Uint8Array(16);
  all.forEach((group, i) => {
    out[2 * i] = group >> 8;
    out[2 * i + 1] = group & 0xff;
  });
  return out;
}

/**
 * The Binding success response to `transactionId`: the header and one
 * XOR-MAPPED-ADDRESS (RFC 8489 §14.2) naming `address` (4 or 16 bytes) and
 * `port`, the port XORed with the cookie's top half and the address with the
 * cookie (and for IPv6 the transaction ID after it). Nothing else: no
 * SOFTWARE, no FINGERPRINT (the request's is not echoed), so the answer is
 * as small as an answer can be: 32 bytes for IPv4, 44 for IPv6.
 */
export function encodeBindingSuccess(transactionId: Uint8Array, address: Uint8Array, port: number): Uint8Array {
  if (transactionId.length !== TRANSACTION_ID_BYTES) throw new RangeError('a transaction ID is 12 bytes');
  if (address.length !== 4 && address.length !== 16) throw new RangeError('an address is 4 or 16 bytes');
  const valueBytes = 4 + address.length;
  const out = new Uint8Array(STUN_HEADER_BYTES + ATTRIBUTE_HEADER_BYTES + valueBytes);
  const view = new DataView(out.buffer);
  view.setUint16(0, BINDING_SUCCESS);
  view.setUint16(2, ATTRIBUTE_HEADER_BYTES + valueBytes);
  view.setUint32(4, MAGIC_COOKIE);
  out.set(transactionId, 8);
  const at = STUN_HEADER_BYTES;
  view.setUint16(at, XOR_MAPPED_ADDRESS);
  view.setUint16(at + 2, valueBytes);
  view.setUint8(at + 5, address.length === 4 ? FAMILY_IPV4 : FAMILY_IPV6);
  view.setUint16(at + 6, (port ^ (MAGIC_COOKIE >>> 16)) & 0xffff);
  // The cookie and the transaction ID are bytes 4..20 of the header: the XOR key, in order.
  for (let i = 0; i < address.length; i++) out[at + 8 + i] = (address[i] ?? 0) ^ (out[4 + i] ?? 0);
  return out;
}

/** Whether an answer of `responseBytes` to a request of `requestBytes` is within MAX_AMPLIFICATION. */
export function withinAmplification(requestBytes: number, responseBytes: number): boolean {
  return responseBytes <= requestBytes * MAX_AMPLIFICATION;
}
