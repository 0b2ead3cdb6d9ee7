/* global module, crypto */
/**
 * simple-peer's `randombytes` in the browser builds (aliased in
 * vite.config.ts), over crypto.getRandomValues. simple-peer only calls
 * `randombytes(n).toString('hex')` (a peer's log ID, and a channel name when
 * none is given; Tabmesh gives one), so the result is hex whatever the
 * encoding asked. CommonJS, as simple-peer calls what `require` returns.
 * @param {number} size
 * @returns {{ toString(): string }}
 */
module.exports = (size) => {
  const bytes = crypto.getRandomValues(new Uint8Array(size));
  return { toString: () => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('') };
};
