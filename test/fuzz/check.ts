/**
 * What every fuzz target checks of what a decoder gave back: a value, or a
 * TabmeshError with a code from the allowed set and a message short enough
 * to travel in an error frame. A failed check throws FuzzFailure, which
 * fast-check reports as a crash and shrinks.
 */
import { isDeepStrictEqual } from 'node:util';
import { fromUtf8, utf8 } from '../../shared/bytes.js';
import { TabmeshError, type ErrorCode, type Result } from '../../shared/errors.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../../shared/limits.js';

/** A property that did not hold. */
export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFailure';
  }
}

/** What the code under test did with one input, counted by the runner. */
export type Verdict = 'accepted' | 'refused';

export function must(condition: boolean, message: string): asserts condition {
  if (!condition) throw new FuzzFailure(message);
}

/**
 * A refusal must be a TabmeshError with one of `codes`, and a message that
 * fits an error frame (the server sends parse errors back as they are).
 */
export function typedRefusal(result: Result<unknown>, codes: readonly ErrorCode[]): Verdict {
  if (result.ok) return 'accepted';
  const { error } = result;
  must(error instanceof TabmeshError, `refusal is not a TabmeshError: ${String(error)}`);
  must(codes.includes(error.code), `unexpected code ${error.code} (${error.message})`);
  must(
    error.message.length <= MAX_ERROR_MESSAGE_CHARS,
    `error message of ${error.message.length} characters does not fit an error frame`,
  );
  return 'refused';
}

/**
 * Deep equality of decoded values, with numbers compared by `===` (JSON has
 * one zero) and byte arrays by content whatever their offset in a buffer.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesSame(a, b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isRecordLike(a) && isRecordLike(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]));
  }
  return isDeepStrictEqual(a, b);
}

export function bytesSame(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** An object of fields: plain, or of no prototype (as fast-check makes some of what it generates). */
function isRecordLike(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A value a decoder built: a plain object of its own, never the parsed input or one with another prototype. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** A short printable form of an input, for failure messages. */
export function preview(value: unknown, max = 200): string {
  const text =
    value instanceof Uint8Array
      ? `bytes(${value.length}) ${Buffer.from(value.subarray(0, 64)).toString('hex')}`
      : String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** Text as it can come off a socket: decoded UTF-8, so no lone surrogate (encoding writes one as U+FFFD). */
export function isWellFormed(text: string): boolean {
  return fromUtf8(utf8(text)) === text;
}
