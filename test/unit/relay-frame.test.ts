/**
 * The relay's fast path (signaling-server/relay-frame.ts) against the full
 * parser and encoder: whatever it reads, it reads as parseClientMessage
 * does, and its delivery is byte for byte encodeSignalDelivery's; whatever
 * it leaves alone goes to the parser.
 */
import { describe, expect, it } from 'vitest';
import { peerIdFromPublicKey } from '../../shared/identity/peer-id.js';
import { MAX_REF, MAX_SIGNAL_PAYLOAD_CHARS, MAX_SIGNALING_FRAME_BYTES } from '../../shared/limits.js';
import { encodeClientMessage, encodeSignalDelivery, parseClientMessage } from '../../shared/protocol/signaling.js';
import { readSignalFrame, spliceDelivery } from '../../signaling-server/relay-frame.js';

const from = peerIdFromPublicKey(new Uint8Array(32).fill(1));
const to = peerIdFromPublicKey(new Uint8Array(32).fill(2));

/** The fast path's reading of `text`, checked against the parser's; true when it read it. */
function agrees(text: string): boolean {
  const data = Buffer.from(text);
  const frame = readSignalFrame(data, from.length);
  if (frame === undefined) return false;
  const parsed = parseClientMessage(text);
  expect(parsed.ok).toBe(true);
  if (!parsed.ok || parsed.value.type !== 'signal') throw new Error('not a signal');
  expect(frame.to).toBe(parsed.value.to);
  expect(frame.ref).toBe(parsed.value.ref);
  const delivery = spliceDelivery(from, data, frame);
  expect(delivery.equals(Buffer.from(encodeSignalDelivery(from, parsed.value.payload)))).toBe(true);
  return true;
}

describe('relay-frame', () => {
  it('reads what clients send, with and without a ref, and splices the delivery the encoder would make', () => {
    const base64url = 'AbC-_09xyz'.repeat(40);
    for (const ref of [undefined, 0, 7, 1234, MAX_REF]) {
      for (const payload of ['', 'x', base64url, 'é ✓ 😀 \u2028 \u007f']) {
        const message = ref === undefined ? { type: 'signal', to, payload } : { type: 'signal', to, payload, ref };
        expect(agrees(encodeClientMessage(message as Parameters<typeof encodeClientMessage>[0]))).toBe(true);
      }
    }
  });

  it('leaves to the parser whatever is escaped, reordered, spaced, out of range or over a cap', () => {
    const head = `{"v":1,"t":"signal","to":"${to}","payload":`;
    const left = [
      encodeClientMessage({ type: 'signal', to, payload: 'a"b' }),
      encodeClientMessage({ type: 'signal', to, payload: 'a\\b' }),
      encodeClientMessage({ type: 'signal', to, payload: 'line\nbreak' }),
      encodeClientMessage({ type: 'signal', to, payload: '\u0001' }),
      `${head}"\\u0041"}`,
      `{"t":"signal","v":1,"to":"${to}","payload":"x"}`,
      `{"v":1,"t":"signal","to":"${to}", "payload":"x"}`,
      `{"v":2,"t":"signal","to":"${to}","payload":"x"}`,
      `${head}"x","ref":-1}`,
      `${head}"x","ref":01}`,
      `${head}"x","ref":1.5}`,
      `${head}"x","ref":1e3}`,
      `${head}"x","ref":${MAX_REF + 1}}`,
      `${head}"x","ref":}`,
      `${head}"x","ref":1}x`,
      `${head}"x"} `,
      `${head}"x","extra":1}`,
      `${head}"x"`,
      `${head}"x`,
      `${head}x}`,
      `{"v":1,"t":"signal","to":"${to}${'z'.repeat(10)}","payload":"x"}`,
      encodeClientMessage({ type: 'signal', to, payload: 'x'.repeat(MAX_SIGNAL_PAYLOAD_CHARS + 1) }),
      encodeClientMessage({ type: 'peers', max: 4 }),
    ];
    for (const text of left) expect(agrees(text), text.slice(0, 120)).toBe(false);
  });

  it('leaves a delivery that would be over the frame cap to the parser', () => {
    // Payloads it reads are at most 32 KiB of bytes, far under the 64 KiB cap; a sender ID that long is not.
    const text = encodeClientMessage({ type: 'signal', to, payload: 'x'.repeat(1000) });
    const overhead = encodeSignalDelivery(from, 'x'.repeat(1000)).length - from.length;
    expect(readSignalFrame(Buffer.from(text), MAX_SIGNALING_FRAME_BYTES - overhead)).toBeDefined();
    expect(readSignalFrame(Buffer.from(text), MAX_SIGNALING_FRAME_BYTES - overhead + 1)).toBeUndefined();
  });

  it('agrees with the parser on random frames', () => {
    const alphabet = ['a', 'Z', '0', '-', '_', '"', '\\', '\n', '\u0000', 'é', '😀', '}', ',', ':', ' '];
    let seed = 1;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      let payload = '';
      const length = Math.floor(random() * 20);
      for (let j = 0; j < length; j++) payload += alphabet[Math.floor(random() * alphabet.length)] ?? '';
      const ref = random() < 0.5 ? undefined : Math.floor(random() * 1000);
      const text = encodeClientMessage(
        ref === undefined ? { type: 'signal', to, payload } : { type: 'signal', to, payload, ref },
      );
      if (agrees(text)) read++;
      // Cut anywhere: never read as a whole request unless the parser reads it so too.
      const cut = text.slice(0, Math.floor(random() * text.length));
      if (readSignalFrame(Buffer.from(cut), from.length) !== undefined) expect(parseClientMessage(cut).ok).toBe(true);
    }
    expect(read).toBeGreaterThan(100);
  });
});
