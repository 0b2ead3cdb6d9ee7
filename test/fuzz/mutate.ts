/**
 * Structure-aware hostility, shared by every target: valid inputs bent the
 * ways an attacker bends them. Bytes are flipped, cut, spliced, repeated past
 * a cap, or given varints at their limits and broken UTF-8; text is cut and
 * spliced with lone surrogates and JSON's delimiters; JSON messages get a
 * field deleted, swapped for a value of the wrong type, a huge or odd number,
 * deep nesting, or a string past its cap.
 */
import fc from 'fast-check';
import { concatBytes } from '../../shared/bytes.js';

// --- Bytes --------------------------------------------------------------------

/** Byte strings a decoder finds hard: varints at and past 2^53, non-minimal forms, broken and surrogate UTF-8. */
const HARD_BYTES: readonly Uint8Array[] = [
  Uint8Array.of(0x00),
  Uint8Array.of(0x7f),
  Uint8Array.of(0x80),
  Uint8Array.of(0xff),
  Uint8Array.of(0x80, 0x00), // non-minimal varint
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f), // 2^53 - 1
  Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10), // 2^53
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // too long
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), // 2^32 - 1
  Uint8Array.of(0xc3, 0x28), // bad continuation
  Uint8Array.of(0xed, 0xa0, 0x80), // a UTF-16 surrogate in UTF-8
  Uint8Array.of(0xc0, 0xaf), // overlong
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // past U+10FFFF
  Uint8Array.of(0xe2, 0x82), // truncated sequence
];

export type ByteMutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bits: number }
  | { readonly kind: 'cut'; readonly at: number }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'overwrite'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number; readonly times: number };

const position = fc.nat({ max: 0xffff });
const spliced = fc.oneof(fc.constantFrom(...HARD_BYTES), fc.uint8Array({ minLength: 1, maxLength: 40 }));

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: position }),
  fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: spliced }),
  fc.record({ kind: fc.constant('overwrite' as const), at: position, bytes: spliced }),
  // A span repeated: lengths and counts past their caps, frames past the size cap.
  fc.record({
    kind: fc.constant('repeat' as const),
    at: position,
    length: fc.integer({ min: 1, max: 64 }),
    times: fc.integer({ min: 2, max: 2000 }),
  }),
);

export function mutateBytes(input: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let bytes = input;
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case 'flip':
        if (bytes.length === 0) break;
        bytes = Uint8Array.from(bytes);
        bytes[at % bytes.length] = (bytes[at % bytes.length] ?? 0) ^ m.bits;
        break;
      case 'cut':
        bytes = bytes.slice(0, at);
        break;
      case 'delete':
        bytes = concatBytes(bytes.subarray(0, at), bytes.subarray(at + m.count));
        break;
      case 'insert':
        bytes = concatBytes(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
        break;
      case 'overwrite': {
        const out = Uint8Array.from(bytes);
        out.set(m.bytes.subarray(0, Math.max(0, out.length - at)), at);
        bytes = out;
        break;
      }
      case 'repeat': {
        const span = bytes.subarray(at, at + m.length);
        if (span.length === 0) break;
        const repeated = new Uint8Array(span.length * m.times);
        for (let i = 0; i < m.times; i++) repeated.set(span, i * span.length);
        bytes = concatBytes(bytes.subarray(0, at), repeated, bytes.subarray(at + span.length));
        break;
      }
    }
  }
  return bytes;
}

/** A valid encoding with one to three byte mutations. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(byteMutation, { minLength: 1, maxLength: 3 }))
    .map(([bytes, mutations]) => mutateBytes(bytes, mutations));
}

/** Random bytes, and random bytes behind each of the given leading bytes (so every branch of a type switch is reached). */
export function randomBytes(maxLength: number, leading: readonly number[] = []): fc.Arbitrary<Uint8Array> {
  const body = fc.uint8Array({ maxLength });
  if (leading.length === 0) return body;
  return fc.oneof(
    body,
    fc.tuple(fc.constantFrom(...leading), body).map(([first, rest]) => concatBytes(Uint8Array.of(first), rest)),
  );
}

// --- Text ---------------------------------------------------------------------

/** Characters that break parsers: JSON's delimiters and escapes, lone surrogates, NUL, line separators, astral and combining characters. */
const HARD_TEXT = [
  '"',
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  ' ',
  '\n',
  '\u0000',
  '\ud800',
  '\udfff',
  '\udc00\ud800',
  '\u2028',
  '\ufeff',
  '\u202e',
  'é',
  'e\u0301',
  '😀',
  '\\u0000',
  '\\ud800',
  '-0',
  '1e400',
  'null',
  '__proto__',
  'tm1',
];

export type TextMutation =
  | { readonly kind: 'cut'; readonly at: number }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'replace'; readonly at: number; readonly text: string }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number; readonly times: number };

const splicedText = fc.oneof(fc.constantFrom(...HARD_TEXT), fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }));

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: position }),
  fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, text: splicedText }),
  fc.record({ kind: fc.constant('replace' as const), at: position, text: splicedText }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: position,
    length: fc.integer({ min: 1, max: 32 }),
    times: fc.integer({ min: 2, max: 5000 }),
  }),
);

export function mutateText(input: string, mutations: readonly TextMutation[]): string {
  let text = input;
  for (const m of mutations) {
    const at = m.at % (text.length + 1);
    switch (m.kind) {
      case 'cut':
        text = text.slice(0, at);
        break;
      case 'delete':
        text = text.slice(0, at) + text.slice(at + m.count);
        break;
      case 'insert':
        text = text.slice(0, at) + m.text + text.slice(at);
        break;
      case 'replace':
        text = text.slice(0, at) + m.text + text.slice(at + m.text.length);
        break;
      case 'repeat': {
        const span = text.slice(at, at + m.length);
        text = text.slice(0, at) + span.repeat(m.times) + text.slice(at + span.length);
        break;
      }
    }
  }
  return text;
}

export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(valid, fc.array(textMutation, { minLength: 1, maxLength: 3 }))
    .map(([text, mutations]) => mutateText(text, mutations));
}

/** Random text of every kind: any code units (lone surrogates too), ASCII, JSON values. */
export function randomText(maxLength: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'binary-ascii', maxLength }),
    fc.string({ unit: fc.constantFrom(...HARD_TEXT), maxLength: 20 }),
    fc.json({ maxDepth: 4 }),
  );
}

// --- JSON messages --------------------------------------------------------------

/** JSON tokens JSON.stringify never writes, and values past every cap, spliced in as raw text. */
function rawToken(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '-0',
      '1e400',
      '-1e400',
      '1.0',
      '1e2',
      '0.5',
      '9007199254740993',
      '4294967296',
      '-1',
      '1.7976931348623157e308',
      '5e-324',
      '"\\ud800"',
      '"\\u0000"',
      '"__proto__"',
      '[]',
      '{}',
      '{"__proto__":{"polluted":1}}',
      'null',
      'true',
      '""',
    ),
    // Deep nesting, of arrays and of objects.
    fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
    fc.integer({ min: 1, max: 5_000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
    // Strings past the caps (the payload's 32 Ki characters, the frame's 64 KiB).
    fc.integer({ min: 1, max: 70_000 }).map((length) => `"${'A'.repeat(length)}"`),
    // Arrays past the caps (samples, URLs).
    fc.integer({ min: 1, max: 100 }).map((length) => `[${Array<string>(length).fill('"AA"').join(',')}]`),
  );
}

export type JsonMutation =
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'set'; readonly key: string; readonly value: fc.JsonValue }
  | { readonly kind: 'raw'; readonly key: string; readonly token: string }
  | { readonly kind: 'wrap' };

/** A mutation of one of `keys` (the message's fields, plus some it does not have). */
export function jsonMutation(keys: readonly string[]): fc.Arbitrary<JsonMutation> {
  const key = fc.oneof(fc.constantFrom(...keys, '__proto__', 'constructor', 'extra'), fc.string({ maxLength: 8 }));
  return fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), key }),
    fc.record({ kind: fc.constant('set' as const), key, value: fc.jsonValue({ maxDepth: 3 }) }),
    fc.record({ kind: fc.constant('raw' as const), key, token: rawToken() }),
    fc.constant({ kind: 'wrap' as const }),
  );
}

const RAW = '\u0000raw\u0000';

/** Apply mutations to a JSON object's text; a raw token is spliced in where a placeholder string was written. */
export function mutateJson(text: string, mutations: readonly JsonMutation[]): string {
  const object = JSON.parse(text) as Record<string, unknown>;
  const raws: string[] = [];
  let wrap = false;
  for (const m of mutations) {
    if (m.kind === 'delete') Reflect.deleteProperty(object, m.key);
    else if (m.kind === 'wrap') wrap = true;
    else {
      // defineProperty, so '__proto__' becomes an own field as JSON.parse would make it.
      const value = m.kind === 'set' ? m.value : `${RAW}${raws.push(m.token) - 1}`;
      Object.defineProperty(object, m.key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  let out = JSON.stringify(object);
  raws.forEach((token, i) => {
    out = out.replace(JSON.stringify(`${RAW}${i}`), () => token);
  });
  return wrap ? `[${out}]` : out;
}

/** A valid JSON message with one to three field mutations. */
export function mutatedJson(valid: fc.Arbitrary<string>, keys: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(valid, fc.array(jsonMutation(keys), { minLength: 1, maxLength: 3 }))
    .map(([text, mutations]) => mutateJson(text, mutations));
}

/** Any JSON-shaped object with the envelope's fields: right or wrong version, known or unknown type, random fields. */
export function randomEnvelope(types: readonly string[], keys: readonly string[]): fc.Arbitrary<string> {
  return fc
    .record({
      v: fc.oneof(fc.constant<fc.JsonValue>(1), fc.jsonValue({ maxDepth: 1 })),
      t: fc.oneof(fc.constantFrom<fc.JsonValue>(...types), fc.jsonValue({ maxDepth: 1 })),
      fields: fc.dictionary(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 2 }), { maxKeys: keys.length }),
    })
    .map(({ v, t, fields }) => JSON.stringify({ ...fields, v, t }));
}

/**
 * A JSON message grown to within a few characters of `cap` (or just past it)
 * by filling one of its string fields with characters JSON writes as one, two
 * or six: the boundary where what a parser accepted can re-encode, or be
 * passed on, over the cap.
 */
export function nearTheCap(valid: fc.Arbitrary<string>, fields: readonly string[], cap: number): fc.Arbitrary<string> {
  return fc
    .record({
      text: valid,
      field: fc.constantFrom(...fields),
      unit: fc.constantFrom('A', '"', '\\', '\n', '\u0001', 'é'),
      slack: fc.integer({ min: -3, max: 8 }),
    })
    .map(({ text, field, unit, slack }) => {
      const object = JSON.parse(text) as Record<string, unknown>;
      const base = JSON.stringify({ ...object, [field]: '' }).length;
      const room = cap - slack - base;
      const width = JSON.stringify(unit).length - 2;
      const count = Math.max(0, Math.floor(room / width));
      const filler = unit.repeat(count) + 'A'.repeat(Math.max(0, room - count * width));
      return JSON.stringify({ ...object, [field]: filler });
    });
}
