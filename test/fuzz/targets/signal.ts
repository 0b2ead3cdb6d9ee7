/** Targets for signed signals between peers (shared/protocol/signal.ts) and the bodies they carry. */
import fc from 'fast-check';
import { fromBase64url, toBase64url, toHex } from '../../../shared/bytes.js';
import { ErrorCode } from '../../../shared/errors.js';
import type { Identity } from '../../../shared/identity/signing.js';
import { MAX_SIGNAL_SEQ, SIGNAL_TTL_MS } from '../../../shared/limits.js';
import {
  encodeCandidateBody,
  openSignal,
  parseCandidateBody,
  sdpFingerprint,
  signSignal,
  type CandidateBody,
  type SignalEnvelope,
} from '../../../shared/protocol/signal.js';
import { ed25519, newIdentity } from '../../helpers/client.js';
import { bytesSame, isPlainObject, must, sameValue, typedRefusal, type Verdict } from '../check.js';
import { mutatedBytes, mutatedJson, mutatedText, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

const NOW = 1_800_000_000_000;

const SIGNAL_CODES = [
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.BAD_FIELD,
  ErrorCode.BAD_PEER_ID,
  ErrorCode.SIGNAL_MISADDRESSED,
  ErrorCode.SIGNAL_STALE,
  ErrorCode.BAD_SIGNATURE,
];

/** A signed signal and what opening it as Bob, relayed from Alice, must give: the envelope, or this code. */
interface Signed {
  readonly text: string;
  readonly expect: SignalEnvelope | ErrorCode;
}

function sdp(fingerprint: Uint8Array, lineEnd = '\r\n'): string {
  const hex = [...fingerprint].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel']
    .concat([`a=fingerprint:sha-256 ${hex}`, 'a=setup:actpass', ''])
    .join(lineEnd);
}

/** Signals Alice (and Carol) signed: good ones for Bob, and ones refused for what they say rather than their bytes. */
async function signedPool(alice: Identity, bob: Identity, carol: Identity): Promise<Signed[]> {
  const session = new Uint8Array(16).fill(3);
  const base = { to: bob.id, session, nonce: session, expiresAt: NOW + SIGNAL_TTL_MS / 2 };
  const good: Omit<SignalEnvelope, 'from'>[] = [
    { ...base, seq: 0, kind: 'offer', body: sdp(new Uint8Array(32).fill(7)) },
    {
      ...base,
      seq: 1,
      kind: 'candidate',
      body: encodeCandidateBody({
        candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host',
        sdpMid: '0',
        sdpMLineIndex: 0,
      }),
    },
    { ...base, seq: 2, kind: 'answer', body: sdp(Uint8Array.from({ length: 32 }, (_, i) => i)) },
    { ...base, seq: MAX_SIGNAL_SEQ, kind: 'bye', body: 'BUSY' },
  ];
  const pool: Signed[] = [];
  for (const envelope of good) {
    pool.push({ text: await signSignal(alice, envelope), expect: { ...envelope, from: alice.id } });
  }
  const refused: [Identity, Omit<SignalEnvelope, 'from'>, ErrorCode][] = [
    [alice, { ...base, to: carol.id, seq: 3, kind: 'offer', body: '' }, ErrorCode.SIGNAL_MISADDRESSED],
    [carol, { ...base, seq: 4, kind: 'offer', body: '' }, ErrorCode.SIGNAL_MISADDRESSED],
    [alice, { ...base, seq: 5, kind: 'bye', body: '', expiresAt: NOW }, ErrorCode.SIGNAL_STALE],
    [alice, { ...base, seq: 6, kind: 'bye', body: '', expiresAt: NOW + 10 * SIGNAL_TTL_MS }, ErrorCode.SIGNAL_STALE],
    [alice, { ...base, seq: MAX_SIGNAL_SEQ + 1, kind: 'bye', body: '' }, ErrorCode.BAD_FIELD],
  ];
  for (const [signer, envelope, code] of refused) pool.push({ text: await signSignal(signer, envelope), expect: code });
  return pool;
}

export const signalTarget = defineTarget<{ readonly text: string }>({
  name: 'signal',
  about:
    'openSignal: signed signals as relayed (valid, mis-addressed, stale, byte- and character-mutated, random); only what was signed opens',
  prepare: async () => {
    const [alice, bob, carol] = await Promise.all([newIdentity(), newIdentity(), newIdentity()]);
    const pool = await signedPool(alice, bob, carol);
    const byText = new Map(pool.map((signed) => [signed.text, signed.expect]));
    const signed = fc.constantFrom(...pool.map((s) => s.text));
    const signedBytes = signed.map((text) => fromBase64url(text) ?? new Uint8Array());
    const input = fc
      .oneof(
        { weight: 2, arbitrary: signed },
        { weight: 5, arbitrary: mutatedBytes(signedBytes).map(toBase64url) },
        { weight: 2, arbitrary: mutatedText(signed) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map(toBase64url) },
        { weight: 1, arbitrary: randomText(300) },
      )
      .map((text) => ({ text }));
    return {
      input,
      async: true,
      check: async ({ text }): Promise<Verdict> => {
        const result = await openSignal(ed25519, text, { self: bob.id, relayedFrom: alice.id, now: NOW });
        const expected = byText.get(text);
        if (!result.ok) {
          must(typeof expected !== 'object', `a signal Alice signed for Bob was refused: ${result.error.message}`);
          if (expected !== undefined)
            must(result.error.code === expected, `refused with ${result.error.code}, not ${expected}`);
          return typedRefusal(result, SIGNAL_CODES);
        }
        // Only the very texts Alice signed for Bob open: anything else is a forgery.
        must(typeof expected === 'object', 'a signal nobody signed as it is was opened');
        must(sameValue(result.value, expected), 'a signal opened to another envelope than was signed');
        return 'accepted';
      },
    };
  },
});

const candidateArb: fc.Arbitrary<CandidateBody> = fc.record({
  candidate: fc.string({ maxLength: 1024 }),
  sdpMid: fc.option(fc.string({ maxLength: 64 }), { nil: null }),
  sdpMLineIndex: fc.option(fc.integer({ min: 0, max: 64 }), { nil: null }),
});

type Body =
  | { readonly kind: 'candidate'; readonly text: string; readonly value?: CandidateBody }
  | { readonly kind: 'sdp'; readonly text: string; readonly fingerprint?: Uint8Array };

const sdpArb = fc
  .record({ fingerprint: fc.uint8Array({ minLength: 32, maxLength: 32 }), crlf: fc.boolean() })
  .map(({ fingerprint, crlf }) => ({ text: sdp(fingerprint, crlf ? '\r\n' : '\n'), fingerprint }));

export const signalBodyTarget = defineTarget<Body>({
  name: 'signal-body',
  about: 'parseCandidateBody and sdpFingerprint: what a signed signal carries, valid, mutated and random',
  prepare: () => {
    const candidates = candidateArb.map(encodeCandidateBody);
    const input: fc.Arbitrary<Body> = fc.oneof(
      candidateArb.map((value): Body => ({ kind: 'candidate', text: encodeCandidateBody(value), value })),
      fc
        .oneof(
          mutatedJson(candidates, ['candidate', 'sdpMid', 'sdpMLineIndex']),
          mutatedText(candidates),
          randomText(200),
        )
        .map((text): Body => ({ kind: 'candidate', text })),
      sdpArb.map((s): Body => ({ kind: 'sdp', ...s })),
      fc.oneof(mutatedText(sdpArb.map((s) => s.text)), randomText(300)).map((text): Body => ({ kind: 'sdp', text })),
    );
    return Promise.resolve({
      input,
      async: false,
      check: (body): Verdict => {
        if (body.kind === 'candidate') {
          const result = parseCandidateBody(body.text);
          if (!result.ok) {
            must(body.value === undefined, `a valid candidate was refused: ${result.error.message}`);
            return typedRefusal(result, [ErrorCode.BAD_FIELD]);
          }
          must(isPlainObject(result.value), 'the candidate is not a fresh plain object');
          const again = parseCandidateBody(encodeCandidateBody(result.value));
          must(again.ok && sameValue(again.value, result.value), 'a candidate changes through encode and parse');
          if (body.value !== undefined)
            must(sameValue(result.value, body.value), 'a candidate parsed to another value');
          return 'accepted';
        }
        const result = sdpFingerprint(body.text);
        if (!result.ok) {
          must(body.fingerprint === undefined, `a valid SDP was refused: ${result.error.message}`);
          return typedRefusal(result, [ErrorCode.BAD_SDP]);
        }
        must(result.value.length === 32, 'a fingerprint that is not 32 bytes');
        const hex = toHex(result.value).replace(/(..)(?!$)/g, '$1:');
        must(body.text.toLowerCase().includes(`a=fingerprint:sha-256 ${hex}`), 'a fingerprint the SDP does not state');
        if (body.fingerprint !== undefined)
          must(bytesSame(result.value, body.fingerprint), 'another fingerprint than the SDP states');
        return 'accepted';
      },
    });
  },
});
