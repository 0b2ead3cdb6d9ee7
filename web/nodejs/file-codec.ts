/**
 * The data directory's files as text: JSON, with byte arrays written as
 * `{"$bytes": "<base64>"}` so they come back as Uint8Array. Decoding trusts
 * nothing: bad JSON or a malformed tag throws, and the caller treats the
 * file as corrupt.
 */

/** The key that marks an encoded byte array. */
export const BYTES_TAG = '$bytes';

/** `value` as JSON text, byte arrays tagged. */
export function encodeData(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, replaced: unknown): unknown {
    // The original, before Buffer's toJSON turned it into {type, data}.
    const original: unknown = typeof this === 'object' && this !== null ? Reflect.get(this, key) : replaced;
    if (original instanceof Uint8Array) return { [BYTES_TAG]: Buffer.from(original).toString('base64') };
    return replaced;
  });
}

/** Parse text written by {@link encodeData}; throws SyntaxError for bad JSON or a malformed byte tag. */
export function decodeData(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value !== 'object' || value === null || !(BYTES_TAG in value)) return value;
    const encoded: unknown = Reflect.get(value, BYTES_TAG);
    if (Object.keys(value).length !== 1 || typeof encoded !== 'string') throw new SyntaxError('malformed byte array');
    const bytes = Buffer.from(encoded, 'base64');
    // Buffer skips what is not base64: only the canonical form is accepted.
    if (bytes.toString('base64') !== encoded) throw new SyntaxError('malformed base64');
    return new Uint8Array(bytes);
  });
}
