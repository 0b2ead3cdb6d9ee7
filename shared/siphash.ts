/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed hash made for hash tables that hostile input must not
 * steer. The peer cache places entries in buckets with it, keyed by a secret
 * salt, so an attacker with free keys cannot grind IDs into chosen buckets.
 * It is not a MAC for anything that leaves this tab. Synchronous and pure
 * (the cache's rules run inside a record's intake), on BigInt for clarity:
 * a few microseconds per call, for a few per record.
 */

const MASK = (1n << 64n) - 1n;
/** Bytes of a SipHash key. */
export const SIPHASH_KEY_BYTES = 16;

function rotl(x: bigint, bits: bigint): bigint {
  return ((x << bits) | (x >> (64n - bits))) & MASK;
}

function readU64(bytes: Uint8Array, offset: number): bigint {
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(bytes[offset + i] ?? 0);
  return value;
}

/** SipHash-2-4 of `data` under the 16-byte `key`, as an unsigned 64-bit integer. */
export function sipHash24(key: Uint8Array, data: Uint8Array): bigint {
  if (key.length !== SIPHASH_KEY_BYTES) throw new RangeError(`a SipHash key is ${SIPHASH_KEY_BYTES} bytes`);
  const k0 = readU64(key, 0);
  const k1 = readU64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const whole = data.length - (data.length % 8);
  for (let offset = 0; offset < whole; offset += 8) {
    const m = readU64(data, offset);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  // The last block: the remaining bytes, and the length's low byte on top.
  let last = BigInt(data.length & 0xff) << 56n;
  for (let i = 0; i < data.length - whole; i++) last |= BigInt(data[whole + i] ?? 0) << BigInt(8 * i);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xffn;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}
