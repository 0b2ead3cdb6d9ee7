/**
 * The confirmation both sides exchange over a newly opened channel before it
 * counts: a statement signed for purpose tabmesh/confirm/1, naming both peer
 * IDs, the session, both nonces and both DTLS fingerprints taken from the
 * signed SDPs. A channel whose far end holds another DTLS key than the one
 * the peer signed for, or that belongs to another session, fails here.
 *
 * Until the peer's confirmation has come, any other frame is a violation.
 * The peer counts the channel as connected once it has checked ours and may
 * start sending at once; what comes behind its confirmation waits, bounded by
 * MAX_FRAMES_BEFORE_CONFIRMED, until both directions are done.
 *
 * It knows nothing of transports or timers: the link tells it what the
 * signed SDPs said and hands it the channel's frames, and learns the outcome
 * through a {@link ConfirmationPort}.
 */
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, verifyFrom, type Identity } from '../../shared/identity/signing.js';
import { MAX_FRAMES_BEFORE_CONFIRMED } from '../../shared/limits.js';
import {
  confirmData,
  encodeConfirm,
  type ChannelFrame,
  type ConfirmBody,
  type ConfirmFrame,
} from '../../shared/protocol/channel.js';

/** Who confirms what to whom: fixed for a link's lifetime. */
export interface ConfirmationParties {
  readonly identity: Identity;
  readonly ed25519: Ed25519;
  readonly peer: PeerId;
  /** Whether we sent the offer: the initiator's nonce and fingerprint come first in what is signed. */
  readonly initiator: boolean;
  readonly session: Uint8Array;
  readonly localNonce: Uint8Array;
}

/** How the confirmation reaches its link. */
export interface ConfirmationPort {
  /**
   * Put our confirmation on the channel. Resolves once it is handed over, or
   * could not be (the channel is closing then, and reporting that is the
   * link's): it does not reject.
   */
  send(frame: Uint8Array): Promise<void>;
  /** Ours is sent and the peer's checked out. `held` came behind the peer's, oldest first. */
  confirmed(held: readonly ChannelFrame[]): void;
  /** The handshake failed (CONFIRM_FAILED) or the peer broke it (PROTOCOL_VIOLATION). Called at most once. */
  failed(code: ErrorCode, message: string): void;
}

/**
 * For a prepared signature nobody awaits yet: its rejection surfaces where it
 * is awaited, in {@link ChannelConfirmation.start}, which fails the
 * handshake. Unawaited (the link closed first, or the SDPs changed and a new
 * signature was made), it is not needed, so its failure is not either.
 */
function surfacesWhereAwaited(): void {
  // See start().
}

function sameBody(a: ConfirmBody, b: ConfirmBody): boolean {
  return (
    a.from === b.from &&
    a.to === b.to &&
    bytesEqual(a.session, b.session) &&
    bytesEqual(a.initiatorNonce, b.initiatorNonce) &&
    bytesEqual(a.responderNonce, b.responderNonce) &&
    bytesEqual(a.initiatorFingerprint, b.initiatorFingerprint) &&
    bytesEqual(a.responderFingerprint, b.responderFingerprint)
  );
}

export class ChannelConfirmation {
  private remote: { readonly nonce: Uint8Array; readonly fingerprint: Uint8Array } | undefined;
  private localFingerprint: Uint8Array | undefined;
  /** Our confirmation, signed as soon as both signed SDPs are known, so the channel's opening does not wait on a signature. */
  private prepared: { readonly data: Uint8Array; readonly signature: Promise<Uint8Array> } | undefined;
  private sent = false;
  /** The peer's confirmation has come (it may still be being checked). */
  private arrived = false;
  /** The peer's confirmation has come and checked out. */
  private checked = false;
  /** Confirmed, failed or stopped: nothing more is held or reported. */
  private over = false;
  /** Frames that came behind the peer's confirmation (at most MAX_FRAMES_BEFORE_CONFIRMED). */
  private readonly held: ChannelFrame[] = [];

  constructor(
    private readonly parties: ConfirmationParties,
    private readonly port: ConfirmationPort,
  ) {}

  /** The nonce of the peer's signals, once its offer or answer has come. */
  get remoteNonce(): Uint8Array | undefined {
    return this.remote?.nonce;
  }

  /** The fingerprint in the peer's signed offer or answer, once it has come. */
  get remoteFingerprint(): Uint8Array | undefined {
    return this.remote?.fingerprint;
  }

  /** The fingerprint in the SDP we signed (our offer or answer). */
  learnLocal(fingerprint: Uint8Array): void {
    this.localFingerprint = fingerprint;
    this.prepare();
  }

  /** The peer's nonce, and the fingerprint in the SDP it signed (its offer or answer). */
  learnRemote(nonce: Uint8Array, fingerprint: Uint8Array): void {
    this.remote = { nonce, fingerprint };
    this.prepare();
  }

  /** The channel has opened: send our confirmation, once. */
  async start(): Promise<void> {
    const body = this.expected(this.parties.identity.id, this.parties.peer);
    if (body === undefined) {
      this.fail(ErrorCode.CONFIRM_FAILED, 'channel opened before both signed SDPs were known');
      return;
    }
    const data = confirmData(body);
    const prepared = this.prepared;
    let signature: Uint8Array;
    try {
      signature = await (prepared !== undefined && bytesEqual(prepared.data, data)
        ? prepared.signature
        : this.parties.identity.sign(Purpose.CONFIRM, data));
    } catch {
      this.fail(ErrorCode.CONFIRM_FAILED, 'our confirmation could not be signed');
      return;
    }
    if (this.over) return;
    await this.port.send(encodeConfirm(body, signature));
    this.sent = true;
    this.settle();
  }

  /** A frame from the channel while the link is not connected yet. */
  receive(frame: ChannelFrame): void {
    if (this.over) return;
    if (frame.type === 'confirm' && !this.arrived) {
      this.arrived = true;
      void this.check(frame);
    } else if (!this.arrived) {
      this.fail(ErrorCode.PROTOCOL_VIOLATION, `data before the channel was confirmed (a ${frame.type} frame)`);
    } else if (this.held.length >= MAX_FRAMES_BEFORE_CONFIRMED) {
      this.fail(ErrorCode.PROTOCOL_VIOLATION, 'too many frames while the channel was being confirmed');
    } else {
      // The peer has checked our confirmation and counts the channel as
      // connected; its frames wait for our check of its confirmation.
      this.held.push(frame);
    }
  }

  /** The link has closed: drop what is held, report nothing more. */
  stop(): void {
    this.over = true;
    this.held.length = 0;
  }

  /** What `from` must sign to `to`, once both nonces and both fingerprints are known. */
  private expected(from: PeerId, to: PeerId): ConfirmBody | undefined {
    const { remote, localFingerprint } = this;
    if (remote === undefined || localFingerprint === undefined) return undefined;
    const { initiator, session, localNonce } = this.parties;
    return {
      from,
      to,
      session,
      initiatorNonce: initiator ? localNonce : remote.nonce,
      responderNonce: initiator ? remote.nonce : localNonce,
      initiatorFingerprint: initiator ? localFingerprint : remote.fingerprint,
      responderFingerprint: initiator ? remote.fingerprint : localFingerprint,
    };
  }

  private prepare(): void {
    if (this.prepared !== undefined) return;
    const body = this.expected(this.parties.identity.id, this.parties.peer);
    if (body === undefined) return;
    const data = confirmData(body);
    const signature = this.parties.identity.sign(Purpose.CONFIRM, data);
    signature.catch(surfacesWhereAwaited);
    this.prepared = { data, signature };
  }

  private async check(frame: ConfirmFrame): Promise<void> {
    const expected = this.expected(this.parties.peer, this.parties.identity.id);
    if (expected === undefined || !sameBody(frame.body, expected)) {
      this.fail(ErrorCode.CONFIRM_FAILED, 'confirmation names other keys, nonces or fingerprints');
      return;
    }
    let valid: boolean;
    try {
      valid = await verifyFrom(this.parties.ed25519, this.parties.peer, Purpose.CONFIRM, frame.data, frame.signature);
    } catch {
      // A verifier that throws has refused the signature (as verifyDetached treats a backend's throw).
      valid = false;
    }
    if (!valid) {
      this.fail(ErrorCode.CONFIRM_FAILED, 'confirmation signature does not verify');
      return;
    }
    this.checked = true;
    this.settle();
  }

  private settle(): void {
    if (this.over || !this.sent || !this.checked) return;
    this.over = true;
    this.port.confirmed(this.held.splice(0));
  }

  private fail(code: ErrorCode, message: string): void {
    if (this.over) return;
    this.stop();
    this.port.failed(code, message);
  }
}
