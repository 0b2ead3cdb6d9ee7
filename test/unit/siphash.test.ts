import { describe, expect, it } from 'vitest';
import { sipHash24, SIPHASH_KEY_BYTES } from '../../shared/siphash.js';

/**
 * The reference implementation's vectors (github.com/veorq/SipHash,
 * vectors.h): key 00 01 … 0f, input 00 01 … (n−1) for n = 0 … 26, each
 * output written as its eight bytes in order.
 */
const VECTORS = [
  '310e0edd47db6f72',
  'fd67dc93c539f874',
  '5a4fa9d909806c0d',
  '2d7efbd796666785',
  'b7877127e09427cf',
  '8da699cd64557618',
  'cee3fe586e46c9cb',
  '37d1018bf50002ab',
  '6224939a79f5f593',
  'b0e4a90bdf82009e',
  'f3b9dd94c5bb5d7a',
  'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75',
  '903d84c02756ea14',
  'eef27a8e90ca23f7',
  'e545be4961ca29a1',
  'db9bc2577fcc2a3f',
  '9447be2cf5e99a69',
  '9cd38d96f0b3c14b',
  'bd6179a71dc96dbb',
  '98eea21af25cd6be',
  'c7673b2eb0cbf2d0',
  '883ea3e395675393',
  'c8ce5ccd8c030ca8',
  '94af49f6c650adb8',
  'eab8858ade92e1bc',
  'f315bb5bb835d817',
];

/** The hash's eight bytes, least significant first, in hex. */
function bytesOf(hash: bigint): string {
  let out = '';
  for (let i = 0n; i < 8n; i++) out += ((hash >> (8n * i)) & 0xffn).toString(16).padStart(2, '0');
  return out;
}

describe('sipHash24', () => {
  const key = Uint8Array.from({ length: SIPHASH_KEY_BYTES }, (_, i) => i);

  it.each(VECTORS.map((expected, length) => [length, expected] as const))(
    'gives the reference output for %i bytes',
    (length, expected) => {
      const input = Uint8Array.from({ length }, (_, i) => i);
      expect(bytesOf(sipHash24(key, input))).toBe(expected);
    },
  );

  it('refuses a key of the wrong length', () => {
    expect(() => sipHash24(new Uint8Array(8), new Uint8Array(0))).toThrow(RangeError);
  });
});
