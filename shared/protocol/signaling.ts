/**
 * The client <-> signaling server channel: JSON text frames, every message
 * `{ v, t, ... }`. One parse function per direction turns untrusted text into
 * a discriminated union or a typed error; what flows on are freshly built
 * objects, never the parsed JSON. Unknown fields are ignored (room to grow);
 * unknown versions and types are errors. Documented in docs/PROTOCOL.md.
 */
import { fromBase64url, toBase64url, base64urlLength } from '../bytes.js';
import { Writer } from '../canonical.js';
import { ErrorCode, fail, ok, type Result } from '../errors.js';
import { isPeerIdShaped, parsePeerId, publicKeyOf, type PeerId } from '../identity/peer-id.js';
import {
  CHALLENGE_NONCE_BYTES,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_NETWORK_BYTES,
  MAX_REF,
  MAX_SAMPLE_SIZE,
  MAX_SERVER_NAME_CHARS,
  MAX_SIGNAL_PAYLOAD_CHARS,
  MAX_SIGNALING_FRAME_BYTES,
  MAX_STUN_URL_CHARS,
  MAX_STUN_URLS,
  MAX_TURN_CREDENTIAL_CHARS,
  MAX_TURN_TTL_MS,
  MAX_TURN_URL_CHARS,
  MAX_TURN_URLS,
  MAX_TURN_USERNAME_CHARS,
  PROTOCOL_VERSION,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  SUPPORTED_VERSIONS,
} from '../limits.js';
import { MAX_RECORD_TEXT_CHARS, isValidNetworkName } from '../records.js';

// --- Messages a client sends --------------------------------------------------

/** Answer to the challenge: join `network` as `id`. */
export interface RegisterMessage {
  readonly type: 'register';
  readonly id: PeerId;
  readonly network: string;
  /** Signed record bytes; checked by verifyRecord before use. */
  readonly record: Uint8Array;
  /** Signature over {@link registrationBytes} with purpose tabmesh/register/1. */
  readonly signature: Uint8Array;
}
/** Relay an opaque payload to a peer of the same network. */
export interface SignalRequest {
  readonly type: 'signal';
  /**
   * The recipient, checked for peer-ID shape only ('tm1' and 58 bech32
   * characters). A relay resolves it against its registry, which holds only
   * IDs verified at registration, so the checksum is checked (with
   * {@link parsePeerId}) only when the lookup misses. This keeps the relay's
   * hot path at JSON.parse cost.
   */
  readonly to: string;
  readonly payload: string;
  readonly ref?: number;
}
/** Ask for a fresh sample of peers. */
export interface PeersRequest {
  readonly type: 'peers';
  readonly max: number;
  readonly ref?: number;
}
/** Replace this peer's record (renewal, new endpoints). */
export interface RecordUpdate {
  readonly type: 'record';
  readonly record: Uint8Array;
  readonly ref?: number;
}
/** Ask for fresh TURN credentials (before the welcome's expire). */
export interface TurnRequest {
  readonly type: 'turn';
  readonly ref?: number;
}
export type ClientMessage = RegisterMessage | SignalRequest | PeersRequest | RecordUpdate | TurnRequest;

// --- Messages a server sends --------------------------------------------------

export interface ChallengeMessage {
  readonly type: 'challenge';
  readonly nonce: Uint8Array;
  /** The server's name, bound into the answer's signature. */
  readonly server: string;
  /** Server clock (ms since epoch), so clients can see their skew. */
  readonly now: number;
  /** The answer must arrive before this time (server clock). */
  readonly expires: number;
  /**
   * Signed records of live peers, when the client named its network in the
   * WebSocket URL (`?network=`): it can pick whom to dial while registering.
   * Unverified here: verify each before use.
   */
  readonly peers?: readonly string[];
  /**
   * True when the welcome will carry TURN credentials: a tab that means to
   * use them waits for the welcome before it dials.
   */
  readonly turn?: boolean;
  /**
   * STUN servers for this tab's connections (1..MAX_STUN_URLS `stun:` or
   * `stuns:` URLs, host and port only): the server's own responder, under
   * the name the tab reached it by, unless its operator named others. In the
   * challenge, so that they are known before the first offer is made.
   */
  readonly stun?: readonly string[];
}
/**
 * Short-lived TURN credentials in the shared-secret scheme (coturn's
 * `use-auth-secret`, the TURN REST API draft): good for every URL listed.
 * Shaped like an RTCIceServer, plus their remaining lifetime.
 */
export interface TurnCredentials {
  /** `turn:` and `turns:` URLs, at most MAX_TURN_URLS. */
  readonly urls: readonly string[];
  readonly username: string;
  readonly credential: string;
  /** Milliseconds the credentials stay valid from when they were sent. */
  readonly ttlMs: number;
}
export interface ServerLimits {
  readonly maxFrameBytes: number;
  readonly maxPayloadChars: number;
  /** Sustained messages per second per connection. */
  readonly rate: number;
  /** Burst size of the per-connection token bucket. */
  readonly burst: number;
}
export interface WelcomeMessage {
  readonly type: 'welcome';
  readonly id: PeerId;
  readonly network: string;
  /** Signed records of live peers (unverified here: verify each before use). */
  readonly peers: readonly string[];
  readonly limits: ServerLimits;
  /** TURN credentials for this peer, when the server hands them out. */
  readonly turn?: TurnCredentials;
}
/** Answer to a `turn` request: fresh credentials. */
export interface TurnResponse {
  readonly type: 'turn';
  readonly turn: TurnCredentials;
  readonly ref?: number;
}
export interface SignalDelivery {
  readonly type: 'signal';
  /** Stamped by the server from the authenticated connection. */
  readonly from: PeerId;
  readonly payload: string;
}
export interface PeersResponse {
  readonly type: 'peers';
  readonly peers: readonly string[];
  readonly ref?: number;
}
export interface OkMessage {
  readonly type: 'ok';
  readonly ref?: number;
}
export interface ErrorMessage {
  readonly type: 'error';
  /** A catalogue code; a newer server may send codes this client does not know. */
  readonly code: string;
  readonly message: string;
  readonly ref?: number;
}
export interface GoawayMessage {
  readonly type: 'goaway';
  readonly reason: string;
  /** Suggested delay before reconnecting. */
  readonly retryAfterMs?: number;
}
export type ServerMessage =
  | ChallengeMessage
  | WelcomeMessage
  | SignalDelivery
  | PeersResponse
  | OkMessage
  | ErrorMessage
  | GoawayMessage
  | TurnResponse;

// --- Parsing ------------------------------------------------------------------

type Fields = Record<string, unknown>;
const NONCE_CHARS = base64urlLength(CHALLENGE_NONCE_BYTES);
const SIGNATURE_CHARS = base64urlLength(SIGNATURE_BYTES);
const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

class FieldError extends Error {}

function bad(field: string, what: string): never {
  throw new FieldError(`'${field}' ${what}`);
}

function optionalRef(fields: Fields): number | undefined {
  const ref = fields['ref'];
  if (ref === undefined) return undefined;
  if (!Number.isInteger(ref) || (ref as number) < 0 || (ref as number) > MAX_REF)
    bad('ref', 'must be an integer 0..2^32-1');
  return ref as number;
}

function string(fields: Fields, field: string, maxChars: number): string {
  const value = fields[field];
  if (typeof value !== 'string') bad(field, 'must be a string');
  if (value.length > maxChars) bad(field, `is over ${maxChars} characters`);
  return value;
}

function bytes(fields: Fields, field: string, maxChars: number, exactBytes?: number): Uint8Array {
  const decoded = fromBase64url(string(fields, field, maxChars));
  if (decoded === undefined) bad(field, 'must be canonical base64url');
  if (exactBytes !== undefined && decoded.length !== exactBytes) bad(field, `must be ${exactBytes} bytes`);
  return decoded;
}

function timestamp(fields: Fields, field: string): number {
  const value = fields[field];
  if (!Number.isSafeInteger(value) || (value as number) < 0) bad(field, 'must be a timestamp in ms');
  return value as number;
}

function peerIdShape(fields: Fields, field: string): string {
  const value = fields[field];
  if (!isPeerIdShaped(value)) bad(field, 'is not a valid peer ID');
  return value;
}

function peerId(fields: Fields, field: string): PeerId {
  const parsed = parsePeerId(fields[field]);
  if (!parsed.ok) bad(field, 'is not a valid peer ID');
  return parsed.value;
}

function network(fields: Fields): string {
  const value = string(fields, 'network', MAX_NETWORK_BYTES);
  if (!isValidNetworkName(value)) bad('network', 'is not a valid network name');
  return value;
}

function recordList(fields: Fields): string[] {
  const value = fields['peers'];
  if (!Array.isArray(value)) bad('peers', 'must be an array');
  if (value.length > MAX_SAMPLE_SIZE) bad('peers', `has more than ${MAX_SAMPLE_SIZE} entries`);
  return value.map((entry: unknown) => {
    if (typeof entry !== 'string' || entry.length > MAX_RECORD_TEXT_CHARS) bad('peers', 'holds a malformed record');
    return entry;
  });
}

const TURN_URL_PATTERN = /^turns?:[^\s]+$/;
/**
 * A STUN URL as announced (RFC 7064: scheme, host, optional port; nothing
 * else): a hostname, an IPv4 address or a bracketed IPv6 literal.
 */
export const STUN_URL_PATTERN = /^stuns?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** STUN URLs from a server: 1..MAX_STUN_URLS, each matching STUN_URL_PATTERN. */
function stunUrls(fields: Fields, field: string): string[] {
  const value = fields[field];
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_STUN_URLS)
    bad(field, `must be an array of 1..${MAX_STUN_URLS} URLs`);
  return value.map((url: unknown) => {
    if (typeof url !== 'string' || url.length > MAX_STUN_URL_CHARS || !STUN_URL_PATTERN.test(url))
      bad(field, 'holds something other than a stun: or stuns: URL');
    return url;
  });
}

/** TURN credentials from a server: every field checked and capped, a fresh object built. */
function turnCredentials(fields: Fields, field: string): TurnCredentials {
  const value = fields[field];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(field, 'must be an object');
  const t = value as Fields;
  const urls = t['urls'];
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_TURN_URLS)
    bad(`${field}.urls`, `must be an array of 1..${MAX_TURN_URLS} URLs`);
  const ttlMs = t['ttlMs'];
  if (!Number.isSafeInteger(ttlMs) || (ttlMs as number) < 1 || (ttlMs as number) > MAX_TURN_TTL_MS)
    bad(`${field}.ttlMs`, `must be an integer 1..${MAX_TURN_TTL_MS}`);
  return {
    urls: urls.map((url: unknown) => {
      if (typeof url !== 'string' || url.length > MAX_TURN_URL_CHARS || !TURN_URL_PATTERN.test(url))
        bad(`${field}.urls`, 'holds something other than a turn: or turns: URL');
      return url;
    }),
    username: string(t, 'username', MAX_TURN_USERNAME_CHARS),
    credential: string(t, 'credential', MAX_TURN_CREDENTIAL_CHARS),
    ttlMs: ttlMs as number,
  };
}

function withRef<T extends object>(message: T, ref: number | undefined): T & { ref?: number } {
  return ref === undefined ? message : { ...message, ref };
}

/** Envelope checks shared by both directions: size, JSON, object, version, type. */
function envelope(text: string): Result<{ fields: Fields; type: string }> {
  if (text.length > MAX_SIGNALING_FRAME_BYTES) return fail(ErrorCode.FRAME_TOO_LARGE, 'frame over the size cap');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: report it without echoing the input.
    return fail(ErrorCode.BAD_JSON, 'frame is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail(ErrorCode.BAD_FIELD, 'message must be a JSON object');
  }
  const fields = parsed as Fields;
  const v = fields['v'];
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail(ErrorCode.BAD_FIELD, "'v' must be an integer");
  if (!SUPPORTED_VERSIONS.includes(v)) {
    return fail(
      ErrorCode.VERSION_UNSUPPORTED,
      `protocol version ${String(v)} unsupported; supported: ${SUPPORTED_VERSIONS.join(',')}`,
    );
  }
  const type = fields['t'];
  if (typeof type !== 'string') return fail(ErrorCode.BAD_FIELD, "'t' must be a string");
  return ok({ fields, type });
}

function guarded<T>(build: () => T): Result<T> {
  try {
    return ok(build());
  } catch (error) {
    if (error instanceof FieldError) return fail(ErrorCode.BAD_FIELD, error.message);
    throw error;
  }
}

/** Parse one frame from a client (server side). */
export function parseClientMessage(text: string): Result<ClientMessage> {
  const head = envelope(text);
  if (!head.ok) return head;
  const { fields, type } = head.value;
  switch (type) {
    case 'signal':
      return guarded(() =>
        withRef<SignalRequest>(
          { type, to: peerIdShape(fields, 'to'), payload: string(fields, 'payload', MAX_SIGNAL_PAYLOAD_CHARS) },
          optionalRef(fields),
        ),
      );
    case 'register':
      return guarded(() => ({
        type,
        id: peerId(fields, 'id'),
        network: network(fields),
        record: bytes(fields, 'record', MAX_RECORD_TEXT_CHARS),
        signature: bytes(fields, 'sig', SIGNATURE_CHARS, SIGNATURE_BYTES),
      }));
    case 'peers':
      return guarded(() => {
        const max = fields['max'] ?? MAX_SAMPLE_SIZE;
        if (!Number.isInteger(max) || (max as number) < 1 || (max as number) > MAX_SAMPLE_SIZE) {
          bad('max', `must be an integer 1..${MAX_SAMPLE_SIZE}`);
        }
        return withRef<PeersRequest>({ type, max: max as number }, optionalRef(fields));
      });
    case 'record':
      return guarded(() =>
        withRef<RecordUpdate>({ type, record: bytes(fields, 'record', MAX_RECORD_TEXT_CHARS) }, optionalRef(fields)),
      );
    case 'turn':
      return guarded(() => withRef<TurnRequest>({ type }, optionalRef(fields)));
    default:
      return fail(ErrorCode.UNKNOWN_TYPE, 'unknown client message type');
  }
}

/** Parse one frame from a server (client side). */
export function parseServerMessage(text: string): Result<ServerMessage> {
  const head = envelope(text);
  if (!head.ok) return head;
  const { fields, type } = head.value;
  switch (type) {
    case 'signal':
      return guarded(() => ({
        type,
        from: peerId(fields, 'from'),
        payload: string(fields, 'payload', MAX_SIGNAL_PAYLOAD_CHARS),
      }));
    case 'challenge':
      return guarded(() => {
        const challenge: ChallengeMessage = {
          type,
          nonce: bytes(fields, 'nonce', NONCE_CHARS, CHALLENGE_NONCE_BYTES),
          server: string(fields, 'server', MAX_SERVER_NAME_CHARS),
          now: timestamp(fields, 'now'),
          expires: timestamp(fields, 'expires'),
        };
        const turn = fields['turn'];
        if (turn !== undefined && typeof turn !== 'boolean') bad('turn', 'must be a boolean');
        return {
          ...challenge,
          ...(fields['peers'] === undefined ? {} : { peers: recordList(fields) }),
          ...(turn === true ? { turn } : {}),
          ...(fields['stun'] === undefined ? {} : { stun: stunUrls(fields, 'stun') }),
        };
      });
    case 'welcome':
      return guarded(() => {
        const limits = fields['limits'];
        if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) bad('limits', 'must be an object');
        const l = limits as Fields;
        const positive = (name: string): number => {
          const value = l[name];
          if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
            bad(`limits.${name}`, 'must be a positive number');
          return value;
        };
        const welcome: WelcomeMessage = {
          type,
          id: peerId(fields, 'id'),
          network: network(fields),
          peers: recordList(fields),
          limits: {
            maxFrameBytes: positive('maxFrameBytes'),
            maxPayloadChars: positive('maxPayloadChars'),
            rate: positive('rate'),
            burst: positive('burst'),
          },
        };
        return fields['turn'] === undefined ? welcome : { ...welcome, turn: turnCredentials(fields, 'turn') };
      });
    case 'peers':
      return guarded(() => withRef<PeersResponse>({ type, peers: recordList(fields) }, optionalRef(fields)));
    case 'ok':
      return guarded(() => withRef<OkMessage>({ type }, optionalRef(fields)));
    case 'turn':
      return guarded(() => withRef<TurnResponse>({ type, turn: turnCredentials(fields, 'turn') }, optionalRef(fields)));
    case 'error':
      return guarded(() => {
        const code = string(fields, 'code', 64);
        if (!CODE_PATTERN.test(code)) bad('code', 'must be an upper-case code');
        return withRef<ErrorMessage>(
          { type, code, message: string(fields, 'message', MAX_ERROR_MESSAGE_CHARS) },
          optionalRef(fields),
        );
      });
    case 'goaway':
      return guarded(() => {
        const reason = string(fields, 'reason', 64);
        if (!CODE_PATTERN.test(reason)) bad('reason', 'must be an upper-case code');
        const retry = fields['retryAfterMs'];
        if (retry === undefined) return { type, reason };
        if (!Number.isSafeInteger(retry) || (retry as number) < 0)
          bad('retryAfterMs', 'must be a non-negative integer');
        return { type, reason, retryAfterMs: retry as number };
      });
    default:
      return fail(ErrorCode.UNKNOWN_TYPE, 'unknown server message type');
  }
}

// --- Encoding -----------------------------------------------------------------

const V = PROTOCOL_VERSION;

function json(t: string, body: Record<string, unknown>): string {
  return JSON.stringify({ v: V, t, ...body });
}

export function encodeClientMessage(message: ClientMessage): string {
  switch (message.type) {
    case 'register':
      return json('register', {
        id: message.id,
        network: message.network,
        record: toBase64url(message.record),
        sig: toBase64url(message.signature),
      });
    case 'signal':
      return json('signal', { to: message.to, payload: message.payload, ref: message.ref });
    case 'peers':
      return json('peers', { max: message.max, ref: message.ref });
    case 'record':
      return json('record', { record: toBase64url(message.record), ref: message.ref });
    case 'turn':
      return json('turn', { ref: message.ref });
  }
}

export function encodeServerMessage(message: ServerMessage): string {
  switch (message.type) {
    case 'challenge':
      return json('challenge', {
        nonce: toBase64url(message.nonce),
        server: message.server,
        now: message.now,
        expires: message.expires,
        peers: message.peers,
        turn: message.turn,
        stun: message.stun,
      });
    case 'welcome':
      return json('welcome', {
        id: message.id,
        network: message.network,
        peers: message.peers,
        limits: message.limits,
        turn: message.turn === undefined ? undefined : turnBody(message.turn),
      });
    case 'signal':
      return encodeSignalDelivery(message.from, message.payload);
    case 'peers':
      return json('peers', { peers: message.peers, ref: message.ref });
    case 'ok':
      return json('ok', { ref: message.ref });
    case 'error':
      return json('error', { code: message.code, message: message.message, ref: message.ref });
    case 'goaway':
      return json('goaway', { reason: message.reason, retryAfterMs: message.retryAfterMs });
    case 'turn':
      return json('turn', { turn: turnBody(message.turn), ref: message.ref });
  }
}

/** The wire form of TURN credentials: exactly these fields, in this order. */
function turnBody(turn: TurnCredentials): Record<string, unknown> {
  return { urls: turn.urls, username: turn.username, credential: turn.credential, ttlMs: turn.ttlMs };
}

/**
 * The relay's hot path: a signal delivery built by concatenation. `from` is a
 * validated peer ID (bech32 characters only, nothing to escape).
 */
export function encodeSignalDelivery(from: PeerId, payload: string): string {
  return `{"v":${V},"t":"signal","from":"${from}","payload":${JSON.stringify(payload)}}`;
}

/**
 * The bytes a client signs (purpose tabmesh/register/1) to answer a challenge:
 * the nonce, the server's name, the network and the client's own key, so the
 * answer is good for one connection to one server in one network.
 */
export function registrationBytes(nonce: Uint8Array, server: string, network: string, id: PeerId): Uint8Array {
  return new Writer()
    .fixed(nonce, CHALLENGE_NONCE_BYTES)
    .string(server, MAX_SERVER_NAME_CHARS * 4)
    .string(network, MAX_NETWORK_BYTES)
    .fixed(publicKeyOf(id), PUBLIC_KEY_BYTES)
    .finish();
}
