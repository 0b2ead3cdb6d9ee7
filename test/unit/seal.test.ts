import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual, toHex } from '../../shared/bytes.js';
import { SEAL_KEY_BYTES } from '../../shared/limits.js';
import {
  SEAL_OVERHEAD_BYTES,
  createSealKeyPair,
  loadNacl,
  openSeal,
  seal,
  sealKeyPairMatches,
  type Nacl,
  type SealKeyPair,
} from '../../shared/seal.js';

const RUNS = 1_000;

let nacl: Nacl;
let recipient: SealKeyPair;
let stranger: SealKeyPair;

beforeAll(async () => {
  nacl = await loadNacl();
  recipient = createSealKeyPair(nacl);
  stranger = createSealKeyPair(nacl);
});

const plaintext = new TextEncoder().encode('an offer, signed by its sender');

describe('seal and openSeal', () => {
  it('open what was sealed to the key, for empty, small and large plaintexts', () => {
    for (const length of [0, 1, 31, 32, 1000, 16 * 1024]) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
      const sealed = seal(nacl, recipient.publicKey, message);
      expect(sealed.length - message.length, `length ${length}`).toBe(SEAL_OVERHEAD_BYTES);
      expect(openSeal(nacl, recipient.secretKey, sealed)).toEqual(message);
    }
  });

  it(`round-trip any plaintext (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (message) => {
        const sealed = seal(nacl, recipient.publicKey, message);
        expect(sealed.length).toBe(message.length + SEAL_OVERHEAD_BYTES);
        expect(openSeal(nacl, recipient.secretKey, sealed)).toEqual(message);
      }),
      { numRuns: RUNS },
    );
  });

  it('SEAL_OVERHEAD_BYTES is the ephemeral key, the nonce and the MAC', () => {
    expect(SEAL_OVERHEAD_BYTES).toBe(SEAL_KEY_BYTES + nacl.box.nonceLength + nacl.box.overheadLength);
    expect(SEAL_OVERHEAD_BYTES).toBe(72);
  });

  it('seal the same plaintext differently each time (fresh ephemeral key and nonce)', () => {
    const seals = Array.from({ length: 20 }, () => seal(nacl, recipient.publicKey, plaintext));
    const keys = new Set(seals.map((s) => toHex(s.subarray(0, SEAL_KEY_BYTES))));
    const nonces = new Set(seals.map((s) => toHex(s.subarray(SEAL_KEY_BYTES, SEAL_KEY_BYTES + 24))));
    expect(keys.size).toBe(seals.length);
    expect(nonces.size).toBe(seals.length);
    // The recipient's own key never appears: the sender uses none of its own.
    for (const s of seals) expect(bytesEqual(s.subarray(0, SEAL_KEY_BYTES), recipient.publicKey)).toBe(false);
    for (const s of seals) expect(openSeal(nacl, recipient.secretKey, s)).toEqual(plaintext);
  });

  it('give undefined for the wrong secret key', () => {
    const sealed = seal(nacl, recipient.publicKey, plaintext);
    expect(openSeal(nacl, stranger.secretKey, sealed)).toBeUndefined();
    expect(openSeal(nacl, new Uint8Array(32), sealed)).toBeUndefined();
    // The public key used as a secret key is a different scalar.
    expect(openSeal(nacl, recipient.publicKey, sealed)).toBeUndefined();
  });

  it('give undefined for every truncation and for input shorter than the overhead', () => {
    const sealed = seal(nacl, recipient.publicKey, plaintext);
    for (let length = 0; length < sealed.length; length++) {
      expect(openSeal(nacl, recipient.secretKey, sealed.subarray(0, length)), `length ${length}`).toBeUndefined();
    }
    for (let length = 0; length < SEAL_OVERHEAD_BYTES; length++) {
      expect(openSeal(nacl, recipient.secretKey, new Uint8Array(length))).toBeUndefined();
    }
    // Exactly the overhead is the seal of an empty plaintext, or garbage.
    expect(openSeal(nacl, recipient.secretKey, new Uint8Array(SEAL_OVERHEAD_BYTES))).toBeUndefined();
  });

  it('give undefined for appended bytes', () => {
    const sealed = seal(nacl, recipient.publicKey, plaintext);
    const longer = new Uint8Array(sealed.length + 1);
    longer.set(sealed);
    expect(openSeal(nacl, recipient.secretKey, longer)).toBeUndefined();
  });

  it('give undefined for every single flipped bit of a seal, in each of its three parts', () => {
    const sealed = seal(nacl, recipient.publicKey, plaintext);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const altered = Uint8Array.from(sealed);
      altered[bit >> 3] = (altered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(openSeal(nacl, recipient.secretKey, altered), `bit ${bit}`).toBeUndefined();
    }
  });

  it('give undefined when the ephemeral key has its top bit set, which X25519 alone would ignore', () => {
    const sealed = seal(nacl, recipient.publicKey, plaintext);
    const altered = Uint8Array.from(sealed);
    altered[SEAL_KEY_BYTES - 1] = (altered[SEAL_KEY_BYTES - 1] ?? 0) | 0x80;
    expect(openSeal(nacl, recipient.secretKey, altered)).toBeUndefined();
    // Honest ephemeral keys are canonical, so the check refuses none of them.
    for (let i = 0; i < 200; i++) {
      expect((createSealKeyPair(nacl).publicKey[SEAL_KEY_BYTES - 1] ?? 0) & 0x80).toBe(0);
    }
  });

  it(`give undefined for any single flipped bit of any seal (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (message, at) => {
        const sealed = seal(nacl, recipient.publicKey, message);
        const bit = at % (sealed.length * 8);
        const altered = Uint8Array.from(sealed);
        altered[bit >> 3] = (altered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        expect(openSeal(nacl, recipient.secretKey, altered)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it(`never throw on arbitrary bytes (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(openSeal(nacl, recipient.secretKey, bytes)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it('refuse to seal to a key of the wrong length', () => {
    for (const length of [0, 31, 33, 64]) {
      expect(() => seal(nacl, new Uint8Array(length), plaintext)).toThrow(RangeError);
    }
  });
});

describe('sealKeyPairMatches', () => {
  it('is true for a fresh pair, and for one rebuilt from stored copies', () => {
    for (let i = 0; i < 10; i++) {
      const pair = createSealKeyPair(nacl);
      expect(pair.publicKey).toHaveLength(SEAL_KEY_BYTES);
      expect(pair.secretKey).toHaveLength(SEAL_KEY_BYTES);
      expect(sealKeyPairMatches(nacl, pair)).toBe(true);
      expect(
        sealKeyPairMatches(nacl, { publicKey: Uint8Array.from(pair.publicKey), secretKey: pair.secretKey.slice() }),
      ).toBe(true);
    }
  });

  it('is false for mismatched halves', () => {
    expect(sealKeyPairMatches(nacl, { publicKey: recipient.publicKey, secretKey: stranger.secretKey })).toBe(false);
    expect(sealKeyPairMatches(nacl, { publicKey: stranger.publicKey, secretKey: recipient.secretKey })).toBe(false);
    const flipped = Uint8Array.from(recipient.publicKey);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(sealKeyPairMatches(nacl, { publicKey: flipped, secretKey: recipient.secretKey })).toBe(false);
  });

  it.each([
    ['a short public key', 31, 32],
    ['a long public key', 33, 32],
    ['a short secret key', 32, 31],
    ['a long secret key', 32, 33],
    ['a 64-byte (signing-style) secret key', 32, 64],
    ['empty halves', 0, 0],
  ])('is false for %s', (_what, publicLength, secretLength) => {
    const pair = {
      publicKey: Uint8Array.from({ length: publicLength }, (_, i) => recipient.publicKey[i] ?? 0),
      secretKey: Uint8Array.from({ length: secretLength }, (_, i) => recipient.secretKey[i] ?? 0),
    };
    expect(sealKeyPairMatches(nacl, pair)).toBe(false);
  });
});
