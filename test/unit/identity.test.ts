import fc from 'fast-check';
import nacl from 'tweetnacl';
import { webcrypto } from 'node:crypto';
import { bech32m } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../shared/bytes.js';
import {
  SMALL_ORDER_KEY_ENCODINGS,
  createTweetnaclEd25519,
  createWebCryptoEd25519,
  detectEd25519,
  VERIFY_KEY_CACHE_SIZE,
  isAcceptablePublicKey,
  verifyDetached,
  type Ed25519,
  type SubtleEd25519,
} from '../../shared/identity/index.js';
import { parsePeerId, peerIdFromPublicKey, publicKeyOf, shortPeerId } from '../../shared/identity/peer-id.js';
import { Purpose, identityFromKeyPair, signable, verifyFrom } from '../../shared/identity/signing.js';
import { ErrorCode } from '../../shared/errors.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { RFC8032, addScalarL, hasSmallOrder } from '../helpers/ed25519-vectors.js';

const subtle: SubtleEd25519 = webcrypto.subtle;
const backends: Ed25519[] = [createNodeEd25519(), createWebCryptoEd25519(subtle), createTweetnaclEd25519()];

describe.each(backends.map((b) => [b.name, b] as const))('Ed25519 backend %s', (_name, ed) => {
  it.each(RFC8032.map((v, i) => [i + 1, v] as const))('matches RFC 8032 section 7.1 test %i', async (_i, vector) => {
    const pair = await ed.fromSeed(fromHex(vector.secret));
    expect(toHex(pair.publicKey)).toBe(vector.public);
    const signature = await pair.sign(fromHex(vector.message));
    expect(toHex(signature)).toBe(vector.signature);
    expect(await verifyDetached(ed, pair.publicKey, fromHex(vector.message), signature)).toBe(true);
    const tampered = Uint8Array.from([...fromHex(vector.message), 0]);
    expect(await verifyDetached(ed, pair.publicKey, tampered, signature)).toBe(false);
  });

  it('rejects the malleated signature (S + L) and every non-canonical S', async () => {
    const vector = RFC8032[1];
    const signature = fromHex(vector.signature);
    const malleated = addScalarL(signature);
    const key = fromHex(vector.public);
    const message = fromHex(vector.message);
    expect(await verifyDetached(ed, key, message, malleated)).toBe(false);
    const maxS = Uint8Array.from(signature);
    maxS.fill(0xff, 32);
    expect(await verifyDetached(ed, key, message, maxS)).toBe(false);
  });

  it('rejects every small-order key, a non-canonical key and wrong lengths', async () => {
    const message = Uint8Array.of(1, 2, 3);
    // With a small-order key A and R = identity, S = 0 satisfies [S]B = R + [k]A for
    // many messages in cofactored verifiers; it must fail here whatever the backend.
    const signature = new Uint8Array(64);
    signature[0] = 1;
    for (const key of SMALL_ORDER_KEY_ENCODINGS) {
      expect(await verifyDetached(ed, key, message, signature)).toBe(false);
    }
    const nonCanonical = fromHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    expect(await verifyDetached(ed, nonCanonical, message, signature)).toBe(false);
    const pair = await ed.generate();
    const good = await pair.sign(message);
    expect(await verifyDetached(ed, pair.publicKey, message, good)).toBe(true);
    expect(await verifyDetached(ed, pair.publicKey, message, good.subarray(0, 63))).toBe(false);
    expect(await verifyDetached(ed, pair.publicKey.subarray(1), message, good)).toBe(false);
  });
});

describe('Ed25519 across backends', () => {
  it('all backends make identical signatures and accept each other’s, for random keys and messages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        async (seed, message) => {
          const signatures = await Promise.all(backends.map(async (ed) => (await ed.fromSeed(seed)).sign(message)));
          const [first] = signatures;
          if (first === undefined) throw new Error('no signature');
          for (const signature of signatures) expect(toHex(signature)).toBe(toHex(first));
          const key = (await backends[0]?.fromSeed(seed))?.publicKey ?? new Uint8Array();
          for (const ed of backends) {
            expect(await verifyDetached(ed, key, message, first)).toBe(true);
            // A flipped bit anywhere in the signature fails on every backend alike.
            const flipped = Uint8Array.from(first);
            const bit = (message.length * 7) % 512;
            flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
            expect(await verifyDetached(ed, key, message, flipped)).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('raw tweetnacl accepts S + L, which is why every check goes through verifyDetached', () => {
    const vector = RFC8032[0];
    const malleated = addScalarL(fromHex(vector.signature));
    expect(nacl.sign.detached.verify(fromHex(vector.message), malleated, fromHex(vector.public))).toBe(true);
  });

  it('each listed small-order encoding really is a point of order dividing 8', () => {
    expect(SMALL_ORDER_KEY_ENCODINGS).toHaveLength(10);
    for (const key of SMALL_ORDER_KEY_ENCODINGS) {
      expect(hasSmallOrder(key), toHex(key)).toBe(true);
      expect(isAcceptablePublicKey(key)).toBe(false);
    }
    const ordinary = fromHex(RFC8032[0].public);
    expect(hasSmallOrder(ordinary)).toBe(false);
    expect(isAcceptablePublicKey(ordinary)).toBe(true);
  });

  it('detects Web Crypto when it works and falls back to tweetnacl otherwise', async () => {
    expect((await detectEd25519(subtle)).name).toBe('webcrypto');
    expect((await detectEd25519(undefined)).name).toBe('tweetnacl');
    const lying: SubtleEd25519 = { ...bindSubtle(subtle), verify: () => Promise.resolve(true) };
    expect((await detectEd25519(lying)).name).toBe('tweetnacl');
    const missing: SubtleEd25519 = {
      ...bindSubtle(subtle),
      importKey: () => Promise.reject(new Error('NotSupportedError')),
    };
    expect((await detectEd25519(missing)).name).toBe('tweetnacl');
  });

  it('Web Crypto imports each public key once for verification, keeps no failed import, and keeps a bounded number', async () => {
    let imports = 0;
    let failNext = false;
    const counting: SubtleEd25519 = {
      ...bindSubtle(subtle),
      importKey: (...args: Parameters<SubtleEd25519['importKey']>) => {
        imports++;
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('OperationError'));
        }
        return subtle.importKey(...args);
      },
    };
    const ed = createWebCryptoEd25519(counting);
    const vector = RFC8032[1];
    const [key, message, signature] = [vector.public, vector.message, vector.signature].map(fromHex) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    const results = await Promise.all([
      verifyDetached(ed, key, message, signature),
      verifyDetached(ed, key, Uint8Array.from([...message, 1]), signature),
    ]);
    expect(results).toEqual([true, false]);
    expect(await verifyDetached(ed, key, message, signature)).toBe(true);
    expect(imports).toBe(1);
    // Another key, whose first import fails: refused, then imported afresh and accepted.
    const other = RFC8032[2];
    const [otherKey, otherMessage, otherSignature] = [other.public, other.message, other.signature].map(fromHex) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    failNext = true;
    expect(await verifyDetached(ed, otherKey, otherMessage, otherSignature)).toBe(false);
    expect(await verifyDetached(ed, otherKey, otherMessage, otherSignature)).toBe(true);
    expect(imports).toBe(3);
    // Past VERIFY_KEY_CACHE_SIZE other keys, the first is imported again.
    for (let i = 0; i < VERIFY_KEY_CACHE_SIZE; i++) {
      const pair = await createTweetnaclEd25519().generate();
      await ed.verify(pair.publicKey, message, await pair.sign(message));
    }
    const before = imports;
    expect(await verifyDetached(ed, key, message, signature)).toBe(true);
    expect(imports).toBe(before + 1);
  });
});

function bindSubtle(s: SubtleEd25519): SubtleEd25519 {
  return {
    importKey: s.importKey.bind(s),
    generateKey: s.generateKey.bind(s),
    exportKey: s.exportKey.bind(s),
    sign: s.sign.bind(s),
    verify: s.verify.bind(s),
  };
}

describe('domain separation', () => {
  it('a signature for one purpose never verifies for another', async () => {
    const ed = backends[0];
    if (ed === undefined) throw new Error('no backend');
    const identity = identityFromKeyPair(await ed.generate());
    const bytes = Uint8Array.of(9, 9, 9);
    const signature = await identity.sign(Purpose.RECORD, bytes);
    expect(await verifyFrom(ed, identity.id, Purpose.RECORD, bytes, signature)).toBe(true);
    for (const other of [Purpose.REGISTER, Purpose.SIGNAL, Purpose.CONFIRM]) {
      expect(await verifyFrom(ed, identity.id, other, bytes, signature)).toBe(false);
    }
    expect(toHex(signable(Purpose.RECORD, bytes))).toBe(
      toHex(Uint8Array.from([16, ...new TextEncoder().encode('tabmesh/record/1'), 9, 9, 9])),
    );
  });
});

describe('peer IDs', () => {
  const key = fromHex(RFC8032[0].public);

  it('round-trip a public key and print a short form', () => {
    const id = peerIdFromPublicKey(key);
    expect(id).toMatch(/^tm1[02-9ac-hj-np-z]{58}$/);
    expect(parsePeerId(id)).toEqual({ ok: true, value: id });
    expect(toHex(publicKeyOf(id))).toBe(toHex(key));
    expect(shortPeerId(id)).toBe(`${id.slice(0, 11)}…`);
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['the empty string', ''],
    ['upper case', 'UPPER'],
    ['too short', 'tm1qqqq'],
    ['a different prefix', bech32m.encode('tb', bech32m.toWords(key), 61)],
  ])('refuses %s', (_what, input) => {
    const value = _what === 'upper case' ? peerIdFromPublicKey(key).toUpperCase() : input;
    const parsed = parsePeerId(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.code).toBe(ErrorCode.BAD_PEER_ID);
  });

  it('refuses a well-formed ID of a small-order key, and makes none', () => {
    for (const bad of SMALL_ORDER_KEY_ENCODINGS) {
      const id = bech32m.encode('tm', bech32m.toWords(bad), 61);
      expect(parsePeerId(id).ok).toBe(false);
      expect(() => peerIdFromPublicKey(bad)).toThrow(/acceptable/);
    }
  });

  it('every one- or two-character typo fails to parse (never another peer)', async () => {
    const ed = backends[0];
    if (ed === undefined) throw new Error('no backend');
    const ids = await Promise.all(
      Array.from({ length: 64 }, async () => peerIdFromPublicKey((await ed.generate()).publicKey)),
    );
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'.split(/(?:)/u);
    fc.assert(
      fc.property(
        fc.constantFrom(...ids),
        fc.array(fc.record({ at: fc.integer({ min: 3, max: 60 }), char: fc.constantFrom(...alphabet) }), {
          minLength: 1,
          maxLength: 2,
        }),
        (id, typos) => {
          let typed: string = id;
          for (const { at, char } of typos) typed = typed.slice(0, at) + char + typed.slice(at + 1);
          if (typed === id) return;
          expect(parsePeerId(typed).ok).toBe(false);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
