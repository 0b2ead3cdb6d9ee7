/**
 * The signals of one session going out: each signed (tabmesh/signal/1) with
 * the session, our nonce and the next sequence number, and sent in order (an
 * offer before its candidates, though signing is asynchronous). What the
 * attempt signalled is kept, up to MAX_RESENT_SIGNALS, so it can all be sent
 * again after a change of path.
 */
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import { SIGNAL_TTL_MS } from '../../shared/limits.js';
import { signSignal, type SignalKind } from '../../shared/protocol/signal.js';

/** Signals one attempt keeps for re-sending (an offer and its candidates are a handful). */
export const MAX_RESENT_SIGNALS = 32;

export interface SessionSignalsPort {
  readonly identity: Identity;
  readonly peer: PeerId;
  readonly session: Uint8Array;
  /** Our nonce for this session. */
  readonly nonce: Uint8Array;
  now(): number;
  /** Deliver a signed signal (through a server, a tab of this browser, or the mesh). */
  deliver(payload: string): void;
}

/** For the chain that only keeps signals in order: each signal's own promise, returned to its sender, carries its failure. */
function leftToTheSender(): void {
  // The chain goes on after a failed signal.
}

export class SessionSignals {
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly kept: { readonly kind: SignalKind; readonly body: string }[] = [];

  constructor(private readonly port: SessionSignalsPort) {}

  /** Sign and send a signal of the attempt (kept for re-sending); rejects if it could not be signed. */
  send(kind: SignalKind, body: string): Promise<void> {
    if (this.kept.length < MAX_RESENT_SIGNALS) this.kept.push({ kind, body });
    return this.sendOnce(kind, body);
  }

  /** Sign and send a signal that is not part of the attempt's offer or answer (a bye). */
  sendOnce(kind: SignalKind, body: string): Promise<void> {
    const seq = this.seq++;
    const job = this.chain.then(async () => {
      const payload = await signSignal(this.port.identity, {
        to: this.port.peer,
        session: this.port.session,
        nonce: this.port.nonce,
        seq,
        kind,
        expiresAt: this.port.now() + SIGNAL_TTL_MS,
        body,
      });
      this.port.deliver(payload);
    });
    this.chain = job.catch(leftToTheSender);
    return job;
  }

  /** Send every kept signal again, with fresh sequence numbers; `report` hears of any that fails. */
  resendAll(report: (error: unknown) => void): void {
    for (const { kind, body } of this.kept) this.sendOnce(kind, body).catch(report);
  }
}
