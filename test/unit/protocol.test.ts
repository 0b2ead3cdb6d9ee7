import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64url } from '../../shared/bytes.js';
import { Reader, Writer, DecodeError } from '../../shared/canonical.js';
import { ErrorCode } from '../../shared/errors.js';
import { peerIdFromPublicKey, type PeerId } from '../../shared/identity/peer-id.js';
import {
  MAX_SAMPLE_SIZE,
  MAX_SIGNAL_PAYLOAD_CHARS,
  MAX_SIGNALING_FRAME_BYTES,
  MAX_TURN_CREDENTIAL_CHARS,
  MAX_TURN_TTL_MS,
  MAX_TURN_URL_CHARS,
  MAX_TURN_URLS,
  MAX_TURN_USERNAME_CHARS,
} from '../../shared/limits.js';
import {
  encodeClientMessage,
  encodeServerMessage,
  encodeSignalDelivery,
  parseClientMessage,
  parseServerMessage,
} from '../../shared/protocol/signaling.js';
import { RFC8032 } from '../helpers/ed25519-vectors.js';
import { clientMessage as clientMessageArb, serverMessage as serverMessageArb } from '../fuzz/arbitraries/signaling.js';
import { fromHex } from '../../shared/bytes.js';

const RUNS = 10_000;
const ID = peerIdFromPublicKey(fromHex(RFC8032[0].public));
const ID2 = peerIdFromPublicKey(fromHex(RFC8032[1].public));
const SIG = toBase64url(new Uint8Array(64));

const frame = (body: Record<string, unknown>): string => JSON.stringify({ v: 1, ...body });

describe('client message parser: hostile inputs', () => {
  it.each<[string, string, ErrorCode]>([
    ['not JSON', '{"v":1,', ErrorCode.BAD_JSON],
    ['an array', '[1,2]', ErrorCode.BAD_FIELD],
    ['null', 'null', ErrorCode.BAD_FIELD],
    ['a string', '"signal"', ErrorCode.BAD_FIELD],
    ['no version', JSON.stringify({ t: 'signal' }), ErrorCode.BAD_FIELD],
    ['a string version', JSON.stringify({ v: '1', t: 'signal' }), ErrorCode.BAD_FIELD],
    ['a fractional version', JSON.stringify({ v: 1.5, t: 'signal' }), ErrorCode.BAD_FIELD],
    ['version 2', JSON.stringify({ v: 2, t: 'signal' }), ErrorCode.VERSION_UNSUPPORTED],
    ['version 0', JSON.stringify({ v: 0, t: 'signal' }), ErrorCode.VERSION_UNSUPPORTED],
    ['no type', frame({}), ErrorCode.BAD_FIELD],
    ['an unknown type', frame({ t: 'hello' }), ErrorCode.UNKNOWN_TYPE],
    ['a server-only type', frame({ t: 'welcome' }), ErrorCode.UNKNOWN_TYPE],
    ['__proto__ as type', frame({ t: '__proto__' }), ErrorCode.UNKNOWN_TYPE],
    ['signal without to', frame({ t: 'signal', payload: 'x' }), ErrorCode.BAD_FIELD],
    ['signal to a malformed ID', frame({ t: 'signal', to: 'tm1abc', payload: 'x' }), ErrorCode.BAD_FIELD],
    ['signal to an upper-case ID', frame({ t: 'signal', to: ID.toUpperCase(), payload: 'x' }), ErrorCode.BAD_FIELD],
    ['signal with an object payload', frame({ t: 'signal', to: ID, payload: { a: 1 } }), ErrorCode.BAD_FIELD],
    [
      'signal with an oversized payload',
      frame({ t: 'signal', to: ID, payload: 'x'.repeat(MAX_SIGNAL_PAYLOAD_CHARS + 1) }),
      ErrorCode.BAD_FIELD,
    ],
    ['signal with a negative ref', frame({ t: 'signal', to: ID, payload: 'x', ref: -1 }), ErrorCode.BAD_FIELD],
    ['signal with a huge ref', frame({ t: 'signal', to: ID, payload: 'x', ref: 2 ** 40 }), ErrorCode.BAD_FIELD],
    ['register without sig', frame({ t: 'register', id: ID, network: 'n', record: 'AA' }), ErrorCode.BAD_FIELD],
    [
      'register with a short sig',
      frame({ t: 'register', id: ID, network: 'n', record: 'AA', sig: 'AAAA' }),
      ErrorCode.BAD_FIELD,
    ],
    [
      'register with padded base64',
      frame({ t: 'register', id: ID, network: 'n', record: 'AA==', sig: SIG }),
      ErrorCode.BAD_FIELD,
    ],
    [
      'register with a bad network',
      frame({ t: 'register', id: ID, network: 'a b', record: 'AA', sig: SIG }),
      ErrorCode.BAD_FIELD,
    ],
    [
      'register with an oversized record',
      frame({ t: 'register', id: ID, network: 'n', record: 'A'.repeat(2000), sig: SIG }),
      ErrorCode.BAD_FIELD,
    ],
    ['peers asking for too many', frame({ t: 'peers', max: MAX_SAMPLE_SIZE + 1 }), ErrorCode.BAD_FIELD],
    ['peers asking for none', frame({ t: 'peers', max: 0 }), ErrorCode.BAD_FIELD],
    ['record without a record', frame({ t: 'record' }), ErrorCode.BAD_FIELD],
    [
      'an oversized frame',
      frame({ t: 'signal', to: ID, payload: 'x'.repeat(MAX_SIGNALING_FRAME_BYTES) }),
      ErrorCode.FRAME_TOO_LARGE,
    ],
  ])('refuses %s', (_what, text, code) => {
    const result = parseClientMessage(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe(code);
      // Messages never echo the input back.
      expect(result.error.message).not.toContain('xxxxxxxx');
    }
  });

  it('builds fresh objects: unknown fields and prototype tricks do not flow on', () => {
    const result = parseClientMessage(
      JSON.stringify({ v: 1, t: 'signal', to: ID, payload: 'p', from: ID2, extra: 1, __proto__: { polluted: true } }),
    );
    expect(result).toEqual({ ok: true, value: { type: 'signal', to: ID, payload: 'p' } });
  });
});

const LIMITS = { maxFrameBytes: 1, maxPayloadChars: 1, rate: 1, burst: 1 };
const TURN = {
  urls: ['turn:turn.example:3478'],
  username: `1700000000:${ID}`,
  credential: 'x'.repeat(28),
  ttlMs: 1000,
};

/** Hostile TURN credentials, each in a welcome and in a `turn` answer; and a challenge's flag. */
function turnCases(): [string, string][] {
  const bad: [string, unknown][] = [
    ['a string for credentials', 'turn:x'],
    ['an array for credentials', [TURN]],
    ['no URLs', { ...TURN, urls: [] }],
    [`${MAX_TURN_URLS + 1} URLs`, { ...TURN, urls: new Array(MAX_TURN_URLS + 1).fill('turn:a') }],
    ['a stun: URL', { ...TURN, urls: ['stun:stun.example'] }],
    ['an https: URL', { ...TURN, urls: ['https://turn.example'] }],
    ['a URL with a space', { ...TURN, urls: ['turn:a b'] }],
    ['an over-long URL', { ...TURN, urls: [`turn:${'a'.repeat(MAX_TURN_URL_CHARS)}`] }],
    ['a non-string URL', { ...TURN, urls: [3478] }],
    ['an over-long username', { ...TURN, username: 'u'.repeat(MAX_TURN_USERNAME_CHARS + 1) }],
    ['no credential', { ...TURN, credential: undefined }],
    ['an over-long credential', { ...TURN, credential: 'c'.repeat(MAX_TURN_CREDENTIAL_CHARS + 1) }],
    ['a zero lifetime', { ...TURN, ttlMs: 0 }],
    ['a lifetime over the cap', { ...TURN, ttlMs: MAX_TURN_TTL_MS + 1 }],
    ['a fractional lifetime', { ...TURN, ttlMs: 1.5 }],
  ];
  return [
    ...bad.map(([what, turn]): [string, string] => [
      `a welcome with ${what}`,
      frame({ t: 'welcome', id: ID, network: 'n', peers: [], limits: LIMITS, turn }),
    ]),
    ...bad.map(([what, turn]): [string, string] => [`a turn answer with ${what}`, frame({ t: 'turn', turn })]),
    ['a turn answer without credentials', frame({ t: 'turn' })],
    [
      'a challenge with a string turn flag',
      frame({ t: 'challenge', nonce: toBase64url(new Uint8Array(32)), server: 's', now: 1, expires: 2, turn: 'yes' }),
    ],
  ];
}

describe('TURN fields', () => {
  it('a welcome without credentials parses as before (an older server), and one with them yields a fresh copy', () => {
    const bare = parseServerMessage(frame({ t: 'welcome', id: ID, network: 'n', peers: [], limits: LIMITS }));
    expect(bare.ok && bare.value.type === 'welcome' && !('turn' in bare.value)).toBe(true);
    const extra = { ...TURN, urls: [...TURN.urls], credentialType: 'password', extra: 1 };
    const parsed = parseServerMessage(
      frame({ t: 'welcome', id: ID, network: 'n', peers: [], limits: LIMITS, turn: extra }),
    );
    expect(parsed).toEqual({
      ok: true,
      value: { type: 'welcome', id: ID, network: 'n', peers: [], limits: LIMITS, turn: TURN },
    });
  });

  it('a challenge says whether credentials come with the welcome; false is the same as absent', () => {
    const challenge = { t: 'challenge', nonce: toBase64url(new Uint8Array(32)), server: 's', now: 1, expires: 2 };
    const flagged = parseServerMessage(frame({ ...challenge, turn: true }));
    expect(flagged.ok && flagged.value.type === 'challenge' && flagged.value.turn).toBe(true);
    const off = parseServerMessage(frame({ ...challenge, turn: false }));
    expect(off.ok && off.value.type === 'challenge' && !('turn' in off.value)).toBe(true);
  });

  it('a turn request carries only its ref', () => {
    expect(parseClientMessage(frame({ t: 'turn', ref: 7, urls: ['turn:x'] }))).toEqual({
      ok: true,
      value: { type: 'turn', ref: 7 },
    });
  });
});

describe('server message parser: hostile inputs', () => {
  it.each<[string, string]>([
    ['a challenge with a short nonce', frame({ t: 'challenge', nonce: 'AAAA', server: 's', now: 1, expires: 2 })],
    [
      'a challenge with a negative time',
      frame({ t: 'challenge', nonce: toBase64url(new Uint8Array(32)), server: 's', now: -1, expires: 2 }),
    ],
    [
      'a welcome with 33 peers',
      frame({
        t: 'welcome',
        id: ID,
        network: 'n',
        peers: new Array(33).fill('AA'),
        limits: { maxFrameBytes: 1, maxPayloadChars: 1, rate: 1, burst: 1 },
      }),
    ],
    [
      'a welcome with a non-string peer',
      frame({
        t: 'welcome',
        id: ID,
        network: 'n',
        peers: [1],
        limits: { maxFrameBytes: 1, maxPayloadChars: 1, rate: 1, burst: 1 },
      }),
    ],
    ['a welcome without limits', frame({ t: 'welcome', id: ID, network: 'n', peers: [] })],
    [
      'a welcome with a zero rate',
      frame({
        t: 'welcome',
        id: ID,
        network: 'n',
        peers: [],
        limits: { maxFrameBytes: 1, maxPayloadChars: 1, rate: 0, burst: 1 },
      }),
    ],
    ['a signal from a malformed ID', frame({ t: 'signal', from: 'someone', payload: 'x' })],
    ['an error with a lower-case code', frame({ t: 'error', code: 'oops', message: 'm' })],
    ['an error with a long message', frame({ t: 'error', code: 'X', message: 'm'.repeat(600) })],
    ['a goaway with a negative delay', frame({ t: 'goaway', reason: 'SHUTTING_DOWN', retryAfterMs: -5 })],
    ...turnCases(),
  ])('refuses %s', (_what, text) => {
    const result = parseServerMessage(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(ErrorCode.BAD_FIELD);
  });
});

// --- Property tests -------------------------------------------------------------
// Hostile frames (random, mutated field by field and character by character) are the
// client-message and server-message fuzz targets: test/fuzz/targets/signaling.ts.

const peerId: fc.Arbitrary<PeerId> = fc.constantFrom(ID, ID2);
const clientMessage = clientMessageArb([ID, ID2]);
const serverMessage = serverMessageArb([ID, ID2]);

describe('codec properties', () => {
  it(`client messages survive encode then parse (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(clientMessage, (message) => {
        expect(parseClientMessage(encodeClientMessage(message))).toEqual({ ok: true, value: message });
      }),
      { numRuns: RUNS },
    );
  });

  it(`server messages survive encode then parse (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(serverMessage, (message) => {
        expect(parseServerMessage(encodeServerMessage(message))).toEqual({ ok: true, value: message });
      }),
      { numRuns: RUNS },
    );
  });

  it(`the relay's concatenated delivery equals the generic encoding (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(peerId, fc.string({ maxLength: 200, unit: 'binary' }), (from, payload) => {
        const text = encodeSignalDelivery(from, payload);
        expect(JSON.parse(text)).toEqual({ v: 1, t: 'signal', from, payload });
        expect(parseServerMessage(text)).toEqual({ ok: true, value: { type: 'signal', from, payload } });
      }),
      { numRuns: RUNS },
    );
  });

  it('canonical strings keep a leading byte-order mark: each string has one encoding and reads back as written', () => {
    // Found by `npm run fuzz` (canonical): [3, EF BB BF] read as '', which [0] also encodes.
    for (const text of ['\ufeff', '\ufeffname', 'a\ufeff', '\ufeff\ufeff']) {
      const bytes = new Writer().string(text, 100).finish();
      const reader = new Reader(bytes);
      expect(reader.string(100)).toBe(text);
      reader.end();
    }
    expect(new Reader(Uint8Array.of(3, 0xef, 0xbb, 0xbf)).string(10)).toBe('\ufeff');
  });

  it(`canonical varints and strings round-trip and have one encoding (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.string({ maxLength: 50 }), (n, s) => {
        const bytes = new Writer().varint(n).string(s, 200).finish();
        const reader = new Reader(bytes);
        expect(reader.varint()).toBe(n);
        expect(reader.string(200)).toBe(s);
        reader.end();
        // Appending a zero continuation makes a non-minimal form, which is refused.
        const nonMinimal = new Writer().varint(n).finish();
        nonMinimal[nonMinimal.length - 1] = (nonMinimal[nonMinimal.length - 1] ?? 0) | 0x80;
        expect(() => new Reader(Uint8Array.from([...nonMinimal, 0])).varint()).toThrow(DecodeError);
      }),
      { numRuns: RUNS },
    );
  });
});
