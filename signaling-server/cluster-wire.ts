/**
 * What signaling instances write to Redis and to each other, and its parsers.
 * Redis is ours, but what comes out of it is still input from another
 * process (another version, a bug, someone with access to Redis): every value
 * is parsed here once, with caps, into fresh objects, and anything malformed
 * is refused with a reason, never passed on. Documented in docs/SCALING.md.
 *
 * Presence value (key `tabmesh:<network>:peer:<id>`):
 *   `<token> <recordExpiresAt> <recordText>`
 * Instance-channel messages (channel `tabmesh:instance:<instanceId>`):
 *   `s <origin> <seq> <network> <to>\n<frame>`   a signal delivery to relay
 *   `r <origin> <seq> <network> <id> <token>`    that peer registered again elsewhere
 * where `<token>` is `<instanceId>.<session number>` and `<frame>` is the
 * delivery frame exactly as the recipient's socket will get it (built by the
 * origin's encodeSignalDelivery), so relaying it costs no JSON work.
 */
import { isPeerIdShaped } from '../shared/identity/peer-id.js';
import { MAX_SIGNAL_PAYLOAD_CHARS, PROTOCOL_VERSION } from '../shared/limits.js';
import { MAX_RECORD_TEXT_CHARS, isValidNetworkName } from '../shared/records.js';

/** Instance IDs: 16 random bytes, hex. */
export const INSTANCE_ID_PATTERN = /^[0-9a-f]{32}$/;
/** `<instanceId>.<decimal session number>`. */
const TOKEN_PATTERN = /^([0-9a-f]{32})\.(\d{1,15})$/;
const RECORD_TEXT_PATTERN = /^[A-Za-z0-9_-]+$/;
const SEQ_PATTERN = /^\d{1,15}$/;
/**
 * A delivery frame is `{"v":1,"t":"signal","from":"<61>","payload":<JSON string>}`:
 * JSON escaping can make the payload up to six times longer (`\u00XX`), plus
 * the fixed part. Anything longer did not come from encodeSignalDelivery.
 */
export const MAX_RELAYED_FRAME_CHARS = MAX_SIGNAL_PAYLOAD_CHARS * 6 + 256;
/** How every delivery frame begins (encodeSignalDelivery), up to the sender's ID. */
const DELIVERY_PREFIX = `{"v":${PROTOCOL_VERSION},"t":"signal","from":"`;

/**
 * The sender a delivery frame names (stamped by the instance it came from),
 * or undefined when the frame does not begin as a delivery does. The hub
 * keys the recipient's per-sender quota and reply credit by it.
 */
export function deliverySender(frame: string): string | undefined {
  if (!frame.startsWith(DELIVERY_PREFIX)) return undefined;
  const end = frame.indexOf('"', DELIVERY_PREFIX.length);
  const id = frame.slice(DELIVERY_PREFIX.length, end < 0 ? DELIVERY_PREFIX.length : end);
  return isPeerIdShaped(id) ? id : undefined;
}

/** A header line: type, two IDs, a sequence number, a network and a peer ID or token. */
const MAX_HEADER_CHARS = 256;

export interface Presence {
  readonly token: string;
  readonly instance: string;
  readonly recordExpiresAt: number;
  readonly recordText: string;
}

export type InstanceMessage =
  | {
      readonly kind: 'signal';
      readonly origin: string;
      readonly seq: number;
      readonly network: string;
      readonly to: string;
      readonly frame: string;
    }
  | {
      readonly kind: 'replaced';
      readonly origin: string;
      readonly seq: number;
      readonly network: string;
      readonly id: string;
      readonly token: string;
    };

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export function presenceKey(network: string, id: string): string {
  return `tabmesh:${network}:peer:${id}`;
}

export function networkIndexKey(network: string): string {
  return `tabmesh:${network}:peers`;
}

export function instanceChannel(instance: string): string {
  return `tabmesh:instance:${instance}`;
}

export function encodePresence(token: string, recordExpiresAt: number, recordText: string): string {
  return `${token} ${recordExpiresAt} ${recordText}`;
}

/** The instance part of a token, or undefined if it is not one. */
export function tokenInstance(token: string): string | undefined {
  return TOKEN_PATTERN.exec(token)?.[1];
}

export function parsePresence(value: string): Parsed<Presence> {
  if (value.length > MAX_RECORD_TEXT_CHARS + 64) return refuse('presence value over its cap');
  const first = value.indexOf(' ');
  const second = value.indexOf(' ', first + 1);
  if (first < 0 || second < 0) return refuse('presence value is not three fields');
  const token = value.slice(0, first);
  const instance = tokenInstance(token);
  if (instance === undefined) return refuse('presence token malformed');
  const expiresText = value.slice(first + 1, second);
  if (!SEQ_PATTERN.test(expiresText)) return refuse('presence expiry malformed');
  const recordText = value.slice(second + 1);
  if (recordText.length > MAX_RECORD_TEXT_CHARS || !RECORD_TEXT_PATTERN.test(recordText)) {
    return refuse('presence record malformed');
  }
  return { ok: true, value: { token, instance, recordExpiresAt: Number(expiresText), recordText } };
}

export function encodeSignalMessage(origin: string, seq: number, network: string, to: string, frame: string): string {
  return `s ${origin} ${seq} ${network} ${to}\n${frame}`;
}

export function encodeReplacedMessage(origin: string, seq: number, network: string, id: string, token: string): string {
  return `r ${origin} ${seq} ${network} ${id} ${token}`;
}

export function parseInstanceMessage(text: string): Parsed<InstanceMessage> {
  if (text.length > MAX_HEADER_CHARS + 1 + MAX_RELAYED_FRAME_CHARS) return refuse('message over its cap');
  const newline = text.indexOf('\n');
  const header = newline < 0 ? text : text.slice(0, newline);
  if (header.length > MAX_HEADER_CHARS) return refuse('header over its cap');
  const fields = header.split(' ');
  const [kind, origin, seqText, network, peer] = fields;
  if (origin === undefined || !INSTANCE_ID_PATTERN.test(origin)) return refuse('origin malformed');
  if (seqText === undefined || !SEQ_PATTERN.test(seqText)) return refuse('sequence number malformed');
  if (network === undefined || !isValidNetworkName(network)) return refuse('network malformed');
  if (!isPeerIdShaped(peer)) return refuse('peer ID malformed');
  const seq = Number(seqText);
  if (kind === 's' && fields.length === 5) {
    if (newline < 0) return refuse('signal without a frame');
    const frame = text.slice(newline + 1);
    if (frame.length > MAX_RELAYED_FRAME_CHARS) return refuse('frame over its cap');
    // The frame goes to a socket verbatim: it must at least be a signal delivery.
    if (!frame.startsWith('{"v":') || !frame.endsWith('}')) return refuse('frame malformed');
    return { ok: true, value: { kind: 'signal', origin, seq, network, to: peer, frame } };
  }
  if (kind === 'r' && fields.length === 6 && newline < 0) {
    const token = fields[5] ?? '';
    if (tokenInstance(token) === undefined) return refuse('token malformed');
    return { ok: true, value: { kind: 'replaced', origin, seq, network, id: peer, token } };
  }
  return refuse('unknown message kind');
}
