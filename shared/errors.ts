/**
 * The one catalogue of Tabmesh error codes. Every error that crosses a module
 * boundary or the wire carries one of these stable codes; messages are for
 * people and may change, codes may not. `docs/PROTOCOL.md` lists them all.
 */
export const ErrorCode = {
  // --- Frames and messages (any channel) ---
  /** The frame exceeds the channel's size cap. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** The frame is not the kind the channel carries (e.g. binary on a text channel). */
  BAD_FRAME: 'BAD_FRAME',
  /** The frame is not valid JSON. */
  BAD_JSON: 'BAD_JSON',
  /** The message's `v` is not a protocol version this side speaks. */
  VERSION_UNSUPPORTED: 'VERSION_UNSUPPORTED',
  /** The message's `t` is not a type this channel carries. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** A field is missing, of the wrong type, out of range or over its cap. */
  BAD_FIELD: 'BAD_FIELD',

  // --- Identity ---
  /** A string that should be a peer ID is not one (syntax, checksum or key). */
  BAD_PEER_ID: 'BAD_PEER_ID',
  /** A signature is malformed, non-canonical, or does not verify. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',

  // --- Peer records ---
  RECORD_TOO_LARGE: 'RECORD_TOO_LARGE',
  RECORD_MALFORMED: 'RECORD_MALFORMED',
  RECORD_BAD_SIGNATURE: 'RECORD_BAD_SIGNATURE',
  RECORD_EXPIRED: 'RECORD_EXPIRED',
  /** Issued later than now plus the allowed clock skew. */
  RECORD_FUTURE_DATED: 'RECORD_FUTURE_DATED',
  /** Expiry minus issue time exceeds the maximum record lifetime. */
  RECORD_LIFETIME_TOO_LONG: 'RECORD_LIFETIME_TOO_LONG',
  /** A sequence number equal to or older than one already held. */
  RECORD_STALE: 'RECORD_STALE',

  // --- Registration with a signaling server ---
  /** A message that needs a registered connection came before registration. */
  NOT_REGISTERED: 'NOT_REGISTERED',
  /** A second `register` on a connection. */
  ALREADY_REGISTERED: 'ALREADY_REGISTERED',
  /** The answer came after the challenge expired. */
  CHALLENGE_EXPIRED: 'CHALLENGE_EXPIRED',
  /** No valid answer within the registration timeout. */
  REGISTRATION_TIMEOUT: 'REGISTRATION_TIMEOUT',
  /** The record's peer ID is not the ID being registered. */
  ID_MISMATCH: 'ID_MISMATCH',
  /** The record's network is not the network being joined. */
  NETWORK_MISMATCH: 'NETWORK_MISMATCH',

  // --- Relay ---
  /** No peer with that ID is registered in this network on this server. */
  UNKNOWN_PEER: 'UNKNOWN_PEER',
  /** The recipient's outgoing buffer is full; the message was dropped. */
  RECIPIENT_BUSY: 'RECIPIENT_BUSY',
  /** The sender exceeded its message rate; the message was dropped. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The sender kept flooding while throttled; the connection is closed. */
  FLOODING: 'FLOODING',
  /** The connection left more than its send budget unread; it is closed. */
  NOT_READING: 'NOT_READING',

  // --- Connection admission and lifetime ---
  /** The page's Origin is not on the server's allow-list. */
  ORIGIN_REFUSED: 'ORIGIN_REFUSED',
  /** Too many connections from one IP address. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The server holds its maximum number of peers. */
  SERVER_FULL: 'SERVER_FULL',
  /** The server holds its maximum number of connections still registering; retry later. */
  SERVER_BUSY: 'SERVER_BUSY',
  /** The same peer ID registered again on a newer connection. */
  REPLACED: 'REPLACED',
  /** The server is shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The peer stopped answering heartbeats. */
  HEARTBEAT_TIMEOUT: 'HEARTBEAT_TIMEOUT',
  /** An HTTP request's headers did not all arrive within the server's header timeout. */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** Wrong path for the WebSocket endpoint. */
  NOT_FOUND: 'NOT_FOUND',
  /** A `turn` request to a server that hands out no TURN credentials. */
  TURN_UNAVAILABLE: 'TURN_UNAVAILABLE',

  // --- Peer to peer ---
  /** A signal not addressed to us, or whose relay-stamped sender differs from its signer. */
  SIGNAL_MISADDRESSED: 'SIGNAL_MISADDRESSED',
  /** A signal past its expiry, or dated too far ahead. */
  SIGNAL_STALE: 'SIGNAL_STALE',
  /** A signal whose sequence number was already seen in its session. */
  SIGNAL_REPLAYED: 'SIGNAL_REPLAYED',
  /** An SDP without exactly one SHA-256 DTLS fingerprint, or otherwise unusable. */
  BAD_SDP: 'BAD_SDP',
  /** The channel's confirmation did not name the expected keys, fingerprints or nonces. */
  CONFIRM_FAILED: 'CONFIRM_FAILED',
  /** The peer broke the channel protocol (bad frame, over a cap). */
  PROTOCOL_VIOLATION: 'PROTOCOL_VIOLATION',
  /** A payload over the size `send` or `broadcast` accepts. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** `send` to a peer with no open, confirmed channel. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The connection attempt did not complete in time, or the peer declined it. */
  CONNECT_FAILED: 'CONNECT_FAILED',
  /**
   * The peer answered, but the two networks have no direct path (symmetric
   * NATs, a firewall) and neither side had a TURN relay to offer: configure
   * one (the signaling server's --turn-urls and --turn-secret).
   */
  RELAY_NEEDED: 'RELAY_NEEDED',
  /** The node has been closed. */
  CLOSED: 'CLOSED',
  /** A frame relayed through the mesh for us whose seal does not open, or whose contents are not what the seal promised. */
  BAD_SEAL: 'BAD_SEAL',
  /** A relayed frame that cannot go on: its hops are spent, its route is broken, or it came round in a loop. */
  RELAY_UNROUTABLE: 'RELAY_UNROUTABLE',
  /** The peer cannot be reached through the mesh (no seal key known, no neighbours). */
  NO_MESH_PATH: 'NO_MESH_PATH',
  /** The other side reported an error code not in this catalogue (a newer version's). */
  REMOTE_ERROR: 'REMOTE_ERROR',

  // --- A node in Node (tabmesh/node); local, never on the wire ---
  /** No WebRTC implementation: the optional dependency @roamhq/wrtc is not installed (or does not load). */
  WEBRTC_UNAVAILABLE: 'WEBRTC_UNAVAILABLE',
  /** The data directory is held by another node (this process or another, alive). */
  DATA_DIR_LOCKED: 'DATA_DIR_LOCKED',
  /** The data directory cannot be used: not a directory, or not creatable or writable. */
  DATA_DIR_UNUSABLE: 'DATA_DIR_UNUSABLE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** True when `value` is one of the catalogue's codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODES.has(value);
}

/** An error with a stable code. Messages never echo raw untrusted input. */
export class TabmeshError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TabmeshError';
    this.code = code;
  }
}

/** The outcome of parsing or checking untrusted input: a value or a typed error. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: TabmeshError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ErrorCode, message: string): Result<T> {
  return { ok: false, error: new TabmeshError(code, message) };
}

/** Unwraps a result, throwing its error. For callers that prefer exceptions. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw result.error;
}

/** True for the errors of sending to something that has gone meanwhile: a closed link or node. */
export function isGone(error: unknown): boolean {
  return error instanceof TabmeshError && (error.code === ErrorCode.NOT_CONNECTED || error.code === ErrorCode.CLOSED);
}

/**
 * The handler for a promise nobody awaits (a frame sent, a message forwarded):
 * failing because the link or node went away meanwhile is expected and
 * dropped on purpose; any other failure goes to `report`, to be counted or
 * logged. The one way this codebase lets go of a promise.
 */
export function unlessGone(report: (error: unknown) => void): (error: unknown) => void {
  return (error) => {
    if (!isGone(error)) report(error);
  };
}
