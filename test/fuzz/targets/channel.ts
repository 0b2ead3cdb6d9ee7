/** Targets for what arrives on a data channel: frames, their reassembly, and what a mesh seal holds. */
import fc from 'fast-check';
import { concatBytes } from '../../../shared/bytes.js';
import { ErrorCode } from '../../../shared/errors.js';
import {
  MAX_CHANNEL_FRAME_BYTES,
  MAX_PARTIAL_BYTES_PER_PEER,
  MAX_PARTIAL_MESSAGES_PER_PEER,
} from '../../../shared/limits.js';
import {
  PING_FRAME,
  Reassembler,
  encodeConfirm,
  encodeMessageChunk,
  encodeMessageStart,
  encodeRecords,
  parseChannelFrame,
  type ChannelFrame,
} from '../../../shared/protocol/channel.js';
import {
  encodeMembership,
  encodeRelay,
  encodeSealedContent,
  parseSealedContent,
  type SealedContent,
} from '../../../shared/protocol/mesh.js';
import { channelFrameArb, oversampledShuffle, rawShuffle, sealedArb } from '../arbitraries/channel.js';
import { bytesSame, must, sameValue, typedRefusal, type Verdict } from '../check.js';
import { mutatedBytes, randomBytes } from '../mutate.js';
import { defineTarget } from '../target.js';

/** Bytes to decode, with the value they encode when they are a valid encoding as generated. */
interface Encoded<T> {
  readonly bytes: Uint8Array;
  readonly value?: T;
}

const bare = (bytes: Uint8Array): Encoded<never> => ({ bytes });

/** The frame's one encoding, from its parsed value. */
function reencode(frame: ChannelFrame): Uint8Array {
  switch (frame.type) {
    case 'confirm':
      return encodeConfirm(frame.body, frame.signature);
    case 'records':
      return encodeRecords(frame.records);
    case 'start':
      return encodeMessageStart(frame);
    case 'chunk':
      return encodeMessageChunk(frame.id, frame.bytes);
    case 'ping':
      return PING_FRAME;
    case 'relay':
      return encodeRelay(frame);
    case 'membership':
      return encodeMembership(frame.message);
  }
}

const FRAME_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 255];

export const channelFrameTarget = defineTarget<Encoded<ChannelFrame>>({
  name: 'channel-frame',
  about:
    'parseChannelFrame: every frame type, valid, mutated, random and oversized; what it accepts re-encodes byte for byte',
  prepare: () => {
    const valid = channelFrameArb.map((f): Encoded<ChannelFrame> => ({ bytes: f.bytes, value: f.value }));
    const validBytes = channelFrameArb.map((f) => f.bytes);
    const input = fc.oneof(
      { weight: 2, arbitrary: valid },
      { weight: 5, arbitrary: mutatedBytes(validBytes).map(bare) },
      { weight: 2, arbitrary: fc.oneof(oversampledShuffle, rawShuffle, mutatedBytes(rawShuffle)).map(bare) },
      { weight: 2, arbitrary: randomBytes(700, FRAME_TYPES).map(bare) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...FRAME_TYPES), fc.nat({ max: 64 }))
          .map(([type, over]) =>
            bare(concatBytes(Uint8Array.of(type), new Uint8Array(MAX_CHANNEL_FRAME_BYTES + over))),
          ),
      },
    );
    return Promise.resolve({
      input,
      async: false,
      check: ({ bytes, value }): Verdict => {
        const result = parseChannelFrame(bytes);
        if (!result.ok) {
          must(value === undefined, `a valid ${value?.type ?? ''} frame was refused: ${result.error.message}`);
          return typedRefusal(result, [ErrorCode.PROTOCOL_VIOLATION]);
        }
        must(bytes.length <= MAX_CHANNEL_FRAME_BYTES, 'a frame over the size cap was accepted');
        must(bytesSame(reencode(result.value), bytes), `an accepted ${result.value.type} frame re-encodes differently`);
        if (value !== undefined) must(sameValue(result.value, value), `a ${value.type} frame parsed to another value`);
        return 'accepted';
      },
    });
  },
});

type Op =
  | { readonly kind: 'start'; readonly id: number; readonly binary: boolean; readonly length: number }
  | { readonly kind: 'chunk'; readonly id: number; readonly size: number };

const idArb = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(2 ** 31 - 1));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('start' as const),
    id: idArb,
    binary: fc.boolean(),
    length: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 40_000 })),
  }),
  fc.record({
    kind: fc.constant('chunk' as const),
    id: idArb,
    size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 16_000 })),
  }),
);

/** Chunk bytes that say where they belong, so a misplaced chunk shows in the payload. */
function chunkBytes(id: number, index: number, size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (id * 31 + index * 7 + i) & 0xff);
}

export const reassemblerTarget = defineTarget<readonly Op[]>({
  name: 'reassembler',
  about:
    'Reassembler: sequences of start and chunk frames (reused IDs, overruns, too many at once) through the real frame parser',
  prepare: () =>
    Promise.resolve({
      input: fc.array(opArb, { minLength: 1, maxLength: 40 }),
      async: false,
      check: (ops): Verdict => {
        const reassembler = new Reassembler();
        // What was fed for each message in progress, to hold every completed message to.
        const fed = new Map<number, { binary: boolean; length: number; chunks: Uint8Array[] }>();
        for (const [index, op] of ops.entries()) {
          const frame =
            op.kind === 'start'
              ? encodeMessageStart({ id: op.id, binary: op.binary, length: op.length })
              : encodeMessageChunk(op.id, chunkBytes(op.id, index, op.size));
          const parsed = parseChannelFrame(frame);
          if (!parsed.ok) {
            // A start over the size cap: refused before it reaches the reassembler.
            must(op.kind === 'start', `a chunk frame of ${frame.length} bytes was refused`);
            return typedRefusal(parsed, [ErrorCode.PROTOCOL_VIOLATION]);
          }
          must(parsed.value.type === op.kind, 'a frame parsed to another type');
          // One millisecond a frame: a run never reaches PARTIAL_MESSAGE_STALL_MS.
          const result = reassembler.accept(parsed.value, index);
          // A refusal closes the link: nothing after it matters.
          if (!result.ok) return typedRefusal(result, [ErrorCode.PROTOCOL_VIOLATION]);
          if (op.kind === 'start') {
            must(!fed.has(op.id), 'a second start for a message in progress was accepted');
            must(fed.size < MAX_PARTIAL_MESSAGES_PER_PEER, 'more messages in progress than the cap');
            const announced = [...fed.values()].reduce((sum, message) => sum + message.length, op.length);
            must(announced <= MAX_PARTIAL_BYTES_PER_PEER, 'messages in progress announce more than the cap');
            fed.set(op.id, { binary: op.binary, length: op.length, chunks: [] });
          } else {
            const entry = fed.get(op.id);
            must(entry !== undefined, 'a chunk for no message in progress was accepted');
            entry.chunks.push(chunkBytes(op.id, index, op.size));
          }
          const entry = fed.get(op.id);
          if (entry === undefined) throw new Error('unreachable');
          const received = entry.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
          must(received <= entry.length, 'more bytes than announced were accepted');
          if (result.value === undefined) {
            must(received < entry.length, 'a message that is complete was not delivered');
            continue;
          }
          must(received === entry.length, 'a message was delivered before all its bytes arrived');
          must(result.value.binary === entry.binary, 'a message was delivered with another kind');
          must(
            bytesSame(result.value.payload, concatBytes(...entry.chunks)),
            'a message was delivered with other bytes',
          );
          fed.delete(op.id);
        }
        let held = 0;
        for (const entry of fed.values()) held += entry.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        must(reassembler.heldBytes === held, `heldBytes says ${reassembler.heldBytes}, ${held} are held`);
        return 'accepted';
      },
    }),
});

export const sealedContentTarget = defineTarget<Encoded<SealedContent>>({
  name: 'sealed-content',
  about:
    'parseSealedContent: what an opened mesh seal holds, valid, mutated and random; what it accepts re-encodes byte for byte',
  prepare: () => {
    const valid = sealedArb.map((content): Encoded<SealedContent> => ({
      bytes: encodeSealedContent(content),
      value: content,
    }));
    const input = fc.oneof(
      { weight: 2, arbitrary: valid },
      { weight: 4, arbitrary: mutatedBytes(sealedArb.map(encodeSealedContent)).map(bare) },
      { weight: 2, arbitrary: randomBytes(300, [0, 1, 2, 3, 255]).map(bare) },
    );
    return Promise.resolve({
      input,
      async: false,
      check: ({ bytes, value }): Verdict => {
        const result = parseSealedContent(bytes);
        if (!result.ok) {
          must(value === undefined, `valid sealed content was refused: ${result.error.message}`);
          return typedRefusal(result, [ErrorCode.BAD_SEAL]);
        }
        must(bytesSame(encodeSealedContent(result.value), bytes), 'accepted sealed content re-encodes differently');
        if (value !== undefined) must(sameValue(result.value, value), 'sealed content parsed to another value');
        return 'accepted';
      },
    });
  },
});
