/** Valid data-channel frames (shared/protocol/channel.ts, mesh.ts) with the values they encode. */
import fc from 'fast-check';
import { Writer } from '../../../shared/canonical.js';
import { publicKeyOf } from '../../../shared/identity/peer-id.js';
import {
  MAX_BROADCAST_BYTES,
  MAX_CHANNEL_FRAME_BYTES,
  PUBLIC_KEY_BYTES,
  MAX_BROADCAST_HOPS,
  MAX_MESSAGE_BYTES,
  MAX_RECORD_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  MAX_RELAY_PATH,
  MAX_RELAY_TTL,
  MAX_WALK_HOPS,
  RELAY_ID_BYTES,
  SESSION_NONCE_BYTES,
  SIGNATURE_BYTES,
} from '../../../shared/limits.js';
import {
  CHUNK_BYTES,
  FrameType,
  MAX_MESSAGE_ID,
  PING_FRAME,
  confirmData,
  encodeConfirm,
  encodeMessageChunk,
  encodeMessageStart,
  encodeRecords,
  type BroadcastHeader,
  type ChannelFrame,
  type ConfirmBody,
} from '../../../shared/protocol/channel.js';
import {
  encodeMembership,
  encodeRelay,
  type RelayFrame,
  type SealedContent,
  type WireMembership,
} from '../../../shared/protocol/mesh.js';
import { SEAL_OVERHEAD_BYTES } from '../../../shared/seal.js';
import { pathArb, peerArb } from './peers.js';

/** The shuffle-reply kind's byte in a membership frame. */
const MEMBERSHIP_SHUFFLE_REPLY = 7;
const fixedBytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
export const recordArb = fc.uint8Array({ maxLength: 300 });
const signatureArb = fixedBytes(SIGNATURE_BYTES);

export const relayArb: fc.Arbitrary<Omit<RelayFrame, 'type'>> = fc.record({
  id: fixedBytes(RELAY_ID_BYTES),
  ttl: fc.integer({ min: 0, max: MAX_RELAY_TTL }),
  from: peerArb,
  to: peerArb,
  route: pathArb(MAX_RELAY_PATH),
  trail: pathArb(MAX_RELAY_PATH),
  sealed: fc.uint8Array({ minLength: SEAL_OVERHEAD_BYTES, maxLength: SEAL_OVERHEAD_BYTES + 400 }),
});

const hopsArb = fc.integer({ min: 0, max: MAX_WALK_HOPS });
/** Samples that always fit one frame whole (32 records of at most 300 bytes). */
const sampleArb = fc.array(recordArb, { maxLength: MAX_RECORDS_PER_MESSAGE });

export const membershipArb: fc.Arbitrary<WireMembership> = fc.oneof(
  recordArb.map((r): WireMembership => ({ type: 'join', record: r })),
  fc
    .record({ joiner: recordArb, ttl: hopsArb, path: pathArb(MAX_WALK_HOPS) })
    .map((m): WireMembership => ({ type: 'forward-join', ...m })),
  fc.constantFrom<WireMembership>(
    { type: 'neighbour', priority: 'high' },
    { type: 'neighbour', priority: 'low' },
    { type: 'neighbour-reply', accepted: true },
    { type: 'neighbour-reply', accepted: false },
    { type: 'disconnect' },
  ),
  fc.integer({ min: 0, max: MAX_RECORDS_PER_MESSAGE }).map((active): WireMembership => ({ type: 'degree', active })),
  fc
    .record({ origin: peerArb, ttl: hopsArb, path: pathArb(MAX_WALK_HOPS), sample: sampleArb })
    .map((m): WireMembership => ({ type: 'shuffle', ...m })),
  fc
    .record({ route: pathArb(MAX_WALK_HOPS), sample: sampleArb })
    .map((m): WireMembership => ({ type: 'shuffle-reply', ...m })),
);

/**
 * Shuffles with samples of full-size records, more than a frame holds: the
 * encoder cuts them, so only the bytes are given (the value is not the input's).
 */
export const oversampledShuffle: fc.Arbitrary<Uint8Array> = fc
  .record({
    route: pathArb(MAX_WALK_HOPS),
    sample: fc.array(fc.uint8Array({ minLength: 0, maxLength: MAX_RECORD_BYTES }), {
      minLength: 8,
      maxLength: MAX_RECORDS_PER_MESSAGE,
    }),
  })
  .map((m) => encodeMembership({ type: 'shuffle-reply', ...m }));

/**
 * Shuffle replies written field by field rather than by the encoder, their
 * records sized so the frame is often filled to its last byte: what an
 * encoder of another version (or an attacker) may send, which must still
 * re-encode whole.
 */
export const rawShuffle: fc.Arbitrary<Uint8Array> = fc
  .record({
    route: pathArb(4),
    sizes: fc.array(
      fc.oneof(fc.integer({ min: 0, max: 127 }), fc.noBias(fc.integer({ min: 128, max: MAX_RECORD_BYTES }))),
      {
        minLength: 1,
        maxLength: MAX_RECORDS_PER_MESSAGE,
        size: 'max',
      },
    ),
  })
  .map(({ route, sizes }) => {
    const write = (lengths: readonly number[]): Uint8Array => {
      const writer = new Writer().u8(FrameType.MEMBERSHIP).u8(MEMBERSHIP_SHUFFLE_REPLY).varint(route.length);
      for (const peer of route) writer.fixed(publicKeyOf(peer), PUBLIC_KEY_BYTES);
      writer.varint(lengths.length);
      lengths.forEach((length, i) => writer.varint(length).fixed(new Uint8Array(length).fill(i), length));
      return writer.finish();
    };
    // Type, kind, route count, route, sample count, then each record behind its length (one byte under 128).
    const size = (lengths: readonly number[]): number =>
      4 + route.length * PUBLIC_KEY_BYTES + lengths.reduce((sum, length) => sum + length + (length < 128 ? 1 : 2), 0);
    const lengths = [...sizes];
    while (lengths.length > 0 && size(lengths) > MAX_CHANNEL_FRAME_BYTES) lengths.pop();
    // Grow the long records, last first, into whatever room is left: the frame then often ends at the cap.
    for (let i = lengths.length - 1; i >= 0; i--) {
      const length = lengths[i] ?? 0;
      if (length >= 128) lengths[i] = Math.min(MAX_RECORD_BYTES, length + MAX_CHANNEL_FRAME_BYTES - size(lengths));
    }
    return write(lengths);
  });

export const sealedArb: fc.Arbitrary<SealedContent> = fc.oneof(
  fc
    .record({
      signal: fc.string({ unit: 'grapheme', maxLength: 300 }),
      record: fc.option(fc.uint8Array({ minLength: 1, maxLength: MAX_RECORD_BYTES }), { nil: undefined }),
    })
    .map((s): SealedContent => ({ kind: 'signal', ...s })),
  fc
    .record({
      sentAt: fc.maxSafeNat(),
      binary: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 2000 }),
      signature: signatureArb,
    })
    .map((m): SealedContent => ({ kind: 'message', ...m })),
);

const confirmBodyArb: fc.Arbitrary<ConfirmBody> = fc.record({
  from: peerArb,
  to: peerArb,
  session: fixedBytes(SESSION_NONCE_BYTES),
  initiatorNonce: fixedBytes(SESSION_NONCE_BYTES),
  responderNonce: fixedBytes(SESSION_NONCE_BYTES),
  initiatorFingerprint: fixedBytes(32),
  responderFingerprint: fixedBytes(32),
});

const broadcastArb: fc.Arbitrary<BroadcastHeader> = fc.record({
  origin: peerArb,
  seq: fc.maxSafeNat(),
  hops: fc.integer({ min: 0, max: MAX_BROADCAST_HOPS }),
  signature: signatureArb,
});

/** A valid frame of every type, as bytes and as the value parseChannelFrame must give back. */
export interface EncodedFrame {
  readonly bytes: Uint8Array;
  readonly value: ChannelFrame;
}

const messageIdArb = fc.integer({ min: 0, max: MAX_MESSAGE_ID - 1 });

export const channelFrameArb: fc.Arbitrary<EncodedFrame> = fc.oneof(
  fc.record({ body: confirmBodyArb, signature: signatureArb }).map(({ body, signature }): EncodedFrame => ({
    bytes: encodeConfirm(body, signature),
    value: { type: 'confirm', body, data: confirmData(body), signature },
  })),
  fc.array(recordArb, { maxLength: MAX_RECORDS_PER_MESSAGE }).map((records): EncodedFrame => ({
    bytes: encodeRecords(records),
    value: { type: 'records', records },
  })),
  fc
    .record({
      id: messageIdArb,
      binary: fc.boolean(),
      broadcast: fc.option(broadcastArb, { nil: undefined }),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ id, binary, broadcast, fraction }): EncodedFrame => {
      const length = Math.floor(fraction * (broadcast === undefined ? MAX_MESSAGE_BYTES : MAX_BROADCAST_BYTES));
      const start = broadcast === undefined ? { id, binary, length } : { id, binary, length, broadcast };
      return { bytes: encodeMessageStart(start), value: { type: 'start', ...start } };
    }),
  fc
    .record({ id: messageIdArb, bytes: fc.uint8Array({ maxLength: 600 }), filler: fc.nat({ max: CHUNK_BYTES - 600 }) })
    .map(({ id, bytes, filler }): EncodedFrame => {
      // Up to a full chunk, most of it filler: random bytes that long cost more to make than to parse.
      const payload = new Uint8Array(bytes.length + filler).fill(0x5a);
      payload.set(bytes);
      return { bytes: encodeMessageChunk(id, payload), value: { type: 'chunk', id, bytes: payload } };
    }),
  fc.constant<EncodedFrame>({ bytes: PING_FRAME, value: { type: 'ping' } }),
  relayArb.map((frame): EncodedFrame => ({ bytes: encodeRelay(frame), value: { type: 'relay', ...frame } })),
  membershipArb.map((message): EncodedFrame => ({
    bytes: encodeMembership(message),
    value: { type: 'membership', message },
  })),
);
