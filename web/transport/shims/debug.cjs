/* global module */
/**
 * simple-peer's `debug` logger in the browser builds (aliased in
 * vite.config.ts): off. The debug package reads `process.env` and
 * localStorage and formats every message; Tabmesh never turns it on.
 * CommonJS, as simple-peer calls what `require('debug')` returns.
 */
module.exports = () => () => undefined;
