/**
 * The relay's fast path: a signal request in the one form clients send it
 * (encodeClientMessage: `{"v":1,"t":"signal","to":"…","payload":"…"}`, with
 * `"ref"` last when there is one) whose payload has nothing escaped (a
 * node's payloads are base64url), read from the frame's bytes and spliced
 * into the delivery: the frame is not decoded to a string nor parsed, the
 * payload not re-encoded. The delivery is byte for byte what
 * encodeSignalDelivery makes of the parsed request: a JSON string with no
 * backslash, no quote and no control character stands for exactly its
 * characters, which JSON.stringify writes back unchanged (the frame is
 * valid UTF-8: ws checks every text frame before it is handed on, so it
 * holds no lone surrogate to escape).
 *
 * Anything else (escapes, another field order, white space, another
 * version, a payload or delivery over its cap, a ref out of range) is
 * `undefined` here, and the full parser decides as it always has.
 */
import type { PeerId } from '../shared/identity/peer-id.js';
import { MAX_REF, MAX_SIGNAL_PAYLOAD_CHARS, MAX_SIGNALING_FRAME_BYTES } from '../shared/limits.js';
import { encodeClientMessage, encodeSignalDelivery } from '../shared/protocol/signaling.js';

/** The pieces of `template` around `marks`, in order, as bytes. */
function split(template: string, marks: readonly string[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const mark of marks) {
    const at = template.indexOf(mark, from);
    if (at < 0) throw new Error(`relay-frame: '${mark}' not in ${template}`);
    pieces.push(Buffer.from(template.slice(from, at)));
    from = at + mark.length;
  }
  pieces.push(Buffer.from(template.slice(from)));
  return pieces;
}

// The wire forms, taken from the codec itself so they cannot drift from it.
// Marks in capitals: the templates hold no other capital letters.
const [REQUEST_HEAD, REQUEST_MID, REQUEST_END] = split(
  encodeClientMessage({ type: 'signal', to: 'TO', payload: 'PAYLOAD' }),
  ['TO', 'PAYLOAD'],
) as [Buffer, Buffer, Buffer];
/** What follows the payload when the request has a ref: `","ref":` (then digits and `}`). */
const REQUEST_REF = (
  split(encodeClientMessage({ type: 'signal', to: 'TO', payload: 'PAYLOAD', ref: 7 }), ['TO', 'PAYLOAD', '7}']) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ]
)[2];
const [DELIVERY_HEAD, DELIVERY_MID, DELIVERY_END] = split(encodeSignalDelivery('FROM' as PeerId, 'PAYLOAD'), [
  'FROM',
  'PAYLOAD',
]) as [Buffer, Buffer, Buffer];
/** The payload's closing quote: the first byte of REQUEST_END and of REQUEST_REF. */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Bytes below this are control characters, which a JSON string may not hold raw. */
const FIRST_PRINTABLE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const CLOSE_BRACE = 0x7d;
/** The longest `to` looked for: a peer ID is 61 characters; anything longer is not one (the parser says so). */
const MAX_TO_BYTES = 64;
/** Digits of the largest ref (MAX_REF, 2^32 - 1). */
const MAX_REF_DIGITS = String(MAX_REF).length;

/** A signal request read in place: where its parts are in the frame. */
export interface SignalFrame {
  /** The recipient as sent (a registry hit proves it a peer ID). */
  readonly to: string;
  readonly ref: number | undefined;
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

/** Whether `data` holds `piece` at `at`. */
function holds(data: Buffer, at: number, piece: Buffer): boolean {
  if (at + piece.length > data.length) return false;
  for (let i = 0; i < piece.length; i++) if (data[at + i] !== piece[i]) return false;
  return true;
}

/**
 * The request in `data` (a whole text frame), if it is in the canonical form
 * with a payload that needs no escaping and a delivery from a sender whose
 * ID has `fromLength` characters that would fit the frame cap; else
 * undefined (then parse it in full).
 */
export function readSignalFrame(data: Buffer, fromLength: number): SignalFrame | undefined {
  // The parser's cap is in characters, at most the bytes: a frame within it in bytes is within it.
  if (data.length > MAX_SIGNALING_FRAME_BYTES || !holds(data, 0, REQUEST_HEAD)) return undefined;
  const toStart = REQUEST_HEAD.length;
  const toEnd = data.indexOf(QUOTE, toStart);
  if (toEnd < 0 || toEnd - toStart > MAX_TO_BYTES || !holds(data, toEnd, REQUEST_MID)) return undefined;
  const payloadStart = toEnd + REQUEST_MID.length;
  const length = data.length;
  let i = payloadStart;
  for (; i < length; i++) {
    const byte = data[i] as number;
    if (byte === QUOTE) break;
    if (byte === BACKSLASH || byte < FIRST_PRINTABLE) return undefined;
  }
  const payloadEnd = i;
  // Bytes at least characters: within the caps in bytes, within them in characters.
  if (payloadEnd - payloadStart > MAX_SIGNAL_PAYLOAD_CHARS) return undefined;
  if (deliveryLength(fromLength, payloadEnd - payloadStart) > MAX_SIGNALING_FRAME_BYTES) return undefined;
  let ref: number | undefined;
  if (payloadEnd + REQUEST_END.length === length && holds(data, payloadEnd, REQUEST_END)) {
    ref = undefined;
  } else if (holds(data, payloadEnd, REQUEST_REF)) {
    const digits = payloadEnd + REQUEST_REF.length;
    const close = length - 1;
    // JSON's integers: no leading zero, no sign, no fraction or exponent.
    if (data[close] !== CLOSE_BRACE || close === digits || close - digits > MAX_REF_DIGITS) return undefined;
    if (data[digits] === DIGIT_0 && close - digits > 1) return undefined;
    ref = 0;
    for (let d = digits; d < close; d++) {
      const byte = data[d] as number;
      if (byte < DIGIT_0 || byte > DIGIT_9) return undefined;
      ref = ref * 10 + (byte - DIGIT_0);
    }
    if (ref > MAX_REF) return undefined;
  } else {
    return undefined;
  }
  return { to: data.toString('latin1', toStart, toEnd), ref, payloadStart, payloadEnd };
}

/** Bytes of a delivery from a sender of `fromLength` characters (ASCII) carrying `payloadBytes`. */
function deliveryLength(fromLength: number, payloadBytes: number): number {
  return DELIVERY_HEAD.length + fromLength + DELIVERY_MID.length + payloadBytes + DELIVERY_END.length;
}

/** The delivery of `frame` (read from `data`) from `from`: the bytes encodeSignalDelivery would give. */
export function spliceDelivery(from: string, data: Buffer, frame: SignalFrame): Buffer {
  const out = Buffer.allocUnsafe(deliveryLength(from.length, frame.payloadEnd - frame.payloadStart));
  let at = DELIVERY_HEAD.copy(out, 0);
  at += out.write(from, at, 'latin1');
  at += DELIVERY_MID.copy(out, at);
  at += data.copy(out, at, frame.payloadStart, frame.payloadEnd);
  DELIVERY_END.copy(out, at);
  return out;
}
