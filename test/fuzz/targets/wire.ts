/** Targets for the pieces every codec stands on: canonical bytes, base64url text, peer IDs. */
import fc from 'fast-check';
import { fromBase64url, toBase64url, utf8 } from '../../../shared/bytes.js';
import { DecodeError, Reader, Writer } from '../../../shared/canonical.js';
import { ErrorCode } from '../../../shared/errors.js';
import { isPeerIdShaped, parsePeerId, peerIdFromPublicKey, publicKeyOf } from '../../../shared/identity/peer-id.js';
import { peerArb } from '../arbitraries/peers.js';
import { bytesSame, must, typedRefusal, type Verdict } from '../check.js';
import { byteMutation, mutateBytes, mutatedText, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

type Read =
  | { readonly kind: 'u8' }
  | { readonly kind: 'varint' }
  | { readonly kind: 'fixed'; readonly size: number }
  | { readonly kind: 'string'; readonly max: number }
  | { readonly kind: 'end' };

type Value =
  | { readonly kind: 'u8'; readonly value: number }
  | { readonly kind: 'varint'; readonly value: number }
  | { readonly kind: 'fixed'; readonly value: Uint8Array }
  | { readonly kind: 'string'; readonly value: string };

const readArb: fc.Arbitrary<Read> = fc.oneof(
  fc.constant({ kind: 'u8' as const }),
  fc.constant({ kind: 'varint' as const }),
  fc.record({ kind: fc.constant('fixed' as const), size: fc.nat({ max: 40 }) }),
  fc.record({ kind: fc.constant('string' as const), max: fc.nat({ max: 64 }) }),
  fc.constant({ kind: 'end' as const }),
);

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.record({ kind: fc.constant('u8' as const), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('varint' as const), value: fc.maxSafeNat() }),
  fc.record({ kind: fc.constant('fixed' as const), value: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({
    kind: fc.constant('string' as const),
    // Any well-formed text, the byte-order mark and combining characters among it.
    value: fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constantFrom('\ufeff', '\ufeffa', 'a\ufeff', 'e\u0301'),
    ),
  }),
);

function write(writer: Writer, value: Value): Writer {
  switch (value.kind) {
    case 'u8':
      return writer.u8(value.value);
    case 'varint':
      return writer.varint(value.value);
    case 'fixed':
      return writer.fixed(value.value, value.value.length);
    case 'string':
      return writer.string(value.value, 1000);
  }
}

/** The read that undoes writing `value`. */
function readerFor(value: Value): Read {
  if (value.kind === 'fixed') return { kind: 'fixed', size: value.value.length };
  if (value.kind === 'string') return { kind: 'string', max: 1000 };
  return { kind: value.kind };
}

/** Read `reads` from `bytes`; each value read must be the only encoding of itself (writing it back gives the bytes consumed). */
function readAll(bytes: Uint8Array, reads: readonly Read[]): { values: unknown[]; refused: boolean } {
  const reader = new Reader(bytes);
  const values: unknown[] = [];
  for (const read of reads) {
    const from = reader.position;
    let value: unknown;
    let again: Writer;
    try {
      switch (read.kind) {
        case 'u8':
          value = reader.u8();
          again = new Writer().u8(value as number);
          break;
        case 'varint':
          value = reader.varint();
          must(Number.isSafeInteger(value), 'a varint past 2^53 - 1 was read');
          again = new Writer().varint(value as number);
          break;
        case 'fixed':
          value = reader.fixed(read.size);
          must((value as Uint8Array).length === read.size, 'a fixed read of another size');
          again = new Writer().fixed(value as Uint8Array, read.size);
          break;
        case 'string':
          value = reader.string(read.max);
          again = new Writer().string(value as string, read.max);
          break;
        case 'end':
          reader.end();
          continue;
      }
    } catch (error) {
      if (error instanceof DecodeError) return { values, refused: true };
      throw error;
    }
    must(bytesSame(again.finish(), bytes.subarray(from, reader.position)), `a ${read.kind} has a second encoding`);
    values.push(value);
  }
  return { values, refused: false };
}

type CanonicalCase =
  | { readonly kind: 'written'; readonly values: readonly Value[] }
  | { readonly kind: 'read'; readonly bytes: Uint8Array; readonly reads: readonly Read[] };

export const canonicalTarget = defineTarget<CanonicalCase>({
  name: 'canonical',
  about:
    'canonical Reader: reads of every kind over random and mutated bytes give values with one encoding; written values read back',
  prepare: () => {
    const written = fc.array(valueArb, { maxLength: 8 });
    const bytesOf = (values: readonly Value[]): Uint8Array => values.reduce(write, new Writer()).finish();
    const input: fc.Arbitrary<CanonicalCase> = fc.oneof(
      written.map((values): CanonicalCase => ({ kind: 'written', values })),
      fc
        .record({
          bytes: fc.oneof(
            fc.uint8Array({ maxLength: 80 }),
            fc
              .tuple(written, fc.array(byteMutation, { minLength: 1, maxLength: 3 }))
              .map(([values, mutations]) => mutateBytes(bytesOf(values), mutations)),
          ),
          reads: fc.array(readArb, { minLength: 1, maxLength: 10 }),
        })
        .map((c): CanonicalCase => ({ kind: 'read', ...c })),
    );
    return Promise.resolve({
      input,
      async: false,
      check: (c): Verdict => {
        if (c.kind === 'read') return readAll(c.bytes, c.reads).refused ? 'refused' : 'accepted';
        const { values, refused } = readAll(bytesOf(c.values), [...c.values.map(readerFor), { kind: 'end' }]);
        must(!refused, 'what the Writer wrote does not read back');
        c.values.forEach((value, i) => {
          const back = values[i];
          const same =
            value.value instanceof Uint8Array
              ? back instanceof Uint8Array && bytesSame(back, value.value)
              : back === value.value;
          must(same, `a written ${value.kind} reads back as another value`);
        });
        return 'accepted';
      },
    });
  },
});

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export const base64urlTarget = defineTarget<string>({
  name: 'base64url',
  about: 'fromBase64url: any text; what it accepts is the one canonical form of its bytes',
  prepare: () => {
    const encoded = fc.uint8Array({ maxLength: 100 }).map(toBase64url);
    const input = fc.oneof(
      encoded,
      mutatedText(encoded),
      fc.string({ unit: fc.constantFrom(...Array.from(BASE64URL)), maxLength: 100 }),
      fc.string({ unit: fc.constantFrom(...Array.from(`${BASE64URL}=+/ \n`)), maxLength: 40 }),
      randomText(60),
    );
    return Promise.resolve({
      input,
      async: false,
      check: (text): Verdict => {
        const bytes = fromBase64url(text);
        if (bytes === undefined) return 'refused';
        must(toBase64url(bytes) === text, 'a second text form of the same bytes was accepted');
        return 'accepted';
      },
    });
  },
});

export const peerIdTarget = defineTarget<unknown>({
  name: 'peer-id',
  about:
    'parsePeerId: IDs valid, mistyped, re-cased and of small-order keys, random text and non-strings; what it accepts names one key',
  prepare: () => {
    const id = peerArb.map((value): string => value);
    const input: fc.Arbitrary<unknown> = fc.oneof(
      { weight: 2, arbitrary: id },
      { weight: 3, arbitrary: mutatedText(id) },
      { weight: 1, arbitrary: id.map((value) => value.toUpperCase()) },
      {
        weight: 2,
        arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((key) => {
          // Any key, acceptable or not, in the ID's encoding (what peerIdFromPublicKey would refuse to make).
          try {
            return peerIdFromPublicKey(key);
          } catch {
            return `tm1${toBase64url(key).toLowerCase().slice(0, 58)}`;
          }
        }),
      },
      {
        weight: 1,
        arbitrary: fc
          .string({
            unit: fc.constantFrom(...Array.from('qpzry9x8gf2tvdw0s3jn54khce6mua7l')),
            minLength: 58,
            maxLength: 58,
          })
          .map((s) => `tm1${s}`),
      },
      { weight: 1, arbitrary: randomText(80) },
      { weight: 1, arbitrary: fc.anything() },
    );
    return Promise.resolve({
      input,
      async: false,
      check: (value): Verdict => {
        const shaped = isPeerIdShaped(value);
        const result = parsePeerId(value);
        if (!result.ok) return typedRefusal(result, [ErrorCode.BAD_PEER_ID]);
        must(shaped, 'an ID that is not peer-ID shaped was accepted');
        must(result.value === value, 'the ID accepted is not the text given');
        must(peerIdFromPublicKey(publicKeyOf(result.value)) === result.value, 'an accepted ID is not its key’s one ID');
        must(utf8(result.value).length === result.value.length, 'an accepted ID is not ASCII');
        return 'accepted';
      },
    });
  },
});
