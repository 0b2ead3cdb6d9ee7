/**
 * The few globals that exist alike in browsers and Node (WHATWG Encoding),
 * declared for the shared/ type check alone, which has neither DOM nor Node
 * types. Other projects get them from their own libs and exclude this file.
 */
declare class TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}
