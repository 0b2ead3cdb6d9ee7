/**
 * Frames that make the mesh work without a server (docs/PROTOCOL.md §9):
 *
 * - RELAY: a signal or a short message for a peer we have no channel to,
 *   sealed to its X25519 key (shared/seal.ts) and signed inside by its
 *   sender, forwarded hop by hop. Forwarders see only who it is for, who
 *   claims to send it, its hop budget and its path; they can drop it, never
 *   read or alter it.
 * - MEMBERSHIP: HyParView's join, forward-join, neighbour, disconnect and
 *   shuffle messages between neighbours. Peers introduced by ID travel as
 *   their signed records, so the receiver verifies them before they enter its
 *   views; walk paths are bare IDs (only used to route replies back).
 *
 * Parsing follows the channel's rules: one function per frame, caps on every
 * count and length, a PROTOCOL_VIOLATION for anything malformed.
 */
import { concatBytes } from '../bytes.js';
import { DecodeError, Reader, Writer } from '../canonical.js';
import { ErrorCode, fail, ok, type Result } from '../errors.js';
import { peerIdFromPublicKey, publicKeyOf, type PeerId } from '../identity/peer-id.js';
import {
  MAX_CHANNEL_FRAME_BYTES,
  MAX_RECORD_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  MAX_RELAY_PATH,
  MAX_RELAY_TTL,
  MAX_ROUTED_MESSAGE_BYTES,
  MAX_SIGNAL_PAYLOAD_CHARS,
  MAX_WALK_HOPS,
  PUBLIC_KEY_BYTES,
  RELAY_ID_BYTES,
  SIGNATURE_BYTES,
} from '../limits.js';
import { SEAL_OVERHEAD_BYTES } from '../seal.js';
import { FrameType } from './frame-types.js';

// --- Relay ------------------------------------------------------------------

export interface RelayFrame {
  readonly type: 'relay';
  /** Random; names the frame for deduplication and is repeated, signed, inside the seal. */
  readonly id: Uint8Array;
  /** Hops it may still travel. */
  readonly ttl: number;
  /** The sender it claims; proven only by the signature inside the seal. */
  readonly from: PeerId;
  readonly to: PeerId;
  /** Hops the sender chose, still ahead: each forwarder passes it to the first and drops it from the list. */
  readonly route: readonly PeerId[];
  /** Forwarders so far, in order: the reverse of it is a way back to the sender. */
  readonly trail: readonly PeerId[];
  readonly sealed: Uint8Array;
}

/** Header bytes of a relay frame at its largest (type, id, ttl, two keys, two full paths with counts). */
const RELAY_HEADER_MAX_BYTES =
  1 + RELAY_ID_BYTES + 1 + 2 * PUBLIC_KEY_BYTES + 2 * (1 + MAX_RELAY_PATH * PUBLIC_KEY_BYTES);
/** Largest sealed part a relay frame may carry, so that it always fits one channel frame. */
export const MAX_SEALED_BYTES = MAX_CHANNEL_FRAME_BYTES - RELAY_HEADER_MAX_BYTES;

export function encodeRelay(frame: Omit<RelayFrame, 'type'>): Uint8Array {
  if (frame.ttl > MAX_RELAY_TTL || frame.route.length > MAX_RELAY_PATH || frame.trail.length > MAX_RELAY_PATH)
    throw new RangeError('relay frame over its caps');
  if (frame.sealed.length < SEAL_OVERHEAD_BYTES || frame.sealed.length > MAX_SEALED_BYTES)
    throw new RangeError('sealed part of an impossible size');
  const writer = new Writer()
    .u8(FrameType.RELAY)
    .fixed(frame.id, RELAY_ID_BYTES)
    .u8(frame.ttl)
    .fixed(publicKeyOf(frame.from), PUBLIC_KEY_BYTES)
    .fixed(publicKeyOf(frame.to), PUBLIC_KEY_BYTES);
  writePeers(writer, frame.route);
  writePeers(writer, frame.trail);
  return concatBytes(writer.finish(), frame.sealed);
}

/** Parse a relay frame's body (after the type byte). */
export function parseRelay(reader: Reader, frame: Uint8Array): RelayFrame {
  const id = reader.fixed(RELAY_ID_BYTES);
  const ttl = reader.u8();
  if (ttl > MAX_RELAY_TTL) throw new DecodeError('relay hop budget over the cap');
  const from = peerOf(reader.fixed(PUBLIC_KEY_BYTES));
  const to = peerOf(reader.fixed(PUBLIC_KEY_BYTES));
  const route = readPeers(reader, MAX_RELAY_PATH);
  const trail = readPeers(reader, MAX_RELAY_PATH);
  const sealed = reader.fixed(frame.length - reader.position);
  if (sealed.length < SEAL_OVERHEAD_BYTES || sealed.length > MAX_SEALED_BYTES)
    throw new DecodeError('sealed part of an impossible size');
  return { type: 'relay', id, ttl, from, to, route, trail, sealed };
}

// --- What a seal holds ------------------------------------------------------

/** A signed signal (base64url wire text), with the sender's record so the answer can be sealed back. */
export interface SealedSignal {
  readonly kind: 'signal';
  readonly signal: string;
  readonly record: Uint8Array | undefined;
}

/** A short message routed to a peer we have no channel to, signed by its sender (purpose tabmesh/routed/1). */
export interface SealedMessage {
  readonly kind: 'message';
  /** The sender's clock when sent: old ones are refused, so a replay outside the dedup window fails. */
  readonly sentAt: number;
  readonly binary: boolean;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

export type SealedContent = SealedSignal | SealedMessage;

const SEALED_SIGNAL = 1;
const SEALED_MESSAGE = 2;

export function encodeSealedContent(content: SealedContent): Uint8Array {
  const writer = new Writer();
  if (content.kind === 'signal') {
    const record = content.record ?? new Uint8Array();
    if (record.length > MAX_RECORD_BYTES) throw new RangeError('record over MAX_RECORD_BYTES');
    return writer
      .u8(SEALED_SIGNAL)
      .string(content.signal, MAX_SIGNAL_PAYLOAD_CHARS)
      .varint(record.length)
      .fixed(record, record.length)
      .finish();
  }
  if (content.payload.length > MAX_ROUTED_MESSAGE_BYTES) throw new RangeError('routed message over its cap');
  return concatBytes(
    writer
      .u8(SEALED_MESSAGE)
      .varint(content.sentAt)
      .u8(content.binary ? 1 : 0)
      .fixed(content.signature, SIGNATURE_BYTES)
      .finish(),
    content.payload,
  );
}

/** Parse an opened seal's plaintext. */
export function parseSealedContent(bytes: Uint8Array): Result<SealedContent> {
  try {
    const reader = new Reader(bytes);
    const kind = reader.u8();
    if (kind === SEALED_SIGNAL) {
      const signal = reader.string(MAX_SIGNAL_PAYLOAD_CHARS);
      const length = reader.varint();
      if (length > MAX_RECORD_BYTES) return fail(ErrorCode.BAD_SEAL, 'sealed record over the size cap');
      const record = length === 0 ? undefined : reader.fixed(length);
      reader.end();
      return ok({ kind: 'signal', signal, record });
    }
    if (kind === SEALED_MESSAGE) {
      const sentAt = reader.varint();
      const flag = reader.u8();
      if (flag > 1) return fail(ErrorCode.BAD_SEAL, 'bad message flag');
      const signature = reader.fixed(SIGNATURE_BYTES);
      const payload = bytes.slice(reader.position);
      if (payload.length > MAX_ROUTED_MESSAGE_BYTES) return fail(ErrorCode.BAD_SEAL, 'routed message over its cap');
      return ok({ kind: 'message', sentAt, binary: flag === 1, payload, signature });
    }
    return fail(ErrorCode.BAD_SEAL, 'unknown sealed content');
  } catch (error) {
    if (error instanceof DecodeError) return fail(ErrorCode.BAD_SEAL, `malformed sealed content: ${error.message}`);
    throw error;
  }
}

/** The bytes a routed message's sender signs: both ends, the relay ID, the time, the kind and the payload. */
export function routedMessageBytes(
  from: PeerId,
  to: PeerId,
  id: Uint8Array,
  sentAt: number,
  binary: boolean,
  payload: Uint8Array,
): Uint8Array {
  return concatBytes(
    new Writer()
      .fixed(publicKeyOf(from), PUBLIC_KEY_BYTES)
      .fixed(publicKeyOf(to), PUBLIC_KEY_BYTES)
      .fixed(id, RELAY_ID_BYTES)
      .varint(sentAt)
      .u8(binary ? 1 : 0)
      .finish(),
    payload,
  );
}

// --- Membership -------------------------------------------------------------

/**
 * HyParView's messages as they travel. Compared with the membership module's
 * own messages (shared/membership), peers that enter a view come as signed
 * records: the joiner of a join and forward-join, the sample of a shuffle.
 */
export type WireMembership =
  | { readonly type: 'join'; readonly record: Uint8Array }
  | {
      readonly type: 'forward-join';
      readonly joiner: Uint8Array;
      readonly ttl: number;
      readonly path: readonly PeerId[];
    }
  | { readonly type: 'neighbour'; readonly priority: 'high' | 'low' }
  | { readonly type: 'neighbour-reply'; readonly accepted: boolean }
  | { readonly type: 'disconnect' }
  | {
      readonly type: 'shuffle';
      readonly origin: PeerId;
      readonly ttl: number;
      readonly path: readonly PeerId[];
      readonly sample: readonly Uint8Array[];
    }
  | { readonly type: 'shuffle-reply'; readonly route: readonly PeerId[]; readonly sample: readonly Uint8Array[] }
  | { readonly type: 'degree'; readonly active: number };

export interface MembershipFrame {
  readonly type: 'membership';
  readonly message: WireMembership;
}

const MEMBERSHIP_KINDS = [
  'join',
  'forward-join',
  'neighbour',
  'neighbour-reply',
  'disconnect',
  'shuffle',
  'shuffle-reply',
  'degree',
] as const;

/**
 * Encode a membership message. Samples are cut to fit one channel frame
 * (records are usually ~200 bytes, so a full sample fits many times over).
 */
export function encodeMembership(message: WireMembership): Uint8Array {
  const writer = new Writer().u8(FrameType.MEMBERSHIP).u8(MEMBERSHIP_KINDS.indexOf(message.type) + 1);
  switch (message.type) {
    case 'join':
      writeBytes(writer, message.record);
      break;
    case 'forward-join':
      writeBytes(writer, message.joiner);
      writer.u8(checkedHops(message.ttl));
      writePeers(writer, checkedPath(message.path));
      break;
    case 'neighbour':
      writer.u8(message.priority === 'high' ? 1 : 0);
      break;
    case 'neighbour-reply':
      writer.u8(message.accepted ? 1 : 0);
      break;
    case 'disconnect':
      break;
    case 'shuffle':
      writer.fixed(publicKeyOf(message.origin), PUBLIC_KEY_BYTES).u8(checkedHops(message.ttl));
      writePeers(writer, checkedPath(message.path));
      return withSample(writer.finish(), message.sample);
    case 'shuffle-reply':
      writePeers(writer, checkedPath(message.route));
      return withSample(writer.finish(), message.sample);
    case 'degree':
      if (!Number.isInteger(message.active) || message.active < 0 || message.active > MAX_RECORDS_PER_MESSAGE)
        throw new RangeError('degree out of range');
      writer.u8(message.active);
      break;
  }
  return writer.finish();
}

/** Parse a membership frame's body (after the type byte). */
export function parseMembership(reader: Reader): MembershipFrame {
  const kind = MEMBERSHIP_KINDS[reader.u8() - 1];
  let message: WireMembership;
  switch (kind) {
    case 'join':
      message = { type: 'join', record: readBytes(reader) };
      break;
    case 'forward-join': {
      const joiner = readBytes(reader);
      message = { type: 'forward-join', joiner, ttl: readHops(reader), path: readPeers(reader, MAX_WALK_HOPS) };
      break;
    }
    case 'neighbour':
      message = { type: 'neighbour', priority: readFlag(reader) ? 'high' : 'low' };
      break;
    case 'neighbour-reply':
      message = { type: 'neighbour-reply', accepted: readFlag(reader) };
      break;
    case 'disconnect':
      message = { type: 'disconnect' };
      break;
    case 'shuffle': {
      const origin = peerOf(reader.fixed(PUBLIC_KEY_BYTES));
      const ttl = readHops(reader);
      const path = readPeers(reader, MAX_WALK_HOPS);
      message = { type: 'shuffle', origin, ttl, path, sample: readSample(reader) };
      break;
    }
    case 'shuffle-reply': {
      const route = readPeers(reader, MAX_WALK_HOPS);
      message = { type: 'shuffle-reply', route, sample: readSample(reader) };
      break;
    }
    case 'degree': {
      const active = reader.u8();
      if (active > MAX_RECORDS_PER_MESSAGE) throw new DecodeError('degree over the cap');
      message = { type: 'degree', active };
      break;
    }
    default:
      throw new DecodeError('unknown membership message');
  }
  reader.end();
  return { type: 'membership', message };
}

// --- Pieces -----------------------------------------------------------------

function peerOf(key: Uint8Array): PeerId {
  try {
    return peerIdFromPublicKey(key);
  } catch {
    throw new DecodeError('unacceptable key');
  }
}

function writePeers(writer: Writer, peers: readonly PeerId[]): void {
  writer.varint(peers.length);
  for (const peer of peers) writer.fixed(publicKeyOf(peer), PUBLIC_KEY_BYTES);
}

function readPeers(reader: Reader, max: number): PeerId[] {
  const count = reader.varint();
  if (count > max) throw new DecodeError(`more than ${max} peers in a path`);
  const peers: PeerId[] = [];
  for (let i = 0; i < count; i++) peers.push(peerOf(reader.fixed(PUBLIC_KEY_BYTES)));
  return peers;
}

function writeBytes(writer: Writer, bytes: Uint8Array): void {
  if (bytes.length > MAX_RECORD_BYTES) throw new RangeError('record over MAX_RECORD_BYTES');
  writer.varint(bytes.length).fixed(bytes, bytes.length);
}

function readBytes(reader: Reader): Uint8Array {
  const length = reader.varint();
  if (length > MAX_RECORD_BYTES) throw new DecodeError('record over the size cap');
  return reader.fixed(length);
}

function readFlag(reader: Reader): boolean {
  const flag = reader.u8();
  if (flag > 1) throw new DecodeError('bad flag');
  return flag === 1;
}

function checkedHops(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_WALK_HOPS) throw new RangeError('walk hops out of range');
  return ttl;
}

function readHops(reader: Reader): number {
  const ttl = reader.u8();
  if (ttl > MAX_WALK_HOPS) throw new DecodeError('walk hops over the cap');
  return ttl;
}

function checkedPath(path: readonly PeerId[]): readonly PeerId[] {
  if (path.length > MAX_WALK_HOPS) throw new RangeError('walk path over MAX_WALK_HOPS');
  return path;
}

/** Append as many sample records as fit one channel frame, with their count first. */
function withSample(head: Uint8Array, sample: readonly Uint8Array[]): Uint8Array {
  const kept: Uint8Array[] = [];
  let size = head.length + 1;
  for (const record of sample.slice(0, MAX_RECORDS_PER_MESSAGE)) {
    // Its exact size with its length prefix (one byte under 128): a frame the parser takes re-encodes whole.
    const cost = record.length + new Writer().varint(record.length).finish().length;
    if (record.length > MAX_RECORD_BYTES || size + cost > MAX_CHANNEL_FRAME_BYTES) continue;
    kept.push(record);
    size += cost;
  }
  const tail = new Writer().varint(kept.length);
  for (const record of kept) tail.varint(record.length).fixed(record, record.length);
  return concatBytes(head, tail.finish());
}

function readSample(reader: Reader): Uint8Array[] {
  const count = reader.varint();
  if (count > MAX_RECORDS_PER_MESSAGE) throw new DecodeError(`more than ${MAX_RECORDS_PER_MESSAGE} records`);
  const records: Uint8Array[] = [];
  for (let i = 0; i < count; i++) records.push(readBytes(reader));
  return records;
}
