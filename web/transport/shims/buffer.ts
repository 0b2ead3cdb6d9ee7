/**
 * What simple-peer's index.js uses of `buffer`, for the browser builds
 * (aliased in vite.config.ts): Buffer.from(ArrayBuffer) on each received
 * message. A plain Uint8Array over the same bytes is all the transport
 * needs, without the buffer package (about 6 KiB gzipped).
 */
export const Buffer = {
  from: (data: ArrayBuffer): Uint8Array => new Uint8Array(data),
};
