/**
 * Signed signals between peers: every offer, answer and ICE candidate travels
 * in an envelope signed by its sender (purpose tabmesh/signal/1) that names
 * both peers, the session and a sequence number, and expires. Whoever relays
 * it (a signaling server now, other peers later) can drop it but cannot
 * forge, alter or redirect it. The DTLS fingerprint inside a signed SDP is
 * what DTLS then holds the other side to.
 *
 * Wire form: canonical bytes ‖ 64-byte signature, as one base64url string
 * (the opaque `payload` of a relayed signal).
 */
import { base64urlLength, concatBytes, fromBase64url, toBase64url } from '../bytes.js';
import { DecodeError, Reader, Writer } from '../canonical.js';
import { ErrorCode, fail, ok, type Result } from '../errors.js';
import type { Ed25519 } from '../identity/ed25519.js';
import { peerIdFromPublicKey, publicKeyOf, type PeerId } from '../identity/peer-id.js';
import { Purpose, verifyFrom, type Identity } from '../identity/signing.js';
import {
  MAX_CLOCK_SKEW_MS,
  MAX_SIGNAL_BODY_BYTES,
  MAX_SIGNAL_SEQ,
  PUBLIC_KEY_BYTES,
  SESSION_NONCE_BYTES,
  SIGNAL_TTL_MS,
  SIGNATURE_BYTES,
} from '../limits.js';

/** What a signal carries. `bye` ends or declines a session (body: a reason code). */
export type SignalKind = 'offer' | 'answer' | 'candidate' | 'bye';
const KINDS: readonly SignalKind[] = ['offer', 'answer', 'candidate', 'bye'];

export interface SignalEnvelope {
  readonly from: PeerId;
  readonly to: PeerId;
  /** Names the connection attempt; chosen by the initiator. */
  readonly session: Uint8Array;
  /** The sender's own nonce for this session (the initiator's equals `session`). */
  readonly nonce: Uint8Array;
  /** Strictly increasing per sender within a session. */
  readonly seq: number;
  readonly kind: SignalKind;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /** SDP for offer/answer, a candidate's JSON for candidate, a reason code for bye. */
  readonly body: string;
}

const FORMAT = 1;
/** Longest wire form: header, body and signature, as base64url. */
export const MAX_SIGNAL_TEXT_CHARS = base64urlLength(
  1 + 2 * PUBLIC_KEY_BYTES + 2 * SESSION_NONCE_BYTES + 9 + 1 + 9 + 3 + MAX_SIGNAL_BODY_BYTES + SIGNATURE_BYTES,
);

function encode(envelope: SignalEnvelope): Uint8Array {
  return new Writer()
    .u8(FORMAT)
    .fixed(publicKeyOf(envelope.from), PUBLIC_KEY_BYTES)
    .fixed(publicKeyOf(envelope.to), PUBLIC_KEY_BYTES)
    .fixed(envelope.session, SESSION_NONCE_BYTES)
    .fixed(envelope.nonce, SESSION_NONCE_BYTES)
    .varint(envelope.seq)
    .u8(KINDS.indexOf(envelope.kind) + 1)
    .varint(envelope.expiresAt)
    .string(envelope.body, MAX_SIGNAL_BODY_BYTES)
    .finish();
}

/** Sign an envelope as `identity` (which must be `envelope.from`); returns the wire text. */
export async function signSignal(identity: Identity, envelope: Omit<SignalEnvelope, 'from'>): Promise<string> {
  const data = encode({ ...envelope, from: identity.id });
  return toBase64url(concatBytes(data, await identity.sign(Purpose.SIGNAL, data)));
}

function decode(bytes: Uint8Array): Result<{ envelope: SignalEnvelope; data: Uint8Array; signature: Uint8Array }> {
  if (bytes.length <= SIGNATURE_BYTES) return fail(ErrorCode.BAD_FIELD, 'signal too short');
  const data = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  const signature = bytes.subarray(bytes.length - SIGNATURE_BYTES);
  try {
    const reader = new Reader(data);
    if (reader.u8() !== FORMAT) return fail(ErrorCode.BAD_FIELD, 'unknown signal format');
    const fromKey = reader.fixed(PUBLIC_KEY_BYTES);
    const toKey = reader.fixed(PUBLIC_KEY_BYTES);
    const session = reader.fixed(SESSION_NONCE_BYTES);
    const nonce = reader.fixed(SESSION_NONCE_BYTES);
    const seq = reader.varint();
    const kind = KINDS[reader.u8() - 1];
    const expiresAt = reader.varint();
    const body = reader.string(MAX_SIGNAL_BODY_BYTES);
    reader.end();
    if (kind === undefined) return fail(ErrorCode.BAD_FIELD, 'unknown signal kind');
    if (seq > MAX_SIGNAL_SEQ) return fail(ErrorCode.BAD_FIELD, 'signal sequence number too high');
    let from: PeerId;
    let to: PeerId;
    try {
      from = peerIdFromPublicKey(fromKey);
      to = peerIdFromPublicKey(toKey);
    } catch {
      // A key no peer may hold.
      return fail(ErrorCode.BAD_PEER_ID, 'signal names an unacceptable key');
    }
    return ok({ envelope: { from, to, session, nonce, seq, kind, expiresAt, body }, data, signature });
  } catch (error) {
    if (error instanceof DecodeError) return fail(ErrorCode.BAD_FIELD, `malformed signal: ${error.message}`);
    throw error;
  }
}

export interface OpenSignalContext {
  /** Who we are: a signal for anyone else is refused. */
  readonly self: PeerId;
  /** The sender as the relay stamped it; must be the signer. */
  readonly relayedFrom: PeerId;
  readonly now: number;
}

/** A signal read and checked for everything but its signature (see readSignal). */
export interface UnverifiedSignal {
  /** What it claims: nothing in it is proven until verifySignal says so. */
  readonly claimed: SignalEnvelope;
  readonly data: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The cheap half of openSignal: decode, check addressing and time, without
 * the signature. What the envelope claims may decide whether it is worth
 * verifying at all (an offer that would be dropped either way is not).
 */
export function readSignal(text: string, context: OpenSignalContext): Result<UnverifiedSignal> {
  if (text.length > MAX_SIGNAL_TEXT_CHARS) return fail(ErrorCode.FRAME_TOO_LARGE, 'signal over the size cap');
  const bytes = fromBase64url(text);
  if (bytes === undefined) return fail(ErrorCode.BAD_FIELD, 'signal is not canonical base64url');
  const decoded = decode(bytes);
  if (!decoded.ok) return decoded;
  const { envelope, data, signature } = decoded.value;
  if (envelope.to !== context.self) return fail(ErrorCode.SIGNAL_MISADDRESSED, 'signal addressed to another peer');
  if (envelope.from !== context.relayedFrom) {
    return fail(ErrorCode.SIGNAL_MISADDRESSED, 'the relay says the signal is from a peer other than its signer');
  }
  if (envelope.expiresAt <= context.now || envelope.expiresAt > context.now + SIGNAL_TTL_MS + MAX_CLOCK_SKEW_MS) {
    return fail(ErrorCode.SIGNAL_STALE, 'signal expired or dated too far ahead');
  }
  return ok({ claimed: envelope, data, signature });
}

/** The costly half of openSignal: the envelope, once its signature verifies for its sender. */
export async function verifySignal(ed: Ed25519, signal: UnverifiedSignal): Promise<Result<SignalEnvelope>> {
  if (!(await verifyFrom(ed, signal.claimed.from, Purpose.SIGNAL, signal.data, signal.signature))) {
    return fail(ErrorCode.BAD_SIGNATURE, 'signal signature does not verify for its sender');
  }
  return ok(signal.claimed);
}

/**
 * The edge parser for signals: decode, check addressing and time, then the
 * signature. Returns the envelope only when it is genuinely from its sender,
 * for us, and current. Replay (a seen sequence number) is the session's to
 * check, since only it knows what it has seen.
 */
export async function openSignal(
  ed: Ed25519,
  text: string,
  context: OpenSignalContext,
): Promise<Result<SignalEnvelope>> {
  const read = readSignal(text, context);
  return read.ok ? verifySignal(ed, read.value) : read;
}

// --- Bodies -----------------------------------------------------------------

/** An ICE candidate as it travels in a signal. */
export interface CandidateBody {
  readonly candidate: string;
  readonly sdpMid: string | null;
  readonly sdpMLineIndex: number | null;
}

/** Strict parse of a candidate body (JSON with exactly these three fields' types). */
export function parseCandidateBody(body: string): Result<CandidateBody> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // Reported without the input.
    return fail(ErrorCode.BAD_FIELD, 'candidate body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null)
    return fail(ErrorCode.BAD_FIELD, 'candidate body is not an object');
  const { candidate, sdpMid, sdpMLineIndex } = parsed as Record<string, unknown>;
  if (typeof candidate !== 'string' || candidate.length > 1024) return fail(ErrorCode.BAD_FIELD, 'bad candidate line');
  if (sdpMid !== null && (typeof sdpMid !== 'string' || sdpMid.length > 64))
    return fail(ErrorCode.BAD_FIELD, 'bad sdpMid');
  if (
    sdpMLineIndex !== null &&
    (!Number.isInteger(sdpMLineIndex) || (sdpMLineIndex as number) < 0 || (sdpMLineIndex as number) > 64)
  ) {
    return fail(ErrorCode.BAD_FIELD, 'bad sdpMLineIndex');
  }
  return ok({ candidate, sdpMid: sdpMid ?? null, sdpMLineIndex: (sdpMLineIndex as number | null | undefined) ?? null });
}

export function encodeCandidateBody(body: CandidateBody): string {
  return JSON.stringify({ candidate: body.candidate, sdpMid: body.sdpMid, sdpMLineIndex: body.sdpMLineIndex });
}

const FINGERPRINT_LINE = /^a=fingerprint:([A-Za-z0-9-]+) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*)\r?$/;

/**
 * The DTLS fingerprint an SDP commits to: exactly one, SHA-256 (32 bytes).
 * Several distinct fingerprints, or another hash, make the SDP unusable for
 * binding a channel to a key.
 */
export function sdpFingerprint(sdp: string): Result<Uint8Array> {
  if (sdp.length > MAX_SIGNAL_BODY_BYTES) return fail(ErrorCode.BAD_SDP, 'SDP over the size cap');
  const found = new Set<string>();
  for (const line of sdp.split('\n')) {
    if (!line.startsWith('a=fingerprint:')) continue;
    const match = FINGERPRINT_LINE.exec(line);
    if (match === null) return fail(ErrorCode.BAD_SDP, 'malformed fingerprint line');
    if ((match[1] ?? '').toLowerCase() !== 'sha-256') return fail(ErrorCode.BAD_SDP, 'fingerprint is not SHA-256');
    found.add((match[2] ?? '').toLowerCase());
  }
  if (found.size !== 1) return fail(ErrorCode.BAD_SDP, 'SDP must carry exactly one DTLS fingerprint');
  const [hex] = [...found];
  const bytes = Uint8Array.from((hex ?? '').split(':').map((h) => parseInt(h, 16)));
  if (bytes.length !== 32) return fail(ErrorCode.BAD_SDP, 'SHA-256 fingerprint must be 32 bytes');
  return ok(bytes);
}
