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
/**
 * Requests a client may send right behind its registration answer, held by
 * the server until the answer is verified (so a tab's first offer need not
 * wait a round trip). More is a protocol error.
 */
export const MAX_HELD_DURING_REGISTRATION = 16;
/** Largest number of records in one bootstrap sample. */
export const MAX_SAMPLE_SIZE = 32;
/** Largest `ref` a client may attach to a request (fits in 32 bits). */
export const MAX_REF = 0xffffffff;
/** Longest server name in a challenge. */
export const MAX_SERVER_NAME_CHARS = 128;
/** Longest human-readable error message accepted from a server. */
export const MAX_ERROR_MESSAGE_CHARS = 512;

// --- Peer <-> peer: signals ------------------------------------------------

/** Random bytes naming a connection attempt (and each side's nonce in it). */
export const SESSION_NONCE_BYTES = 16;
/** Largest SDP or candidate body in a signed signal. Data-channel-only SDPs are under 2 KB. */
export const MAX_SIGNAL_BODY_BYTES = 8 * 1024;
/** A signal is valid this long after it is made; older ones are dropped as stale. */
export const SIGNAL_TTL_MS = 60 * 1000;
/** Highest sequence number in one session (offer, answer and candidates number far fewer). */
export const MAX_SIGNAL_SEQ = 1000;

// --- Peer <-> peer: the data channel ---------------------------------------

/** Largest frame on a data channel (16 KiB: the size every browser delivers unsplit). */
export const MAX_CHANNEL_FRAME_BYTES = 16 * 1024;
/** Largest payload `send` accepts; larger is refused with PAYLOAD_TOO_LARGE. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest payload `broadcast` accepts: a broadcast is copied to every peer of the network. */
export const MAX_BROADCAST_BYTES = 1024 * 1024;
/** Messages one peer may have half-received at once before it is cut off. */
export const MAX_PARTIAL_MESSAGES_PER_PEER = 4;
/** Hops a broadcast may travel by default. */
export const DEFAULT_BROADCAST_HOPS = 8;
/** Hops a received broadcast may still claim; more is a protocol violation. */
export const MAX_BROADCAST_HOPS = 16;
/** Broadcast IDs remembered for deduplication (oldest forgotten first). */
export const BROADCAST_DEDUP_ENTRIES = 8192;
/** A channel quiet this long gets a keepalive frame. */
export const CHANNEL_KEEPALIVE_MS = 5_000;
/** A channel that brings nothing, not even a keepalive, for this long is closed as dead. */
export const CHANNEL_DEAD_AFTER_MS = 15_000;
/** Records in one peer-exchange message. */
export const MAX_RECORDS_PER_MESSAGE = 32;
/** Peer-exchange messages a peer may send: sustained rate per second, and burst. */
export const PEER_EXCHANGE_RATE = 0.2;
export const PEER_EXCHANGE_BURST = 3;

// --- The record cache -----------------------------------------------------

/** Records cached per network (qp2p's bootstrap cache held the 200 most recent). */
export const MAX_CACHED_RECORDS = 200;
/** "New" (heard-of) entries one introducer may place in the cache. */
export const MAX_NEW_PER_INTRODUCER = 16;
