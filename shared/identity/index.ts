export * from './ed25519.js';
export * from './peer-id.js';
export * from './signing.js';
export * from './tweetnacl.js';
export * from './webcrypto.js';
