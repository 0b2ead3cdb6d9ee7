import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, utf8 } from '../../shared/bytes.js';
import { Writer } from '../../shared/canonical.js';
import { ErrorCode, type Result } from '../../shared/errors.js';
import { SMALL_ORDER_KEY_ENCODINGS, isAcceptablePublicKey } from '../../shared/identity/index.js';
import { peerIdFromPublicKey, publicKeyOf, type PeerId } from '../../shared/identity/peer-id.js';
import {
  MAX_CHANNEL_FRAME_BYTES,
  MAX_RECORD_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  MAX_RELAY_PATH,
  MAX_RELAY_TTL,
  MAX_ROUTED_MESSAGE_BYTES,
  MAX_SIGNAL_PAYLOAD_CHARS,
  MAX_WALK_HOPS,
  RELAY_ID_BYTES,
  SIGNATURE_BYTES,
} from '../../shared/limits.js';
import { FrameType, parseChannelFrame, type ChannelFrame } from '../../shared/protocol/channel.js';
import {
  MAX_SEALED_BYTES,
  encodeMembership,
  encodeRelay,
  encodeSealedContent,
  parseSealedContent,
  routedMessageBytes,
  type RelayFrame,
  type SealedContent,
  type WireMembership,
} from '../../shared/protocol/mesh.js';
import { SEAL_OVERHEAD_BYTES } from '../../shared/seal.js';
import { membershipArb, relayArb, sealedArb } from '../fuzz/arbitraries/channel.js';
import { pathArb } from '../fuzz/arbitraries/peers.js';

const RUNS = 10_000;

// --- Helpers ------------------------------------------------------------------

/** A deterministic acceptable key (top bit clear, so canonical; never one of the small-order ones). */
function keyOf(n: number): Uint8Array {
  const key = Uint8Array.from({ length: 32 }, (_, i) => (n * 37 + i * 11 + 1) & 0x7f);
  if (!isAcceptablePublicKey(key)) throw new Error(`key ${n} is not acceptable`);
  return key;
}
const peer = (n: number): PeerId => peerIdFromPublicKey(keyOf(n));
const peers = (count: number, from = 100): PeerId[] => Array.from({ length: count }, (_, i) => peer(from + i));
const bytesOf = (length: number, fill = 0xab): Uint8Array => new Uint8Array(length).fill(fill);

/** A key no peer may use: y = p, a non-canonical encoding. */
const NON_CANONICAL_KEY = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
const BAD_KEYS: readonly [string, Uint8Array][] = [
  ...SMALL_ORDER_KEY_ENCODINGS.map((key, i) => [`small-order key #${i}`, key] as [string, Uint8Array]),
  ['a non-canonical key', NON_CANONICAL_KEY],
  ['another non-canonical key', fromHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff')],
];

function expectViolation(frame: Uint8Array, what = ''): void {
  let result: Result<ChannelFrame> | undefined;
  expect(() => (result = parseChannelFrame(frame)), what).not.toThrow();
  expect(result?.ok, what).toBe(false);
  if (result !== undefined && !result.ok) expect(result.error.code, what).toBe(ErrorCode.PROTOCOL_VIOLATION);
}

function parsed(frame: Uint8Array): ChannelFrame {
  const result = parseChannelFrame(frame);
  if (!result.ok) throw new Error(`expected a frame, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

function expectBadSeal(bytes: Uint8Array, what = ''): void {
  let result: Result<SealedContent> | undefined;
  expect(() => (result = parseSealedContent(bytes)), what).not.toThrow();
  expect(result?.ok, what).toBe(false);
  if (result !== undefined && !result.ok) expect(result.error.code, what).toBe(ErrorCode.BAD_SEAL);
}

/** Replace the first occurrence of `key` in `frame` (a sub-array search). */
function replaceKey(frame: Uint8Array, key: Uint8Array, replacement: Uint8Array): Uint8Array {
  outer: for (let at = 0; at + key.length <= frame.length; at++) {
    for (let i = 0; i < key.length; i++) if (frame[at + i] !== key[i]) continue outer;
    const out = Uint8Array.from(frame);
    out.set(replacement, at);
    return out;
  }
  throw new Error('key not found in frame');
}

interface RawRelay {
  idLength?: number;
  ttl?: number;
  from?: Uint8Array;
  to?: Uint8Array;
  routeCount?: number;
  route?: readonly Uint8Array[];
  trailCount?: number;
  trail?: readonly Uint8Array[];
  sealedLength?: number;
}

/** A relay frame written field by field, so any field can be out of range. */
function rawRelay(raw: RawRelay = {}): Uint8Array {
  const route = raw.route ?? [];
  const trail = raw.trail ?? [];
  const writer = new Writer()
    .u8(FrameType.RELAY)
    .fixed(bytesOf(raw.idLength ?? RELAY_ID_BYTES, 1), raw.idLength ?? RELAY_ID_BYTES)
    .u8(raw.ttl ?? 3)
    .fixed(raw.from ?? keyOf(1), 32)
    .fixed(raw.to ?? keyOf(2), 32)
    .varint(raw.routeCount ?? route.length);
  for (const key of route) writer.fixed(key, 32);
  writer.varint(raw.trailCount ?? trail.length);
  for (const key of trail) writer.fixed(key, 32);
  return concatBytes(writer.finish(), bytesOf(raw.sealedLength ?? SEAL_OVERHEAD_BYTES + 10));
}

function relay(overrides: Partial<Omit<RelayFrame, 'type'>> = {}): Omit<RelayFrame, 'type'> {
  return {
    id: bytesOf(RELAY_ID_BYTES, 9),
    ttl: 5,
    from: peer(1),
    to: peer(2),
    route: [peer(3), peer(4)],
    trail: [peer(5)],
    sealed: bytesOf(SEAL_OVERHEAD_BYTES + 40, 0x5a),
    ...overrides,
  };
}

const membershipHead = (kind: number): Writer => new Writer().u8(FrameType.MEMBERSHIP).u8(kind);
const KIND = {
  join: 1,
  forwardJoin: 2,
  neighbour: 3,
  neighbourReply: 4,
  disconnect: 5,
  shuffle: 6,
  shuffleReply: 7,
  degree: 8,
} as const;

const record = (length: number, fill = 0x42): Uint8Array => bytesOf(length, fill);

/** One of each membership message, at ordinary sizes. */
const EVERY_MEMBERSHIP: readonly WireMembership[] = [
  { type: 'join', record: record(200) },
  { type: 'join', record: new Uint8Array() },
  { type: 'forward-join', joiner: record(180), ttl: 6, path: peers(3) },
  { type: 'forward-join', joiner: record(MAX_RECORD_BYTES), ttl: 0, path: [] },
  { type: 'forward-join', joiner: record(1), ttl: MAX_WALK_HOPS, path: peers(MAX_WALK_HOPS) },
  { type: 'neighbour', priority: 'high' },
  { type: 'neighbour', priority: 'low' },
  { type: 'neighbour-reply', accepted: true },
  { type: 'neighbour-reply', accepted: false },
  { type: 'disconnect' },
  { type: 'shuffle', origin: peer(7), ttl: 6, path: peers(2), sample: [record(150, 1), record(220, 2)] },
  { type: 'shuffle', origin: peer(7), ttl: 0, path: [], sample: [] },
  {
    type: 'shuffle',
    origin: peer(8),
    ttl: MAX_WALK_HOPS,
    path: peers(MAX_WALK_HOPS),
    sample: Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, i) => record(200, i)),
  },
  { type: 'shuffle-reply', route: peers(4), sample: [record(130, 3)] },
  { type: 'shuffle-reply', route: [], sample: [] },
  { type: 'shuffle-reply', route: peers(MAX_WALK_HOPS), sample: [new Uint8Array(), record(MAX_RECORD_BYTES)] },
  { type: 'degree', active: 0 },
  { type: 'degree', active: MAX_RECORDS_PER_MESSAGE },
];

// --- Arbitraries ----------------------------------------------------------------
// Shared with the fuzz targets (test/fuzz/targets/channel.ts), which feed the parsers hostile bytes.

// --- Relay frames -----------------------------------------------------------------

describe('relay frames', () => {
  it('round-trip through parseChannelFrame, from the smallest to the largest', () => {
    const smallest = relay({ ttl: 0, route: [], trail: [], sealed: bytesOf(SEAL_OVERHEAD_BYTES) });
    const largest = relay({
      ttl: MAX_RELAY_TTL,
      route: peers(MAX_RELAY_PATH, 200),
      trail: peers(MAX_RELAY_PATH, 300),
      sealed: bytesOf(MAX_SEALED_BYTES, 0x77),
    });
    for (const frame of [relay(), smallest, largest]) {
      const bytes = encodeRelay(frame);
      expect(bytes[0]).toBe(FrameType.RELAY);
      expect(parsed(bytes)).toEqual({ type: 'relay', ...frame });
    }
    // MAX_SEALED_BYTES is exactly what is left of a frame with every header field at its largest.
    expect(encodeRelay(largest)).toHaveLength(MAX_CHANNEL_FRAME_BYTES);
  });

  it(`round-trip any valid frame (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(relayArb, (frame) => {
        expect(parsed(encodeRelay(frame))).toEqual({ type: 'relay', ...frame });
      }),
      { numRuns: RUNS },
    );
  });

  it('parses the hand-written reference layout', () => {
    // type ‖ id ‖ ttl ‖ from ‖ to ‖ route count ‖ route ‖ trail count ‖ trail ‖ sealed
    const frame = rawRelay({ ttl: 2, route: [keyOf(3)], trail: [keyOf(4), keyOf(5)], sealedLength: 80 });
    expect(parsed(frame)).toEqual({
      type: 'relay',
      id: bytesOf(RELAY_ID_BYTES, 1),
      ttl: 2,
      from: peer(1),
      to: peer(2),
      route: [peer(3)],
      trail: [peer(4), peer(5)],
      sealed: bytesOf(80),
    });
    expect(
      encodeRelay({
        ...relay(),
        ttl: 2,
        id: bytesOf(RELAY_ID_BYTES, 1),
        route: [peer(3)],
        trail: [peer(4), peer(5)],
        sealed: bytesOf(80),
      }),
    ).toEqual(frame);
  });

  it.each<[string, Uint8Array]>([
    ['a hop budget of MAX_RELAY_TTL + 1', rawRelay({ ttl: MAX_RELAY_TTL + 1 })],
    ['a hop budget of 255', rawRelay({ ttl: 255 })],
    ['a route of MAX_RELAY_PATH + 1', rawRelay({ route: peers(MAX_RELAY_PATH + 1).map(publicKeyOf) })],
    ['a trail of MAX_RELAY_PATH + 1', rawRelay({ trail: peers(MAX_RELAY_PATH + 1).map(publicKeyOf) })],
    ['a route count of 2^53 - 1 and nothing after it', rawRelay({ routeCount: Number.MAX_SAFE_INTEGER })],
    ['a route count larger than its keys', rawRelay({ routeCount: 3, route: [keyOf(3)], sealedLength: 0 })],
    ['a sealed part one byte short of the overhead', rawRelay({ sealedLength: SEAL_OVERHEAD_BYTES - 1 })],
    ['no sealed part', rawRelay({ sealedLength: 0 })],
    ['a sealed part of MAX_SEALED_BYTES + 1', rawRelay({ sealedLength: MAX_SEALED_BYTES + 1 })],
    ['a frame over the channel cap', rawRelay({ sealedLength: MAX_CHANNEL_FRAME_BYTES })],
    ['a truncated ID', Uint8Array.of(FrameType.RELAY, 1, 2, 3)],
    ['the type byte alone', Uint8Array.of(FrameType.RELAY)],
  ])('refuse %s as a protocol violation', (_what, frame) => {
    expectViolation(frame);
  });

  it('accept a sealed part of exactly the overhead and of exactly MAX_SEALED_BYTES', () => {
    expect(parsed(rawRelay({ sealedLength: SEAL_OVERHEAD_BYTES })).type).toBe('relay');
    expect(parsed(rawRelay({ sealedLength: MAX_SEALED_BYTES })).type).toBe('relay');
    expect(parsed(rawRelay({ ttl: MAX_RELAY_TTL })).type).toBe('relay');
  });

  it.each(BAD_KEYS)('refuse %s as sender, recipient, route hop or trail hop', (what, bad) => {
    expectViolation(rawRelay({ from: bad }), `${what} as from`);
    expectViolation(rawRelay({ to: bad }), `${what} as to`);
    expectViolation(rawRelay({ route: [keyOf(3), bad] }), `${what} in the route`);
    expectViolation(rawRelay({ trail: [bad, keyOf(4)] }), `${what} in the trail`);
    // The same, reached through a frame our own encoder wrote.
    const good = encodeRelay(relay());
    expectViolation(replaceKey(good, keyOf(4), bad), `${what} patched into the route`);
  });

  it('give a protocol violation for every truncation inside the header and the seal overhead, and a shorter seal after', () => {
    const frame = relay({ route: peers(3), trail: peers(2, 50) });
    const bytes = encodeRelay(frame);
    const header = bytes.length - frame.sealed.length;
    for (let length = 0; length < header + SEAL_OVERHEAD_BYTES; length++) {
      expectViolation(bytes.subarray(0, length), `length ${length}`);
    }
    // The sealed part runs to the frame's end: a cut there is a shorter seal, which will not open.
    for (let length = header + SEAL_OVERHEAD_BYTES; length <= bytes.length; length++) {
      expect(parsed(bytes.subarray(0, length))).toEqual({
        type: 'relay',
        ...frame,
        sealed: frame.sealed.subarray(0, length - header),
      });
    }
  });

  it.each<[string, Partial<Omit<RelayFrame, 'type'>>]>([
    ['a hop budget over MAX_RELAY_TTL', { ttl: MAX_RELAY_TTL + 1 }],
    ['a negative hop budget', { ttl: -1 }],
    ['a fractional hop budget', { ttl: 1.5 }],
    ['NaN hops', { ttl: Number.NaN }],
    ['a route over MAX_RELAY_PATH', { route: peers(MAX_RELAY_PATH + 1) }],
    ['a trail over MAX_RELAY_PATH', { trail: peers(MAX_RELAY_PATH + 1) }],
    ['a sealed part over MAX_SEALED_BYTES', { sealed: bytesOf(MAX_SEALED_BYTES + 1) }],
    ['a sealed part shorter than a seal', { sealed: bytesOf(SEAL_OVERHEAD_BYTES - 1) }],
    ['a short ID', { id: bytesOf(RELAY_ID_BYTES - 1) }],
    ['a long ID', { id: bytesOf(RELAY_ID_BYTES + 1) }],
  ])('refuse to encode %s (RangeError)', (_what, overrides) => {
    expect(() => encodeRelay(relay(overrides))).toThrow(RangeError);
  });
});

// --- Membership frames --------------------------------------------------------------

describe('membership frames', () => {
  it.each(EVERY_MEMBERSHIP.map((m) => [m.type, m] as const))('round-trip a %s', (_type, message) => {
    const bytes = encodeMembership(message);
    expect(bytes[0]).toBe(FrameType.MEMBERSHIP);
    expect(bytes.length).toBeLessThanOrEqual(MAX_CHANNEL_FRAME_BYTES);
    expect(parsed(bytes)).toEqual({ type: 'membership', message });
  });

  it(`round-trip any valid message (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(membershipArb, (message) => {
        expect(parsed(encodeMembership(message))).toEqual({ type: 'membership', message });
      }),
      { numRuns: RUNS },
    );
  });

  it('parses the hand-written reference layout of each kind', () => {
    const [p1, p2] = [peer(1), peer(2)];
    const cases: [Uint8Array, WireMembership][] = [
      [membershipHead(KIND.join).varint(2).u8(7).u8(8).finish(), { type: 'join', record: Uint8Array.of(7, 8) }],
      [
        membershipHead(KIND.forwardJoin).varint(1).u8(9).u8(4).varint(1).fixed(keyOf(1), 32).finish(),
        { type: 'forward-join', joiner: Uint8Array.of(9), ttl: 4, path: [p1] },
      ],
      [membershipHead(KIND.neighbour).u8(1).finish(), { type: 'neighbour', priority: 'high' }],
      [membershipHead(KIND.neighbour).u8(0).finish(), { type: 'neighbour', priority: 'low' }],
      [membershipHead(KIND.neighbourReply).u8(1).finish(), { type: 'neighbour-reply', accepted: true }],
      [membershipHead(KIND.disconnect).finish(), { type: 'disconnect' }],
      [
        membershipHead(KIND.shuffle)
          .fixed(keyOf(1), 32)
          .u8(3)
          .varint(1)
          .fixed(keyOf(2), 32)
          .varint(1)
          .varint(1)
          .u8(5)
          .finish(),
        { type: 'shuffle', origin: p1, ttl: 3, path: [p2], sample: [Uint8Array.of(5)] },
      ],
      [
        membershipHead(KIND.shuffleReply).varint(2).fixed(keyOf(2), 32).fixed(keyOf(1), 32).varint(0).finish(),
        { type: 'shuffle-reply', route: [p2, p1], sample: [] },
      ],
    ];
    for (const [bytes, message] of cases) {
      expect(parsed(bytes)).toEqual({ type: 'membership', message });
      expect(encodeMembership(message)).toEqual(bytes);
    }
  });

  const keys = (count: number): Writer => {
    const writer = new Writer().varint(count);
    for (let i = 0; i < count; i++) writer.fixed(keyOf(10 + i), 32);
    return writer;
  };
  const join = (writer: Writer, tail: Writer): Uint8Array => concatBytes(writer.finish(), tail.finish());

  it.each<[string, Uint8Array]>([
    ['no kind', Uint8Array.of(FrameType.MEMBERSHIP)],
    ['kind 0', Uint8Array.of(FrameType.MEMBERSHIP, 0)],
    ['kind 8 (one past the last)', Uint8Array.of(FrameType.MEMBERSHIP, 8)],
    ['kind 255', Uint8Array.of(FrameType.MEMBERSHIP, 255)],
    [
      'a join record over MAX_RECORD_BYTES',
      membershipHead(KIND.join)
        .varint(MAX_RECORD_BYTES + 1)
        .fixed(record(MAX_RECORD_BYTES + 1), MAX_RECORD_BYTES + 1)
        .finish(),
    ],
    ['a join record length of 2^53 - 1', membershipHead(KIND.join).varint(Number.MAX_SAFE_INTEGER).finish()],
    ['a join record longer than the frame', membershipHead(KIND.join).varint(10).u8(1).finish()],
    ['a non-minimal varint length', Uint8Array.of(FrameType.MEMBERSHIP, KIND.join, 0x81, 0x00, 1)],
    [
      'a forward-join joiner over MAX_RECORD_BYTES',
      membershipHead(KIND.forwardJoin)
        .varint(MAX_RECORD_BYTES + 1)
        .fixed(record(MAX_RECORD_BYTES + 1), MAX_RECORD_BYTES + 1)
        .u8(1)
        .varint(0)
        .finish(),
    ],
    [
      'a forward-join ttl of MAX_WALK_HOPS + 1',
      membershipHead(KIND.forwardJoin)
        .varint(1)
        .u8(1)
        .u8(MAX_WALK_HOPS + 1)
        .varint(0)
        .finish(),
    ],
    ['a forward-join ttl of 255', membershipHead(KIND.forwardJoin).varint(1).u8(1).u8(255).varint(0).finish()],
    [
      'a forward-join path of MAX_WALK_HOPS + 1',
      join(membershipHead(KIND.forwardJoin).varint(1).u8(1).u8(3), keys(MAX_WALK_HOPS + 1)),
    ],
    ['a neighbour flag of 2', membershipHead(KIND.neighbour).u8(2).finish()],
    ['a neighbour flag of 255', membershipHead(KIND.neighbour).u8(255).finish()],
    ['a neighbour with no flag', membershipHead(KIND.neighbour).finish()],
    ['a neighbour-reply flag of 2', membershipHead(KIND.neighbourReply).u8(2).finish()],
    ['a neighbour-reply flag of 128', membershipHead(KIND.neighbourReply).u8(128).finish()],
    [
      'a shuffle ttl of MAX_WALK_HOPS + 1',
      join(
        membershipHead(KIND.shuffle)
          .fixed(keyOf(1), 32)
          .u8(MAX_WALK_HOPS + 1),
        keys(0).varint(0),
      ),
    ],
    [
      'a shuffle path of MAX_WALK_HOPS + 1',
      join(membershipHead(KIND.shuffle).fixed(keyOf(1), 32).u8(2), keys(MAX_WALK_HOPS + 1).varint(0)),
    ],
    [
      'a shuffle sample of MAX_RECORDS_PER_MESSAGE + 1',
      join(membershipHead(KIND.shuffle).fixed(keyOf(1), 32).u8(2), keys(0).varint(MAX_RECORDS_PER_MESSAGE + 1)),
    ],
    [
      'a shuffle sample record over MAX_RECORD_BYTES',
      join(
        membershipHead(KIND.shuffle).fixed(keyOf(1), 32).u8(2),
        keys(0)
          .varint(1)
          .varint(MAX_RECORD_BYTES + 1)
          .fixed(record(MAX_RECORD_BYTES + 1), MAX_RECORD_BYTES + 1),
      ),
    ],
    [
      'a shuffle sample count larger than its records',
      join(membershipHead(KIND.shuffle).fixed(keyOf(1), 32).u8(2), keys(0).varint(3).varint(1).u8(1)),
    ],
    [
      'a shuffle-reply route of MAX_WALK_HOPS + 1',
      join(membershipHead(KIND.shuffleReply), keys(MAX_WALK_HOPS + 1).varint(0)),
    ],
    [
      'a shuffle-reply sample of MAX_RECORDS_PER_MESSAGE + 1',
      join(membershipHead(KIND.shuffleReply), keys(0).varint(MAX_RECORDS_PER_MESSAGE + 1)),
    ],
    [
      'a shuffle-reply sample count of 2^53 - 1',
      join(membershipHead(KIND.shuffleReply), keys(0).varint(Number.MAX_SAFE_INTEGER)),
    ],
    [
      'a degree over MAX_RECORDS_PER_MESSAGE',
      membershipHead(KIND.degree)
        .u8(MAX_RECORDS_PER_MESSAGE + 1)
        .finish(),
    ],
  ])('refuse %s as a protocol violation', (_what, frame) => {
    expectViolation(frame);
  });

  it('accept every cap exactly', () => {
    const atCaps: WireMembership[] = [
      { type: 'forward-join', joiner: record(MAX_RECORD_BYTES), ttl: MAX_WALK_HOPS, path: peers(MAX_WALK_HOPS) },
      {
        type: 'shuffle',
        origin: peer(1),
        ttl: MAX_WALK_HOPS,
        path: peers(MAX_WALK_HOPS),
        sample: Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, i) => record(100, i)),
      },
      {
        type: 'shuffle-reply',
        route: peers(MAX_WALK_HOPS),
        sample: Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, i) => record(100, i)),
      },
    ];
    for (const message of atCaps) expect(parsed(encodeMembership(message))).toEqual({ type: 'membership', message });
  });

  it.each(BAD_KEYS)('refuse %s as a shuffle origin or in a walk path or reply route', (what, bad) => {
    const origin = peer(1);
    const hop = peer(2);
    const frames = [
      encodeMembership({ type: 'shuffle', origin, ttl: 2, path: [], sample: [] }),
      encodeMembership({ type: 'shuffle', origin: peer(3), ttl: 2, path: [hop], sample: [] }),
      encodeMembership({ type: 'forward-join', joiner: record(10), ttl: 2, path: [peer(3), hop] }),
      encodeMembership({ type: 'shuffle-reply', route: [hop], sample: [record(5)] }),
    ];
    expectViolation(replaceKey(frames[0] ?? new Uint8Array(), publicKeyOf(origin), bad), `${what} as origin`);
    for (const frame of frames.slice(1)) expectViolation(replaceKey(frame, publicKeyOf(hop), bad), what);
  });

  it.each(EVERY_MEMBERSHIP.map((m) => [m.type, m] as const))('refuse a %s with a trailing byte', (_type, message) => {
    const bytes = encodeMembership(message);
    expectViolation(concatBytes(bytes, Uint8Array.of(0)));
    expectViolation(concatBytes(bytes, bytesOf(5)));
  });

  it.each(EVERY_MEMBERSHIP.map((m) => [m.type, m] as const))(
    'give a protocol violation, never a throw, for a %s truncated at every byte',
    (_type, message) => {
      const bytes = encodeMembership(message);
      for (let length = 0; length < bytes.length; length++) expectViolation(bytes.subarray(0, length), `${length}`);
    },
  );

  describe('samples cut to fit one frame', () => {
    it('keeps the longest prefix of full-size records that fits', () => {
      const sample = Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, i) => record(MAX_RECORD_BYTES, i));
      for (const message of [
        { type: 'shuffle', origin: peer(1), ttl: MAX_WALK_HOPS, path: peers(MAX_WALK_HOPS), sample },
        { type: 'shuffle-reply', route: peers(MAX_WALK_HOPS), sample },
        { type: 'shuffle-reply', route: [], sample },
      ] as const) {
        const bytes = encodeMembership(message);
        expect(bytes.length).toBeLessThanOrEqual(MAX_CHANNEL_FRAME_BYTES);
        const frame = parsed(bytes);
        if (frame.type !== 'membership' || (frame.message.type !== 'shuffle' && frame.message.type !== 'shuffle-reply'))
          throw new Error('not a shuffle');
        const kept = frame.message.sample;
        expect(kept.length).toBeGreaterThan(0);
        expect(kept.length).toBeLessThan(sample.length);
        expect(kept).toEqual(sample.slice(0, kept.length));
        // One more full-size record (two length bytes and 1024) would not have fitted.
        expect(bytes.length + 2 + MAX_RECORD_BYTES).toBeGreaterThan(MAX_CHANNEL_FRAME_BYTES);
        // Everything else survives the cut.
        expect({ ...frame.message, sample: [] }).toEqual({ ...message, sample: [] });
      }
    });

    it('keeps every record that fits to the last byte, counting one length byte for a record under 128 bytes', () => {
      // Found by `npm run fuzz` (channel-frame): a frame filled exactly parsed, but re-encoding it cut its last
      // record, because the encoder charged every record two length bytes.
      const full = Array.from({ length: 15 }, (_, i) => record(MAX_RECORD_BYTES, i));
      const head = 4 + 15 * (2 + MAX_RECORD_BYTES); // type, kind, route count, sample count, full records
      const sample = [...full, record(0), record(MAX_CHANNEL_FRAME_BYTES - head - 1 - 2, 99)];
      const bytes = encodeMembership({ type: 'shuffle-reply', route: [], sample });
      expect(bytes).toHaveLength(MAX_CHANNEL_FRAME_BYTES);
      expect(parsed(bytes)).toEqual({ type: 'membership', message: { type: 'shuffle-reply', route: [], sample } });
    });

    it('keeps at most MAX_RECORDS_PER_MESSAGE records, the first ones', () => {
      const sample = Array.from({ length: 50 }, (_, i) => record(10, i));
      const frame = parsed(encodeMembership({ type: 'shuffle-reply', route: [], sample }));
      expect(frame).toEqual({
        type: 'membership',
        message: { type: 'shuffle-reply', route: [], sample: sample.slice(0, MAX_RECORDS_PER_MESSAGE) },
      });
    });

    it('leaves out a record over MAX_RECORD_BYTES and keeps the rest', () => {
      const sample = [record(10, 1), record(MAX_RECORD_BYTES + 1, 2), record(20, 3)];
      const frame = parsed(encodeMembership({ type: 'shuffle', origin: peer(1), ttl: 1, path: [], sample }));
      expect(frame).toEqual({
        type: 'membership',
        message: { type: 'shuffle', origin: peer(1), ttl: 1, path: [], sample: [record(10, 1), record(20, 3)] },
      });
    });

    it(`always fit, keep an ordered subset, and cut nothing that fits whole (${RUNS / 10} cases)`, () => {
      const sizeArb = fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 128, max: MAX_RECORD_BYTES + 50 }));
      fc.assert(
        fc.property(
          fc.array(sizeArb, { maxLength: 45 }),
          fc.boolean(),
          pathArb(MAX_WALK_HOPS),
          (sizes, isShuffle, path) => {
            const sample = sizes.map((size, i) => record(size, i));
            const message: WireMembership = isShuffle
              ? { type: 'shuffle', origin: peer(1), ttl: 3, path, sample }
              : { type: 'shuffle-reply', route: path, sample };
            const bytes = encodeMembership(message);
            expect(bytes.length).toBeLessThanOrEqual(MAX_CHANNEL_FRAME_BYTES);
            const frame = parsed(bytes);
            if (
              frame.type !== 'membership' ||
              (frame.message.type !== 'shuffle' && frame.message.type !== 'shuffle-reply')
            )
              throw new Error('not a shuffle');
            const kept = frame.message.sample;
            // An ordered subset of the first MAX_RECORDS_PER_MESSAGE, each within the record cap.
            const eligible = sample.slice(0, MAX_RECORDS_PER_MESSAGE).filter((r) => r.length <= MAX_RECORD_BYTES);
            let at = 0;
            for (const r of kept) {
              while (at < eligible.length && !sameBytes(eligible[at], r)) at++;
              expect(at, 'kept records keep their order').toBeLessThan(eligible.length);
              at++;
            }
            // When every eligible record fits, none is cut (a length under 128 takes one byte, the rest two).
            const whole =
              encodeMembership({ ...message, sample: [] }).length +
              eligible.reduce((s, r) => s + r.length + (r.length < 128 ? 1 : 2), 0);
            if (whole <= MAX_CHANNEL_FRAME_BYTES) expect(kept).toEqual(eligible);
          },
        ),
        { numRuns: RUNS / 10 },
      );
    });
  });

  it.each<[string, WireMembership]>([
    ['a join record over MAX_RECORD_BYTES', { type: 'join', record: record(MAX_RECORD_BYTES + 1) }],
    [
      'a forward-join joiner over MAX_RECORD_BYTES',
      { type: 'forward-join', joiner: record(MAX_RECORD_BYTES + 1), ttl: 1, path: [] },
    ],
    [
      'a forward-join ttl over MAX_WALK_HOPS',
      { type: 'forward-join', joiner: record(1), ttl: MAX_WALK_HOPS + 1, path: [] },
    ],
    ['a negative forward-join ttl', { type: 'forward-join', joiner: record(1), ttl: -1, path: [] }],
    ['a fractional forward-join ttl', { type: 'forward-join', joiner: record(1), ttl: 0.5, path: [] }],
    [
      'a forward-join path over MAX_WALK_HOPS',
      { type: 'forward-join', joiner: record(1), ttl: 1, path: peers(MAX_WALK_HOPS + 1) },
    ],
    [
      'a shuffle ttl over MAX_WALK_HOPS',
      { type: 'shuffle', origin: peer(1), ttl: MAX_WALK_HOPS + 1, path: [], sample: [] },
    ],
    ['a NaN shuffle ttl', { type: 'shuffle', origin: peer(1), ttl: Number.NaN, path: [], sample: [] }],
    [
      'a shuffle path over MAX_WALK_HOPS',
      { type: 'shuffle', origin: peer(1), ttl: 1, path: peers(MAX_WALK_HOPS + 1), sample: [] },
    ],
    [
      'a shuffle-reply route over MAX_WALK_HOPS',
      { type: 'shuffle-reply', route: peers(MAX_WALK_HOPS + 1), sample: [] },
    ],
  ])('refuse to encode %s (RangeError)', (_what, message) => {
    expect(() => encodeMembership(message)).toThrow(RangeError);
  });
});

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

// --- Any bytes ------------------------------------------------------------------------
// Random and mutated frames of every type are the channel-frame fuzz target (test/fuzz/targets/channel.ts).

// --- What a seal holds ------------------------------------------------------------------

describe('sealed contents', () => {
  const signature = bytesOf(SIGNATURE_BYTES, 0x33);

  it.each<[string, SealedContent]>([
    ['a signal with the sender’s record', { kind: 'signal', signal: 'eyJvZmZlciI6MX0', record: record(230) }],
    ['a signal without a record', { kind: 'signal', signal: 'eyJvZmZlciI6MX0', record: undefined }],
    ['an empty signal', { kind: 'signal', signal: '', record: undefined }],
    ['a signal with a record of MAX_RECORD_BYTES', { kind: 'signal', signal: 'x', record: record(MAX_RECORD_BYTES) }],
    [
      'a binary message',
      { kind: 'message', sentAt: 1_800_000_000_000, binary: true, payload: Uint8Array.of(0, 1, 255), signature },
    ],
    ['a text message', { kind: 'message', sentAt: 0, binary: false, payload: utf8('héllo'), signature }],
    [
      'an empty message',
      { kind: 'message', sentAt: Number.MAX_SAFE_INTEGER, binary: false, payload: new Uint8Array(), signature },
    ],
    [
      'a message of MAX_ROUTED_MESSAGE_BYTES',
      { kind: 'message', sentAt: 5, binary: true, payload: bytesOf(MAX_ROUTED_MESSAGE_BYTES), signature },
    ],
  ])('round-trip %s', (_what, content) => {
    const result = parseSealedContent(encodeSealedContent(content));
    expect(result).toEqual({ ok: true, value: content });
  });

  it('read an empty record as no record', () => {
    const result = parseSealedContent(encodeSealedContent({ kind: 'signal', signal: 's', record: new Uint8Array() }));
    expect(result).toEqual({ ok: true, value: { kind: 'signal', signal: 's', record: undefined } });
  });

  it(`round-trip any valid content (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(sealedArb, (content) => {
        expect(parseSealedContent(encodeSealedContent(content))).toEqual({ ok: true, value: content });
      }),
      { numRuns: RUNS },
    );
  });

  const signalHead = (signal: string): Writer => new Writer().u8(1).string(signal, MAX_SIGNAL_PAYLOAD_CHARS);
  const messageHead = (flag: number): Writer => new Writer().u8(2).varint(7).u8(flag);

  it.each<[string, Uint8Array]>([
    ['nothing', new Uint8Array()],
    ['kind 0', Uint8Array.of(0)],
    ['kind 3', Uint8Array.of(3, 0, 0)],
    ['kind 255', Uint8Array.of(255)],
    [
      'a record over MAX_RECORD_BYTES',
      concatBytes(
        signalHead('s')
          .varint(MAX_RECORD_BYTES + 1)
          .finish(),
        record(MAX_RECORD_BYTES + 1),
      ),
    ],
    ['a record length of 2^53 - 1', signalHead('s').varint(Number.MAX_SAFE_INTEGER).finish()],
    ['a record shorter than its length', concatBytes(signalHead('s').varint(10).finish(), record(9))],
    ['a signal with a trailing byte', concatBytes(signalHead('s').varint(1).u8(1).finish(), Uint8Array.of(0))],
    ['a signal with no record length', signalHead('s').finish()],
    [
      'a signal longer than MAX_SIGNAL_PAYLOAD_CHARS',
      new Writer()
        .u8(1)
        .varint(MAX_SIGNAL_PAYLOAD_CHARS + 1)
        .finish(),
    ],
    ['a signal that is not UTF-8', new Writer().u8(1).varint(2).u8(0xc3).u8(0x28).varint(0).finish()],
    ['a signal length past the end', new Writer().u8(1).varint(50).u8(0x41).finish()],
    ['a message flag of 2', concatBytes(messageHead(2).finish(), signature)],
    ['a message flag of 255', concatBytes(messageHead(255).finish(), signature)],
    ['a message with a short signature', concatBytes(messageHead(1).finish(), bytesOf(SIGNATURE_BYTES - 1))],
    ['a message with a non-minimal time', concatBytes(Uint8Array.of(2, 0x87, 0x00, 1), signature)],
    [
      'a message time over 2^53 - 1',
      concatBytes(Uint8Array.of(2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1), signature),
    ],
    [
      'a message over MAX_ROUTED_MESSAGE_BYTES',
      concatBytes(messageHead(1).finish(), signature, bytesOf(MAX_ROUTED_MESSAGE_BYTES + 1)),
    ],
  ])('refuse %s with BAD_SEAL, never a throw', (_what, bytes) => {
    expectBadSeal(bytes);
  });

  it('refuse a signal truncated at every byte, and a message cut inside its header', () => {
    const signal = encodeSealedContent({ kind: 'signal', signal: 'a signal text', record: record(40) });
    for (let length = 0; length < signal.length; length++) expectBadSeal(signal.subarray(0, length), `${length}`);
    const payload = Uint8Array.of(1, 2, 3);
    const message = encodeSealedContent({ kind: 'message', sentAt: 1000, binary: true, payload, signature });
    const header = message.length - payload.length;
    for (let length = 0; length < header; length++) expectBadSeal(message.subarray(0, length), `${length}`);
    // The payload runs to the end: a cut there is a shorter payload, which its signature no longer covers.
    const cut = parseSealedContent(message.subarray(0, header + 1));
    expect(cut.ok && cut.value.kind === 'message' && [...cut.value.payload]).toEqual([1]);
  });

  // Random and mutated contents are the sealed-content fuzz target (test/fuzz/targets/channel.ts).

  it.each<[string, SealedContent]>([
    [
      'a message over MAX_ROUTED_MESSAGE_BYTES',
      { kind: 'message', sentAt: 1, binary: true, payload: bytesOf(MAX_ROUTED_MESSAGE_BYTES + 1), signature },
    ],
    [
      'a short signature',
      { kind: 'message', sentAt: 1, binary: true, payload: bytesOf(1), signature: bytesOf(SIGNATURE_BYTES - 1) },
    ],
    [
      'a long signature',
      { kind: 'message', sentAt: 1, binary: true, payload: bytesOf(1), signature: bytesOf(SIGNATURE_BYTES + 1) },
    ],
    ['a negative time', { kind: 'message', sentAt: -1, binary: true, payload: bytesOf(1), signature }],
    ['a time over 2^53 - 1', { kind: 'message', sentAt: 2 ** 53, binary: true, payload: bytesOf(1), signature }],
    ['a fractional time', { kind: 'message', sentAt: 1.5, binary: true, payload: bytesOf(1), signature }],
    [
      'a signal over MAX_SIGNAL_PAYLOAD_CHARS bytes',
      { kind: 'signal', signal: 'é'.repeat(MAX_SIGNAL_PAYLOAD_CHARS / 2 + 1), record: undefined },
    ],
    ['a record over MAX_RECORD_BYTES', { kind: 'signal', signal: 's', record: record(MAX_RECORD_BYTES + 1) }],
  ])('refuse to encode %s (RangeError)', (_what, content) => {
    expect(() => encodeSealedContent(content)).toThrow(RangeError);
  });

  it('sign routed messages over both ends, the relay ID, the time, the kind and the payload', () => {
    const id = bytesOf(RELAY_ID_BYTES, 1);
    const payload = Uint8Array.of(1, 2, 3);
    const base = routedMessageBytes(peer(1), peer(2), id, 100, true, payload);
    const variants = [
      routedMessageBytes(peer(2), peer(1), id, 100, true, payload),
      routedMessageBytes(peer(1), peer(3), id, 100, true, payload),
      routedMessageBytes(peer(1), peer(2), bytesOf(RELAY_ID_BYTES, 2), 100, true, payload),
      routedMessageBytes(peer(1), peer(2), id, 101, true, payload),
      routedMessageBytes(peer(1), peer(2), id, 100, false, payload),
      routedMessageBytes(peer(1), peer(2), id, 100, true, Uint8Array.of(1, 2)),
    ];
    for (const other of variants) expect(other).not.toEqual(base);
    expect(routedMessageBytes(peer(1), peer(2), id, 100, true, payload)).toEqual(base);
  });
});
