/** Byte helpers shared by browser and server. No Node `Buffer`, no DOM. */
import { base64urlnopad, hex } from '@scure/base';

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: by default a decoder drops it, so [EF BB BF] would read as '', a second
// encoding of the empty string in the canonical reader, and a text message "\uFEFFhi" would arrive as "hi".
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8 decode, exactly the text encoded (a leading byte-order mark included); throws on invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export function toBase64url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

/**
 * Strict, canonical base64url (no padding): returns undefined for anything
 * else, including encodings with non-zero trailing bits, so every byte string
 * has exactly one accepted text form.
 */
export function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    return base64urlnopad.decode(text);
  } catch {
    // Invalid length or non-zero padding bits: not canonical, so not accepted.
    return undefined;
  }
}

/** Length in characters of the unpadded base64url form of `n` bytes. */
export function base64urlLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}

export function toHex(bytes: Uint8Array): string {
  return hex.encode(bytes);
}

export function fromHex(text: string): Uint8Array {
  return hex.decode(text);
}
