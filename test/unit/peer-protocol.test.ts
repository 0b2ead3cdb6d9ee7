import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url, toHex, utf8 } from '../../shared/bytes.js';
import { Writer } from '../../shared/canonical.js';
import { RecentSet } from '../../shared/dedup.js';
import { ErrorCode } from '../../shared/errors.js';
import { Purpose, verifyFrom } from '../../shared/identity/signing.js';
import {
  MAX_BROADCAST_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PARTIAL_BYTES_PER_PEER,
  PARTIAL_MESSAGE_STALL_MS,
  SIGNAL_TTL_MS,
} from '../../shared/limits.js';
import {
  CHUNK_BYTES,
  FrameType,
  Reassembler,
  broadcastBytes,
  chunkFrames,
  confirmData,
  encodeConfirm,
  encodeMessageStart,
  encodeRecords,
  parseChannelFrame,
  payloadText,
  type MessageChunkFrame,
  type MessageStartFrame,
} from '../../shared/protocol/channel.js';
import {
  encodeCandidateBody,
  openSignal,
  parseCandidateBody,
  sdpFingerprint,
  signSignal,
} from '../../shared/protocol/signal.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const RUNS = 10_000;
const FP =
  'a=fingerprint:sha-256 ' +
  Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');
const SDP = `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n${FP}\r\na=setup:actpass\r\n`;

/** Fingerprints as Firefox 153 ESR writes them (upper case, at session level) and as Chromium does (in the media section). */
const FIREFOX_FP = 'F6:21:03:5B:CD:74:2D:62:11:6B:41:71:8B:EC:CD:6B:8C:52:B4:BA:D1:75:F4:0D:CF:FD:4E:93:3D:DB:24:94';
const CHROMIUM_FP = '01:1D:6B:DC:09:70:82:2C:D5:55:B6:F9:EB:05:4C:7C:10:AB:27:69:50:59:79:DF:58:AA:61:4D:C9:F9:8A:50';
/** Data-channel SDPs of the two browsers, as they signed them in test/browser/firefox.test.ts (candidates trimmed). */
const BROWSER_SDPS: readonly (readonly [string, string, string])[] = [
  [
    'Firefox offer',
    [
      'v=0',
      'o=mozilla...THIS_IS_SDPARTA-99.0 1835892655900822785 0 IN IP4 0.0.0.0',
      's=-',
      't=0 0',
      'a=sendrecv',
      `a=fingerprint:sha-256 ${FIREFOX_FP}`,
      'a=group:BUNDLE 0',
      'a=ice-options:trickle',
      'a=msid-semantic:WMS *',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'c=IN IP4 0.0.0.0',
      'a=sendrecv',
      'a=ice-pwd:fd11c9630b9d3eb260e031442aa90a8e',
      'a=ice-ufrag:e355d6c5',
      'a=mid:0',
      'a=setup:actpass',
      'a=sctp-port:5000',
      'a=max-message-size:1073741823',
      '',
    ].join('\r\n'),
    FIREFOX_FP,
  ],
  [
    'Chromium offer',
    [
      'v=0',
      'o=- 3461824954096006775 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=extmap-allow-mixed',
      'a=group:BUNDLE 0',
      'a=msid-semantic:WMS',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'c=IN IP4 0.0.0.0',
      'a=ice-ufrag:rwZk',
      'a=ice-pwd:PohSs8LQjqDTrQSYW2f9Da+Q',
      'a=ice-options:trickle',
      `a=fingerprint:sha-256 ${CHROMIUM_FP}`,
      'a=setup:actpass',
      'a=mid:0',
      'a=sctp-port:5000',
      'a=max-message-size:262144',
      '',
    ].join('\r\n'),
    CHROMIUM_FP,
  ],
];
/** Candidates as Firefox's onicecandidate gives them (host names are mDNS names unless the user changed a pref). */
const FIREFOX_CANDIDATES = [
  'candidate:0 1 UDP 2122252543 0bcd9ad8-c8ae-4804-98eb-0b72196d83a4.local 42309 typ host',
  'candidate:2 1 TCP 2105524479 0bcd9ad8-c8ae-4804-98eb-0b72196d83a4.local 9 typ host tcptype active',
  'candidate:1 1 UDP 1686052863 10.77.0.2 42309 typ srflx raddr 0.0.0.0 rport 0',
].map((candidate) => ({ candidate, sdpMLineIndex: 0, sdpMid: '0', usernameFragment: 'e355d6c5' }));

describe('signed signals', () => {
  it('open what was signed, for its recipient, from its signer, within its lifetime', async () => {
    const [alice, bob] = [await newIdentity(), await newIdentity()];
    const session = new Uint8Array(16).fill(7);
    const text = await signSignal(alice, {
      to: bob.id,
      session,
      nonce: session,
      seq: 0,
      kind: 'offer',
      expiresAt: NOW + SIGNAL_TTL_MS,
      body: SDP,
    });
    const opened = await openSignal(ed25519, text, { self: bob.id, relayedFrom: alice.id, now: NOW });
    expect(opened.ok && opened.value).toMatchObject({ from: alice.id, to: bob.id, seq: 0, kind: 'offer', body: SDP });
  });

  it.each<
    [
      string,
      (t: { alice: string; bob: string; carol: string }) => { self: string; relayedFrom: string; now: number },
      ErrorCode,
    ]
  >([
    [
      'addressed to someone else',
      (t) => ({ self: t.carol, relayedFrom: t.alice, now: NOW }),
      ErrorCode.SIGNAL_MISADDRESSED,
    ],
    [
      'stamped by the relay with another sender',
      (t) => ({ self: t.bob, relayedFrom: t.carol, now: NOW }),
      ErrorCode.SIGNAL_MISADDRESSED,
    ],
    ['expired', (t) => ({ self: t.bob, relayedFrom: t.alice, now: NOW + SIGNAL_TTL_MS }), ErrorCode.SIGNAL_STALE],
    [
      'dated too far ahead',
      (t) => ({ self: t.bob, relayedFrom: t.alice, now: NOW - 10 * 60_000 }),
      ErrorCode.SIGNAL_STALE,
    ],
  ])('refuse a signal %s', async (_what, context, code) => {
    const [alice, bob, carol] = [await newIdentity(), await newIdentity(), await newIdentity()];
    const session = new Uint8Array(16);
    const text = await signSignal(alice, {
      to: bob.id,
      session,
      nonce: session,
      seq: 1,
      kind: 'candidate',
      expiresAt: NOW + SIGNAL_TTL_MS,
      body: '{}',
    });
    const result = await openSignal(ed25519, text, context({ alice: alice.id, bob: bob.id, carol: carol.id }) as never);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(code);
  });

  it('refuse any altered byte: a relay can drop a signal but never change it', async () => {
    const [alice, bob] = [await newIdentity(), await newIdentity()];
    const session = new Uint8Array(16);
    const text = await signSignal(alice, {
      to: bob.id,
      session,
      nonce: session,
      seq: 0,
      kind: 'offer',
      expiresAt: NOW + SIGNAL_TTL_MS,
      body: SDP,
    });
    const bytes = fromBase64url(text) ?? new Uint8Array();
    for (let i = 0; i < bytes.length; i += 7) {
      const altered = Uint8Array.from(bytes);
      altered[i] = (altered[i] ?? 0) ^ 0x20;
      const result = await openSignal(ed25519, toBase64url(altered), { self: bob.id, relayedFrom: alice.id, now: NOW });
      expect(result.ok, `byte ${i}`).toBe(false);
    }
  });

  // Arbitrary and mutated text is the signal fuzz target: test/fuzz/targets/signal.ts.
});

describe('SDP fingerprints and candidates', () => {
  it('take exactly one SHA-256 fingerprint', () => {
    const result = sdpFingerprint(SDP);
    expect(result.ok && [...result.value]).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(sdpFingerprint(`${SDP}${FP}\r\n`).ok).toBe(true); // the same one twice is one fingerprint
  });

  it.each([
    ['none', 'v=0\r\n'],
    ['two different', `${SDP}a=fingerprint:sha-256 ${'AB:'.repeat(31)}AB\r\n`],
    ['SHA-1', 'a=fingerprint:sha-1 AB:CD\r\n'],
    ['a short one', 'a=fingerprint:sha-256 AB:CD\r\n'],
    ['a malformed line', 'a=fingerprint:sha-256 zz\r\n'],
    ['an oversized SDP', `${SDP}${'a=x\r\n'.repeat(3000)}`],
  ])('refuse an SDP with %s', (_what, sdp) => {
    const result = sdpFingerprint(sdp);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(ErrorCode.BAD_SDP);
  });

  it('take the fingerprint where each browser puts it: Firefox at session level, Chromium in the media section', () => {
    for (const [browser, sdp, hex] of BROWSER_SDPS) {
      const result = sdpFingerprint(sdp);
      expect(result.ok && toHex(result.value), browser).toBe(hex.replaceAll(':', '').toLowerCase());
    }
  });

  it('accept the candidates Firefox sends (mDNS host names, TCP, reflexive with a hidden base), without its ufrag', () => {
    for (const sent of FIREFOX_CANDIDATES) {
      const parsed = parseCandidateBody(JSON.stringify(sent));
      expect(parsed.ok && parsed.value, sent.candidate).toEqual({
        candidate: sent.candidate,
        sdpMid: sent.sdpMid,
        sdpMLineIndex: sent.sdpMLineIndex,
      });
      if (parsed.ok) expect(encodeCandidateBody(parsed.value)).not.toContain('usernameFragment');
    }
  });

  it('parse candidate bodies strictly', () => {
    expect(
      parseCandidateBody('{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0}').ok,
    ).toBe(true);
    for (const bad of [
      '[]',
      'null',
      '{"candidate":5}',
      '{"candidate":"x","sdpMid":7,"sdpMLineIndex":0}',
      '{"candidate":"x","sdpMid":null,"sdpMLineIndex":-1}',
      'nope',
    ]) {
      expect(parseCandidateBody(bad).ok, bad).toBe(false);
    }
  });
});

describe('channel frames', () => {
  it('round-trip confirmations, record lists and message headers', async () => {
    const [alice, bob] = [await newIdentity(), await newIdentity()];
    const body = {
      from: alice.id,
      to: bob.id,
      session: new Uint8Array(16).fill(1),
      initiatorNonce: new Uint8Array(16).fill(1),
      responderNonce: new Uint8Array(16).fill(2),
      initiatorFingerprint: new Uint8Array(32).fill(3),
      responderFingerprint: new Uint8Array(32).fill(4),
    };
    const signature = await alice.sign(Purpose.CONFIRM, confirmData(body));
    const confirm = parseChannelFrame(encodeConfirm(body, signature));
    expect(confirm.ok && confirm.value.type === 'confirm' && confirm.value.body).toEqual(body);
    if (confirm.ok && confirm.value.type === 'confirm') {
      expect(await verifyFrom(ed25519, alice.id, Purpose.CONFIRM, confirm.value.data, confirm.value.signature)).toBe(
        true,
      );
    }
    const records = parseChannelFrame(encodeRecords([Uint8Array.of(1, 2), Uint8Array.of(3)]));
    expect(records.ok && records.value).toEqual({ type: 'records', records: [Uint8Array.of(1, 2), Uint8Array.of(3)] });
    const header = { origin: alice.id, seq: 99, hops: 8, signature: new Uint8Array(64).fill(9) };
    const start = parseChannelFrame(encodeMessageStart({ id: 5, binary: true, length: 10, broadcast: header }));
    expect(start.ok && start.value).toEqual({ type: 'start', id: 5, binary: true, length: 10, broadcast: header });
  });

  it.each<[string, Uint8Array]>([
    ['an unknown type', Uint8Array.of(9)],
    ['an empty frame', new Uint8Array()],
    ['33 records', new Writer().u8(FrameType.RECORDS).varint(33).finish()],
    ['a record over 1 KiB', new Writer().u8(FrameType.RECORDS).varint(1).varint(1025).finish()],
    ['a message over 16 MiB', encodeMessageStart({ id: 1, binary: true, length: MAX_MESSAGE_BYTES + 1 })],
    ['unknown header flags', new Writer().u8(FrameType.MESSAGE_START).varint(1).u8(4).varint(1).finish()],
    ['a frame over 16 KiB', new Uint8Array(16 * 1024 + 1).fill(FrameType.MESSAGE_CHUNK)],
    ['a truncated confirmation', Uint8Array.of(FrameType.CONFIRM, 1, 2, 3)],
  ])('refuse %s as a protocol violation', (_what, frame) => {
    const result = parseChannelFrame(frame);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
  });

  it('refuse a broadcast over 1 MiB or claiming too many hops', async () => {
    const alice = await newIdentity();
    const header = { origin: alice.id, seq: 1, hops: 8, signature: new Uint8Array(64) };
    expect(
      parseChannelFrame(
        encodeMessageStart({ id: 1, binary: false, length: MAX_BROADCAST_BYTES + 1, broadcast: header }),
      ).ok,
    ).toBe(false);
    expect(
      parseChannelFrame(encodeMessageStart({ id: 1, binary: false, length: 1, broadcast: { ...header, hops: 17 } })).ok,
    ).toBe(false);
  });

  // Arbitrary and mutated frames are the channel-frame fuzz target: test/fuzz/targets/channel.ts.

  it(`chunk and reassemble any payload exactly (${RUNS / 10} cases of up to 100 KiB)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 * 1024 }), fc.boolean(), (payload, binary) => {
        const reassembler = new Reassembler();
        const frames = [encodeMessageStart({ id: 3, binary, length: payload.length }), ...chunkFrames(3, payload)];
        let done: unknown;
        for (const frame of frames) {
          expect(frame.length).toBeLessThanOrEqual(16 * 1024);
          const parsed = parseChannelFrame(frame);
          if (!parsed.ok || (parsed.value.type !== 'start' && parsed.value.type !== 'chunk'))
            throw new Error('bad frame');
          const result = reassembler.accept(parsed.value, 0);
          expect(result.ok).toBe(true);
          if (result.ok && result.value !== undefined) done = result.value;
        }
        expect(done).toEqual({ binary, payload });
        expect(reassembler.heldBytes).toBe(0);
      }),
      { numRuns: RUNS / 10 },
    );
    expect(CHUNK_BYTES).toBeGreaterThan(16_000);
  });

  const start = (id: number, length: number): MessageStartFrame => ({ type: 'start', id, binary: true, length });
  const chunk = (id: number, n: number): MessageChunkFrame => ({ type: 'chunk', id, bytes: new Uint8Array(n) });

  it('refuse more bytes than announced, unknown IDs, reused IDs and too many messages at once', () => {
    const r = new Reassembler();
    expect(r.accept(start(1, 4), 0).ok).toBe(true);
    expect(r.accept(chunk(1, 5), 0).ok).toBe(false);
    expect(new Reassembler().accept(chunk(7, 1), 0).ok).toBe(false);
    const reuse = new Reassembler();
    reuse.accept(start(1, 4), 0);
    expect(reuse.accept(start(1, 4), 0).ok).toBe(false);
    const many = new Reassembler();
    for (let i = 0; i < 4; i++) expect(many.accept(start(i, 10), 0).ok).toBe(true);
    const fifth = many.accept(start(4, 10), 0);
    expect(!fifth.ok && fifth.error.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
  });

  // Issue 15, item 9: a peer could hold four largest messages half-sent (64 MiB) for as long as it liked.
  it(`refuse messages in progress that announce more than MAX_PARTIAL_BYTES_PER_PEER together`, () => {
    const r = new Reassembler();
    const half = MAX_PARTIAL_BYTES_PER_PEER / 2;
    expect(r.accept(start(1, half), 0).ok).toBe(true);
    expect(r.accept(start(2, half), 0).ok).toBe(true);
    const third = r.accept(start(3, 1), 0);
    expect(!third.ok && third.error.message).toBe('messages in progress announce too many bytes');
    // A finished message gives its share back.
    const done = new Reassembler();
    expect(done.accept(start(1, MAX_PARTIAL_BYTES_PER_PEER), 0).ok).toBe(true);
    expect(done.accept(start(2, 1), 0).ok).toBe(false);
    const small = new Reassembler();
    small.accept(start(1, 3), 0);
    small.accept(chunk(1, 3), 0);
    expect(small.accept(start(2, MAX_PARTIAL_BYTES_PER_PEER), 0).ok).toBe(true);
  });

  it(`report a message in progress with no chunk for PARTIAL_MESSAGE_STALL_MS as stalled`, () => {
    const r = new Reassembler();
    r.accept(start(1, 100), 1_000);
    expect(r.stalled(1_000 + PARTIAL_MESSAGE_STALL_MS - 1)).toBe(false);
    r.accept(chunk(1, 10), 5_000);
    expect(r.stalled(1_000 + PARTIAL_MESSAGE_STALL_MS)).toBe(false);
    expect(r.stalled(5_000 + PARTIAL_MESSAGE_STALL_MS)).toBe(true);
    r.accept(chunk(1, 90), 5_000 + PARTIAL_MESSAGE_STALL_MS);
    expect(r.stalled(Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('deliver a text message exactly as sent, a leading byte-order mark included, and refuse text that is not UTF-8', () => {
    // Found by `npm run fuzz` (canonical): the decoder dropped a leading U+FEFF, so "\uFEFFhi" arrived as "hi".
    for (const text of ['\ufeffhi', '\ufeff', 'a\ufeff', '\ufeff\ufeff', 'plain']) {
      expect(payloadText(utf8(text))).toEqual({ ok: true, value: text });
    }
    const bad = payloadText(Uint8Array.of(0xef, 0xbb, 0xbf, 0xc3, 0x28));
    expect(!bad.ok && bad.error.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
  });

  it('sign broadcasts over origin, sequence, kind and payload', async () => {
    const alice = await newIdentity();
    const payload = Uint8Array.of(1, 2, 3);
    const signature = await alice.sign(Purpose.BROADCAST, broadcastBytes(alice.id, 5, true, payload));
    expect(
      await verifyFrom(ed25519, alice.id, Purpose.BROADCAST, broadcastBytes(alice.id, 5, true, payload), signature),
    ).toBe(true);
    for (const other of [
      broadcastBytes(alice.id, 6, true, payload),
      broadcastBytes(alice.id, 5, false, payload),
      broadcastBytes(alice.id, 5, true, Uint8Array.of(1, 2)),
    ]) {
      expect(await verifyFrom(ed25519, alice.id, Purpose.BROADCAST, other, signature)).toBe(false);
    }
  });
});

describe('RecentSet', () => {
  it('remembers up to its capacity, forgetting the oldest', () => {
    const set = new RecentSet(3);
    expect(['a', 'b', 'c'].map((k) => set.add(k))).toEqual([true, true, true]);
    expect(set.add('a')).toBe(false);
    expect(set.add('d')).toBe(true);
    expect(set.has('a')).toBe(false);
    expect(set.size).toBe(3);
  });
});
