/**
 * A small canonical binary encoding for signed structures: fixed field order,
 * minimal unsigned LEB128 varints (at most 2^53 - 1), length-prefixed UTF-8
 * strings and raw fixed-size byte strings. The reader accepts exactly one
 * encoding of each value (non-minimal varints, invalid UTF-8 and trailing
 * bytes are errors), so equal values always sign the same bytes.
 */
import { fromUtf8, utf8 } from './bytes.js';

/** Thrown by {@link Reader} on malformed input; decoders turn it into a Result. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class Writer {
  private readonly parts: number[] = [];
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private flush(): void {
    if (this.parts.length > 0) {
      this.chunks.push(Uint8Array.from(this.parts));
      this.length += this.parts.length;
      this.parts.length = 0;
    }
  }

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError('u8 out of range');
    this.parts.push(value);
    return this;
  }

  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('varint out of range');
    let rest = value;
    while (rest >= 0x80) {
      this.parts.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.parts.push(rest);
    return this;
  }

  fixed(bytes: Uint8Array, size: number): this {
    if (bytes.length !== size) throw new RangeError(`expected ${size} bytes`);
    this.flush();
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  string(text: string, maxBytes: number): this {
    const bytes = utf8(text);
    if (bytes.length > maxBytes) throw new RangeError(`string over ${maxBytes} bytes`);
    this.varint(bytes.length);
    this.flush();
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

export class Reader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  u8(): number {
    const value = this.bytes[this.offset];
    if (value === undefined) throw new DecodeError('unexpected end of input');
    this.offset += 1;
    return value;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw new DecodeError('non-minimal varint');
        if (!Number.isSafeInteger(value)) throw new DecodeError('varint over 2^53 - 1');
        return value;
      }
      scale *= 0x80;
    }
    throw new DecodeError('varint too long');
  }

  fixed(size: number): Uint8Array {
    if (this.offset + size > this.bytes.length) throw new DecodeError('unexpected end of input');
    const out = this.bytes.slice(this.offset, this.offset + size);
    this.offset += size;
    return out;
  }

  string(maxBytes: number): string {
    const length = this.varint();
    if (length > maxBytes) throw new DecodeError(`string over ${maxBytes} bytes`);
    try {
      return fromUtf8(this.fixed(length));
    } catch (error) {
      if (error instanceof DecodeError) throw error;
      throw new DecodeError('invalid UTF-8');
    }
  }

  end(): void {
    if (this.offset !== this.bytes.length) throw new DecodeError('trailing bytes');
  }
}
