/**
 * Frames on a peer-to-peer data channel: binary, first byte the frame type,
 * the rest canonical bytes (shared/canonical.ts). One parse function turns a
 * received frame into a typed value or a PROTOCOL_VIOLATION; every count and
 * length is capped. Payloads are split into chunks of at most
 * MAX_CHANNEL_FRAME_BYTES and reassembled under caps (Reassembler).
 */
import { concatBytes, fromUtf8 } from '../bytes.js';
import { DecodeError, Reader, Writer } from '../canonical.js';
import { ErrorCode, fail, ok, type Result } from '../errors.js';
import { peerIdFromPublicKey, publicKeyOf, type PeerId } from '../identity/peer-id.js';
import {
  MAX_BROADCAST_BYTES,
  MAX_BROADCAST_HOPS,
  MAX_CHANNEL_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PARTIAL_BYTES_PER_PEER,
  MAX_PARTIAL_MESSAGES_PER_PEER,
  MAX_RECORD_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  PARTIAL_MESSAGE_STALL_MS,
  PUBLIC_KEY_BYTES,
  SESSION_NONCE_BYTES,
  SIGNATURE_BYTES,
} from '../limits.js';

import { FrameType } from './frame-types.js';
import { parseMembership, parseRelay, type MembershipFrame, type RelayFrame } from './mesh.js';

export { FrameType };

/** What both sides sign over the new channel before it counts (purpose tabmesh/confirm/1). */
export interface ConfirmBody {
  readonly from: PeerId;
  readonly to: PeerId;
  readonly session: Uint8Array;
  readonly initiatorNonce: Uint8Array;
  readonly responderNonce: Uint8Array;
  /** SHA-256 DTLS fingerprints from the two signed SDPs. */
  readonly initiatorFingerprint: Uint8Array;
  readonly responderFingerprint: Uint8Array;
}

export interface ConfirmFrame {
  readonly type: 'confirm';
  readonly body: ConfirmBody;
  /** The canonical bytes the signature covers. */
  readonly data: Uint8Array;
  readonly signature: Uint8Array;
}
export interface RecordsFrame {
  readonly type: 'records';
  /** Signed record bytes, each still to be verified. */
  readonly records: readonly Uint8Array[];
}
export interface BroadcastHeader {
  readonly origin: PeerId;
  /** The origin's own counter: (origin, seq) names the broadcast for deduplication. */
  readonly seq: number;
  /** Hops it may still travel. */
  readonly hops: number;
  /** The origin's signature (purpose tabmesh/broadcast/1) over broadcastBytes(). */
  readonly signature: Uint8Array;
}
export interface MessageStartFrame {
  readonly type: 'start';
  readonly id: number;
  readonly binary: boolean;
  readonly length: number;
  readonly broadcast?: BroadcastHeader;
}
export interface MessageChunkFrame {
  readonly type: 'chunk';
  readonly id: number;
  readonly bytes: Uint8Array;
}
/** Keepalive: sent when the channel has been quiet, so a dead peer is noticed. */
export interface PingFrame {
  readonly type: 'ping';
}
export type ChannelFrame =
  ConfirmFrame | RecordsFrame | MessageStartFrame | MessageChunkFrame | PingFrame | RelayFrame | MembershipFrame;

/** The keepalive frame (its type byte alone). */
export const PING_FRAME: Uint8Array = Uint8Array.of(FrameType.PING);

const FLAG_BINARY = 1;
const FLAG_BROADCAST = 2;
/** Largest message ID; senders wrap around below it. */
export const MAX_MESSAGE_ID = 2 ** 31;
/** Chunk payload per frame: the frame cap less the type byte and a 5-byte varint ID. */
export const CHUNK_BYTES = MAX_CHANNEL_FRAME_BYTES - 6;

/** The canonical bytes a confirmation signs. */
export function confirmData(body: ConfirmBody): Uint8Array {
  return new Writer()
    .fixed(publicKeyOf(body.from), PUBLIC_KEY_BYTES)
    .fixed(publicKeyOf(body.to), PUBLIC_KEY_BYTES)
    .fixed(body.session, SESSION_NONCE_BYTES)
    .fixed(body.initiatorNonce, SESSION_NONCE_BYTES)
    .fixed(body.responderNonce, SESSION_NONCE_BYTES)
    .fixed(body.initiatorFingerprint, 32)
    .fixed(body.responderFingerprint, 32)
    .finish();
}

export function encodeConfirm(body: ConfirmBody, signature: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(FrameType.CONFIRM), confirmData(body), signature);
}

export function encodeRecords(records: readonly Uint8Array[]): Uint8Array {
  if (records.length > MAX_RECORDS_PER_MESSAGE) throw new RangeError('too many records');
  const writer = new Writer().u8(FrameType.RECORDS).varint(records.length);
  for (const record of records) writer.varint(record.length).fixed(record, record.length);
  return writer.finish();
}

export function encodeMessageStart(frame: Omit<MessageStartFrame, 'type'>): Uint8Array {
  const writer = new Writer()
    .u8(FrameType.MESSAGE_START)
    .varint(frame.id)
    .u8((frame.binary ? FLAG_BINARY : 0) | (frame.broadcast === undefined ? 0 : FLAG_BROADCAST))
    .varint(frame.length);
  if (frame.broadcast !== undefined) {
    writer
      .fixed(publicKeyOf(frame.broadcast.origin), PUBLIC_KEY_BYTES)
      .varint(frame.broadcast.seq)
      .u8(frame.broadcast.hops)
      .fixed(frame.broadcast.signature, SIGNATURE_BYTES);
  }
  return writer.finish();
}

export function encodeMessageChunk(id: number, bytes: Uint8Array): Uint8Array {
  const head = new Writer().u8(FrameType.MESSAGE_CHUNK).varint(id).finish();
  return concatBytes(head, bytes);
}

/** The bytes a broadcast's origin signs: who, which, what kind, and the payload. */
export function broadcastBytes(origin: PeerId, seq: number, binary: boolean, payload: Uint8Array): Uint8Array {
  return concatBytes(
    new Writer()
      .fixed(publicKeyOf(origin), PUBLIC_KEY_BYTES)
      .varint(seq)
      .u8(binary ? 1 : 0)
      .finish(),
    payload,
  );
}

function violation<T>(message: string): Result<T> {
  return fail(ErrorCode.PROTOCOL_VIOLATION, message);
}

function peer(key: Uint8Array): PeerId {
  try {
    return peerIdFromPublicKey(key);
  } catch {
    throw new DecodeError('unacceptable key');
  }
}

/** Parse one received frame. */
export function parseChannelFrame(frame: Uint8Array): Result<ChannelFrame> {
  if (frame.length > MAX_CHANNEL_FRAME_BYTES) return violation('frame over the size cap');
  try {
    const reader = new Reader(frame);
    const type = reader.u8();
    switch (type) {
      case FrameType.CONFIRM: {
        const data = frame.subarray(1, frame.length - SIGNATURE_BYTES);
        const body = new Reader(data);
        const parsed: ConfirmBody = {
          from: peer(body.fixed(PUBLIC_KEY_BYTES)),
          to: peer(body.fixed(PUBLIC_KEY_BYTES)),
          session: body.fixed(SESSION_NONCE_BYTES),
          initiatorNonce: body.fixed(SESSION_NONCE_BYTES),
          responderNonce: body.fixed(SESSION_NONCE_BYTES),
          initiatorFingerprint: body.fixed(32),
          responderFingerprint: body.fixed(32),
        };
        body.end();
        return ok({ type: 'confirm', body: parsed, data, signature: frame.slice(frame.length - SIGNATURE_BYTES) });
      }
      case FrameType.RECORDS: {
        const count = reader.varint();
        if (count > MAX_RECORDS_PER_MESSAGE) return violation(`more than ${MAX_RECORDS_PER_MESSAGE} records`);
        const records: Uint8Array[] = [];
        for (let i = 0; i < count; i++) {
          const length = reader.varint();
          if (length > MAX_RECORD_BYTES) return violation('record over the size cap');
          records.push(reader.fixed(length));
        }
        reader.end();
        return ok({ type: 'records', records });
      }
      case FrameType.MESSAGE_START: {
        const id = reader.varint();
        const flags = reader.u8();
        const length = reader.varint();
        if (id >= MAX_MESSAGE_ID || (flags & ~(FLAG_BINARY | FLAG_BROADCAST)) !== 0)
          return violation('bad message header');
        const isBroadcast = (flags & FLAG_BROADCAST) !== 0;
        if (length > (isBroadcast ? MAX_BROADCAST_BYTES : MAX_MESSAGE_BYTES))
          return violation('message over the size cap');
        let broadcast: BroadcastHeader | undefined;
        if (isBroadcast) {
          const origin = peer(reader.fixed(PUBLIC_KEY_BYTES));
          const seq = reader.varint();
          const hops = reader.u8();
          if (hops > MAX_BROADCAST_HOPS) return violation('broadcast claims too many hops');
          broadcast = { origin, seq, hops, signature: reader.fixed(SIGNATURE_BYTES) };
        }
        reader.end();
        return ok({
          type: 'start',
          id,
          binary: (flags & FLAG_BINARY) !== 0,
          length,
          ...(broadcast === undefined ? {} : { broadcast }),
        });
      }
      case FrameType.MESSAGE_CHUNK: {
        const id = reader.varint();
        const header = new Writer().u8(type).varint(id).finish().length;
        return ok({ type: 'chunk', id, bytes: frame.subarray(header) });
      }
      case FrameType.PING:
        reader.end();
        return ok({ type: 'ping' });
      case FrameType.RELAY:
        return ok(parseRelay(reader, frame));
      case FrameType.MEMBERSHIP:
        return ok(parseMembership(reader));
      default:
        return violation('unknown frame type');
    }
  } catch (error) {
    if (error instanceof DecodeError) return violation(`malformed frame: ${error.message}`);
    throw error;
  }
}

/** A fully received message. */
export interface ReceivedMessage {
  readonly binary: boolean;
  readonly payload: Uint8Array;
  readonly broadcast?: BroadcastHeader;
}

/** The caps a Reassembler holds a peer to; the defaults are shared/limits.ts's (the bench switches them off with Infinity). */
export interface ReassemblyLimits {
  /** Messages in progress at once. */
  readonly maxMessages: number;
  /** Bytes the messages in progress announce, together. */
  readonly maxBytes: number;
  /** Time a message in progress may go without a chunk. */
  readonly stallMs: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = Object.freeze({
  maxMessages: MAX_PARTIAL_MESSAGES_PER_PEER,
  maxBytes: MAX_PARTIAL_BYTES_PER_PEER,
  stallMs: PARTIAL_MESSAGE_STALL_MS,
});

interface InProgress {
  readonly start: MessageStartFrame;
  readonly chunks: Uint8Array[];
  received: number;
  /** When its last chunk (or its start) came. */
  progressAt: number;
}

/**
 * Reassembles chunked messages from one peer, under caps: at most
 * `maxMessages` in progress, announcing at most `maxBytes` together, never
 * more bytes than announced; and a message that stalls (no chunk for
 * `stallMs`) is reported by `stalled`, so its link can be closed and what it
 * held let go. Memory held is bounded by `maxBytes`, and in time by `stallMs`.
 */
export class Reassembler {
  private readonly partial = new Map<number, InProgress>();
  private announced = 0;

  constructor(private readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Feed a start or chunk frame that came at `now` (ms); returns a message when one completes. */
  accept(frame: MessageStartFrame | MessageChunkFrame, now: number): Result<ReceivedMessage | undefined> {
    if (frame.type === 'start') {
      if (this.partial.has(frame.id)) return violation('message ID already in progress');
      if (this.partial.size >= this.limits.maxMessages) return violation('too many messages in progress');
      if (this.announced + frame.length > this.limits.maxBytes)
        return violation('messages in progress announce too many bytes');
      if (frame.length === 0) return ok(this.complete(frame, []));
      this.partial.set(frame.id, { start: frame, chunks: [], received: 0, progressAt: now });
      this.announced += frame.length;
      return ok(undefined);
    }
    const entry = this.partial.get(frame.id);
    if (entry === undefined) return violation('chunk for no message in progress');
    entry.received += frame.bytes.length;
    if (entry.received > entry.start.length) return violation('more bytes than announced');
    entry.chunks.push(frame.bytes.slice());
    entry.progressAt = now;
    if (entry.received < entry.start.length) return ok(undefined);
    this.partial.delete(frame.id);
    this.announced -= entry.start.length;
    return ok(this.complete(entry.start, entry.chunks));
  }

  /** Whether a message in progress has had no chunk for `stallMs` by `now`. */
  stalled(now: number): boolean {
    for (const entry of this.partial.values()) if (now - entry.progressAt >= this.limits.stallMs) return true;
    return false;
  }

  /** Bytes currently held for incomplete messages. */
  get heldBytes(): number {
    let total = 0;
    for (const entry of this.partial.values()) total += entry.received;
    return total;
  }

  private complete(start: MessageStartFrame, chunks: Uint8Array[]): ReceivedMessage {
    const payload = chunks.length === 1 ? (chunks[0] ?? new Uint8Array()) : concatBytes(...chunks);
    return start.broadcast === undefined
      ? { binary: start.binary, payload }
      : { binary: start.binary, payload, broadcast: start.broadcast };
  }
}

/** Split a payload into chunk frames. */
export function* chunkFrames(id: number, payload: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < payload.length; offset += CHUNK_BYTES) {
    yield encodeMessageChunk(id, payload.subarray(offset, offset + CHUNK_BYTES));
  }
}

/** Decode a text payload strictly. */
export function payloadText(payload: Uint8Array): Result<string> {
  try {
    return ok(fromUtf8(payload));
  } catch {
    // Invalid UTF-8 claimed as text.
    return violation('text message is not valid UTF-8');
  }
}
