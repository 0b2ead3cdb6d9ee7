/**
 * Signals coming in, whichever way they came (the server, a tab of this
 * browser, the mesh): checked one at a time per sender, in order (an offer
 * before its candidates), then handed to the link of their session, or, for
 * an offer, answered: accepted as a new link, or declined with a signed bye
 * (GLARE when both sides dialled at once and ours wins, BUSY when there is
 * no room or the membership does not want the peer). Sessions that ended
 * here are remembered (a few per peer) so their late signals are dropped
 * quietly rather than counted as stale.
 */
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode, type Result } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { SESSION_NONCE_BYTES, SIGNAL_TTL_MS } from '../../shared/limits.js';
import { openSignal, signSignal, type SignalEnvelope } from '../../shared/protocol/signal.js';
import { RecentMap } from '../../shared/recent-map.js';
import type { NodeCore } from './core.js';
import type { LinkContext, LinkState } from './link.js';
import type { Neighbours } from './neighbours.js';
import { ENDED_SESSION_PEERS, ENDED_SESSIONS_PER_PEER, MAX_QUEUED_SIGNALS_PER_PEER } from './options.js';
import type { Via } from './paths.js';

/** What the intake needs of a link. */
export interface IntakeLink {
  readonly session: Uint8Array;
  readonly state: LinkState;
  readonly initiator: boolean;
  /** An authenticated signal of this link's session. */
  handleSignal(envelope: SignalEnvelope): void;
  /** Send this attempt's signals again, if it has heard nothing. */
  resend(): void;
  close(code: ErrorCode | undefined, reason: string): void;
}

export interface SignalIntakeHost {
  readonly links: {
    /** The link held for `peer`, if any. */
    get(peer: PeerId): IntakeLink | undefined;
    /** Links not closed: attempts in progress and confirmed channels. */
    open(): number;
    /** Make and hold a link answering `offer`, in place of its peer's; fails for an unusable offer. */
    answer(context: LinkContext, offer: SignalEnvelope): Result<IntakeLink>;
  };
  /** Most links allowed at once, handshakes included. */
  readonly maxLinks: number;
  readonly membership: Pick<Neighbours, 'acceptsInbound'>;
  /** What a new link is made with (its ICE servers fetched or waited for). */
  linkContext(): Promise<LinkContext>;
  /** An authenticated signal came from `peer` this way (replies follow it back). */
  arrived(peer: PeerId, via: Via): void;
  /** Send a signed signal to `to`, the way its peer's last signal came. */
  sendSignal(to: PeerId, payload: string): void;
}

export class SignalIntake {
  private readonly queues = new Map<PeerId, { chain: Promise<void>; size: number }>();
  private readonly ended = new RecentMap<PeerId, Uint8Array[]>(ENDED_SESSION_PEERS);

  constructor(
    private readonly core: NodeCore,
    private readonly host: SignalIntakeHost,
  ) {}

  /** A signal from `from` (claimed: checked before anything else), come by `via`. */
  enqueue(from: PeerId, payload: string, via: Via): void {
    const queue = this.queues.get(from) ?? { chain: Promise.resolve(), size: 0 };
    if (queue.size >= MAX_QUEUED_SIGNALS_PER_PEER) {
      this.core.problem(ErrorCode.RATE_LIMITED, 'too many signals queued from one peer; dropped', from);
      return;
    }
    queue.size++;
    queue.chain = queue.chain
      .then(() => this.process(from, payload, via))
      .catch((error: unknown) => this.core.logger.error('signal handling failed', { error }))
      .finally(() => {
        queue.size--;
        if (queue.size === 0 && this.queues.get(from) === queue) this.queues.delete(from);
      });
    this.queues.set(from, queue);
  }

  /** Remember that a session with `peer` ended (closed, replaced, or declined). */
  endSession(peer: PeerId, session: Uint8Array): void {
    const sessions = this.ended.get(peer) ?? [];
    sessions.push(session);
    if (sessions.length > ENDED_SESSIONS_PER_PEER) sessions.shift();
    this.ended.set(peer, sessions);
  }

  private sessionEnded(peer: PeerId, session: Uint8Array): boolean {
    return (this.ended.get(peer) ?? []).some((ended) => bytesEqual(ended, session));
  }

  private async process(from: PeerId, payload: string, via: Via): Promise<void> {
    if (this.core.closed()) return;
    const self = this.core.identity.id;
    const opened = await openSignal(this.core.ed25519, payload, { self, relayedFrom: from, now: this.core.now() });
    if (!opened.ok) {
      this.core.problem(opened.error.code, opened.error.message, from);
      return;
    }
    const envelope = opened.value;
    // Authenticated: what we send back for it goes the way it came.
    this.host.arrived(from, via);
    if (envelope.kind === 'offer') {
      await this.offer(envelope);
      return;
    }
    const link = this.host.links.get(envelope.from);
    if (link !== undefined && bytesEqual(link.session, envelope.session)) link.handleSignal(envelope);
    else if (envelope.kind !== 'bye' && !this.sessionEnded(envelope.from, envelope.session))
      this.core.problem(ErrorCode.SIGNAL_STALE, 'signal for no session in progress', from);
  }

  private async offer(offer: SignalEnvelope): Promise<void> {
    // Everything after this await runs without yielding, so no dial can slip
    // in between the decision and storing the link.
    const context = await this.host.linkContext();
    // Closed while the ICE servers were awaited: no new link on a closed node.
    if (this.core.closed()) return;
    const existing = this.host.links.get(offer.from);
    if (existing !== undefined) {
      if (bytesEqual(existing.session, offer.session)) {
        // The same session again: a re-sent offer, or a replay the link's sequence check refuses.
        existing.handleSignal(offer);
        return;
      }
      if (existing.state !== 'connected' && existing.initiator && this.core.identity.id < offer.from) {
        // Both dialled at once: the lower ID's attempt wins, and we are lower.
        // If ours has heard nothing, it may have gone to an instance of the
        // peer that has left; send it again, to the one that just dialled us.
        existing.resend();
        void this.decline(offer, 'GLARE');
        return;
      }
    }
    // A late copy of an offer (re-sent on another path) whose session ended
    // here, declined or closed: answering it would replace the link held now.
    if (this.sessionEnded(offer.from, offer.session)) return;
    // A peer we hold a link to is starting over (it reloaded): the new session replaces the old.
    const others = this.host.links.open() - (existing === undefined ? 0 : 1);
    const wanted = existing !== undefined || this.host.membership.acceptsInbound(offer.from);
    if (!wanted || others >= this.host.maxLinks) {
      void this.decline(offer, 'BUSY');
      return;
    }
    const answered = this.host.links.answer(context, offer);
    if (!answered.ok) {
      this.core.problem(answered.error.code, answered.error.message, offer.from);
      void this.decline(offer, answered.error.code);
      return;
    }
    // The new link is held already, so the old one's close does not dial this peer again.
    existing?.close(undefined, existing.state === 'connected' ? 'the peer started a new session' : 'superseded');
  }

  /** Answer an offer with a signed bye. */
  private async decline(offer: SignalEnvelope, reason: string): Promise<void> {
    this.endSession(offer.from, offer.session);
    try {
      const payload = await signSignal(this.core.identity, {
        to: offer.from,
        session: offer.session,
        nonce: crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES)),
        seq: 0,
        kind: 'bye',
        expiresAt: this.core.now() + SIGNAL_TTL_MS,
        body: reason,
      });
      this.host.sendSignal(offer.from, payload);
    } catch (error) {
      this.core.logger.error('could not decline an offer', { error });
    }
  }
}
