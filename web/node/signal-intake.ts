/**
 * Signals coming in, whichever way they came (the server, a tab of this
 * browser, the mesh): checked one at a time per sender, in order (an offer
 * before its candidates), then handed to the link of their session, or, for
 * an offer, answered: accepted as a new link, or declined with a signed bye
 * (GLARE when both sides dialled at once and ours wins, BUSY when there is
 * no room or the membership does not want the peer). Sessions that ended
 * here are remembered (a few per peer) so their late signals are dropped
 * quietly rather than counted as stale.
 *
 * What strangers make a tab do is bounded (issue 15, items 2, 8 and 9): a
 * bye costs a signature and goes out under the tab's own rate at the server,
 * so peers the tab has never dealt with (no link held, no channel confirmed)
 * share a small budget of replies (STRANGER_REPLY_RATE); past it their
 * offers are declined without one, and, when nothing else would come of such
 * an offer, dropped before its signature is checked. A stranger's signal
 * leaves no path behind: only a peer we hold a link to has its way back
 * remembered (`arrived`); a bye to a stranger goes back the way its offer
 * came (`reply`).
 */
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode, type Result } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import {
  DEALT_WITH_PEERS,
  SESSION_NONCE_BYTES,
  SIGNAL_TTL_MS,
  STRANGER_REPLY_BURST,
  STRANGER_REPLY_RATE,
} from '../../shared/limits.js';
import {
  readSignal,
  signSignal,
  verifySignal,
  type SignalEnvelope,
  type UnverifiedSignal,
} from '../../shared/protocol/signal.js';
import { RecentSet } from '../../shared/dedup.js';
import { RecentMap } from '../../shared/recent-map.js';
import { Budget, type Rate } from './budgets.js';
import type { NodeCore } from './core.js';
import type { LinkContext, LinkState } from './link.js';
import type { Neighbours } from './neighbours.js';
import {
  ENDED_SESSION_PEERS,
  ENDED_SESSIONS_PER_PEER,
  MAX_QUEUED_SIGNALS_PER_PEER,
  newLimitCounters,
  type LimitCounters,
} from './options.js';
import type { Via } from './paths.js';

/** Replies to strangers' offers (STRANGER_REPLY_RATE); the bench switches the budget off with Infinity. */
export const DEFAULT_STRANGER_REPLIES: Rate = Object.freeze({
  rate: STRANGER_REPLY_RATE,
  burst: STRANGER_REPLY_BURST,
});

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
  /** An authenticated signal for a link came from `peer` this way (the link's signals follow it back). */
  arrived(peer: PeerId, via: Via): void;
  /** Send a signed reply to `to` the way its signal came (`via`), keeping nothing. */
  reply(to: PeerId, via: Via, payload: string): void;
}

export class SignalIntake {
  private readonly queues = new Map<PeerId, { chain: Promise<void>; size: number }>();
  private readonly ended = new RecentMap<PeerId, Uint8Array[]>(ENDED_SESSION_PEERS);
  /** Peers we have had a confirmed channel with: their offers are always answered. */
  private readonly dealtWith = new RecentSet(DEALT_WITH_PEERS);
  private readonly strangerReplies: Budget;

  constructor(
    private readonly core: NodeCore,
    private readonly host: SignalIntakeHost,
    private readonly tally: LimitCounters = newLimitCounters(),
    strangerReplies: Rate = DEFAULT_STRANGER_REPLIES,
  ) {
    this.strangerReplies = new Budget(strangerReplies, core.now());
  }

  /** A channel with `peer` was confirmed: from now on it is no stranger. */
  connected(peer: PeerId): void {
    this.dealtWith.add(peer);
  }

  /**
   * A signal from `from` (claimed: checked before anything else), come by
   * `via`. Resolves once it has been handled or dropped; never rejects.
   */
  enqueue(from: PeerId, payload: string, via: Via): Promise<void> {
    const queue = this.queues.get(from) ?? { chain: Promise.resolve(), size: 0 };
    if (queue.size >= MAX_QUEUED_SIGNALS_PER_PEER) {
      this.core.problem(ErrorCode.RATE_LIMITED, 'too many signals queued from one peer; dropped', from);
      return Promise.resolve();
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
    return queue.chain;
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
    const read = readSignal(payload, { self, relayedFrom: from, now: this.core.now() });
    if (!read.ok) {
      this.core.problem(read.error.code, read.error.message, from);
      return;
    }
    const screened = this.screen(read.value);
    if (screened === 'drop') {
      this.tally.unverifiedOffers++;
      this.tally.unansweredDeclines++;
      return;
    }
    const opened = await verifySignal(this.core.ed25519, read.value);
    if (!opened.ok) {
      this.core.problem(opened.error.code, opened.error.message, from);
      return;
    }
    const envelope = opened.value;
    if (envelope.kind === 'offer') {
      await this.offer(envelope, via, screened === 'reply');
      return;
    }
    const link = this.host.links.get(envelope.from);
    if (link !== undefined && bytesEqual(link.session, envelope.session)) {
      // Authenticated, and for the link: what it sends goes back the way this came.
      this.host.arrived(from, via);
      link.handleSignal(envelope);
    } else if (envelope.kind !== 'bye' && !this.sessionEnded(envelope.from, envelope.session))
      this.core.problem(ErrorCode.SIGNAL_STALE, 'signal for no session in progress', from);
  }

  /**
   * Before its signature is checked: an offer from a stranger that, by what
   * it claims, would be declined is given its reply from the budget now
   * ('reply'), so that offers checked at once do not all count on the same
   * reply; with the budget spent, nothing would come of it whatever its
   * signature, and it is dropped unchecked ('drop'). Everything else is
   * checked. A false claim affects only the claimed sender's own offer, and
   * the relay vouches for the sender.
   */
  private screen(signal: UnverifiedSignal): 'check' | 'reply' | 'drop' {
    const offer = signal.claimed;
    if (offer.kind !== 'offer' || this.known(offer.from) || this.sessionEnded(offer.from, offer.session))
      return 'check';
    const declined = this.host.links.open() >= this.host.maxLinks || !this.host.membership.acceptsInbound(offer.from);
    if (!declined) return 'check';
    return this.strangerReplies.take(this.core.now()) ? 'reply' : 'drop';
  }

  /** A peer we hold a link to, or have had a confirmed channel with. */
  private known(peer: PeerId): boolean {
    return this.host.links.get(peer) !== undefined || this.dealtWith.has(peer);
  }

  /** An authenticated offer; `replyTaken` when its reply, should it be declined, was taken from the budget already. */
  private async offer(offer: SignalEnvelope, via: Via, replyTaken: boolean): Promise<void> {
    // Everything after this await runs without yielding, so no dial can slip
    // in between the decision and storing the link.
    const context = await this.host.linkContext();
    // Closed while the ICE servers were awaited: no new link on a closed node.
    if (this.core.closed()) return;
    const existing = this.host.links.get(offer.from);
    if (existing !== undefined) {
      if (bytesEqual(existing.session, offer.session)) {
        // The same session again: a re-sent offer, or a replay the link's sequence check refuses.
        this.host.arrived(offer.from, via);
        existing.handleSignal(offer);
        return;
      }
      if (existing.state !== 'connected' && existing.initiator && this.core.identity.id < offer.from) {
        // Both dialled at once: the lower ID's attempt wins, and we are lower.
        // If ours has heard nothing, it may have gone to an instance of the
        // peer that has left; send it again, to the one that just dialled us.
        this.host.arrived(offer.from, via);
        existing.resend();
        await this.decline(offer, via, 'GLARE', replyTaken);
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
      await this.decline(offer, via, 'BUSY', replyTaken);
      return;
    }
    const answered = this.host.links.answer(context, offer);
    if (!answered.ok) {
      this.core.problem(answered.error.code, answered.error.message, offer.from);
      await this.decline(offer, via, answered.error.code, replyTaken);
      return;
    }
    // Held now: its answer and candidates go back the way the offer came.
    this.host.arrived(offer.from, via);
    // The new link is held already, so the old one's close does not dial this peer again.
    existing?.close(undefined, existing.state === 'connected' ? 'the peer started a new session' : 'superseded');
  }

  /** Answer an offer with a signed bye, the way it came; to a stranger, only within the reply budget. */
  private async decline(offer: SignalEnvelope, via: Via, reason: string, replyTaken: boolean): Promise<void> {
    this.endSession(offer.from, offer.session);
    if (!replyTaken && !this.known(offer.from) && !this.strangerReplies.take(this.core.now())) {
      this.tally.unansweredDeclines++;
      return;
    }
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
      this.host.reply(offer.from, via, payload);
    } catch (error) {
      this.core.logger.error('could not decline an offer', { error });
    }
  }
}
