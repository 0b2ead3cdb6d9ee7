/**
 * Every protocol-level limit, with its reason. Server-only defaults live in
 * `signaling-server/defaults.ts`; both are listed in `docs/PROTOCOL.md`.
 * Changing a value here changes what peers accept from each other, so treat
 * it as a protocol change.
 */

/** The wire protocol version this code speaks. Every message carries it as `v`. */
export const PROTOCOL_VERSION = 1;
/** Versions this code can parse; anything else is answered with VERSION_UNSUPPORTED. */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

// --- Identity ---------------------------------------------------------------

/** Human-readable prefix of every peer ID (bech32m HRP). */
export const PEER_ID_PREFIX = 'tm';
/** Length of a peer ID: 'tm' + '1' + 52 data characters + 6 checksum characters. */
export const PEER_ID_LENGTH = 61;
/** Ed25519 public key, seed and signature sizes (RFC 8032). */
export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

// --- Peer records -------------------------------------------------------------

/**
 * Hard cap on a signed record (canonical bytes plus the 64-byte signature).
 * Records travel in bootstrap samples and peer exchange by the dozen, so they
 * must stay small; 1 KiB leaves room for four endpoints and a display name.
 */
export const MAX_RECORD_BYTES = 1024;
/** Signaling endpoints one record may list. */
export const MAX_RECORD_ENDPOINTS = 4;
/** Longest endpoint URL, in bytes. */
export const MAX_ENDPOINT_BYTES = 256;
/** Longest network name, in bytes (ASCII only, see NETWORK_NAME_PATTERN). */
export const MAX_NETWORK_BYTES = 64;
/** Longest display name, in UTF-8 bytes. */
export const MAX_DISPLAY_NAME_BYTES = 64;
/**
 * How far a record's issue time may lie in the future, and how long after
 * expiry it is still accepted: tolerance for clocks that disagree.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Longest validity a record may claim (expiry minus issue time). */
export const MAX_RECORD_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** Validity a node gives its own record unless told otherwise. */
export const DEFAULT_RECORD_LIFETIME_MS = 24 * 60 * 60 * 1000;
/**
 * Network names: 1 to 64 of letters, digits, '.', '_', '~', '-' (URL-safe, so
 * a link can carry one in `?network=` unescaped).
 */
export const NETWORK_NAME_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;

// --- Client <-> signaling server ---------------------------------------------

/**
 * Largest WebSocket frame a signaling server accepts by default (ws's own
 * default is 100 MiB, far too much for a public endpoint). Oversize closes 1009.
 */
export const MAX_SIGNALING_FRAME_BYTES = 64 * 1024;
/**
 * Largest opaque signal payload, in characters. A full non-trickle SDP offer
 * with candidates and a signature is under 10 KB; 32 KiB leaves headroom.
 */
export const MAX_SIGNAL_PAYLOAD_CHARS = 32 * 1024;
/** Bytes in a registration challenge nonce. */
export const CHALLENGE_NONCE_BYTES = 32;
/** Largest number of records in one bootstrap sample. */
export const MAX_SAMPLE_SIZE = 32;
/** Largest `ref` a client may attach to a request (fits in 32 bits). */
export const MAX_REF = 0xffffffff;
/** Longest server name in a challenge. */
export const MAX_SERVER_NAME_CHARS = 128;
/** Longest human-readable error message accepted from a server. */
export const MAX_ERROR_MESSAGE_CHARS = 512;
