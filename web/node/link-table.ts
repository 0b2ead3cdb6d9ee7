/**
 * The node's links: at most one PeerLink per peer (an attempt under way or a
 * confirmed channel). A new session from a peer replaces its link here
 * before the old one closes, so the old one's close handler can tell it was
 * superseded ({@link LinkTable.release}).
 */
import { ErrorCode, TabmeshError, unlessGone, type Result } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { SignalEnvelope } from '../../shared/protocol/signal.js';
import { PeerLink, type LinkContext, type LinkEvents, type LinkState } from './link.js';
import type { LinkInfo, Logger } from './options.js';
import type { WarmTransport } from './warm-transport.js';

export class LinkTable {
  private readonly links = new Map<PeerId, PeerLink>();

  constructor(
    private readonly events: LinkEvents,
    private readonly logger: Logger,
  ) {}

  /** Start and hold an attempt at `peer`, on a prepared transport if one is given. */
  initiate(context: LinkContext, peer: PeerId, warm: WarmTransport | undefined): PeerLink {
    const link = PeerLink.initiate(context, this.events, peer, warm);
    this.links.set(peer, link);
    return link;
  }

  /** Answer an authenticated offer with a new link, held in place of any before it; fails for an unusable offer. */
  answer(context: LinkContext, offer: SignalEnvelope): Result<PeerLink> {
    const accepted = PeerLink.accept(context, this.events, offer);
    if (accepted.ok) this.links.set(offer.from, accepted.value);
    return accepted;
  }

  get(peer: PeerId): PeerLink | undefined {
    return this.links.get(peer);
  }

  stateOf(peer: PeerId): LinkState | undefined {
    return this.links.get(peer)?.state;
  }

  /** A link closed: forget it if it is still the one held for its peer (true), not if another replaced it. */
  release(link: PeerLink): boolean {
    if (this.links.get(link.peer) !== link) return false;
    this.links.delete(link.peer);
    return true;
  }

  /** Peers with open, confirmed channels. */
  connected(): PeerId[] {
    return [...this.links.values()].filter((l) => l.state === 'connected').map((l) => l.peer);
  }

  /** Links not closed: attempts in progress and confirmed channels. */
  open(): number {
    let count = 0;
    for (const link of this.links.values()) if (link.state !== 'closed') count++;
    return count;
  }

  /** The confirmed link to `peer`; throws NOT_CONNECTED when there is none. */
  confirmed(peer: PeerId): PeerLink {
    const link = this.links.get(peer);
    if (link?.state !== 'connected') throw new TabmeshError(ErrorCode.NOT_CONNECTED, 'no open channel to that peer');
    return link;
  }

  /** Queue a frame to a neighbour; one whose channel closed meanwhile simply misses it. */
  sendFrame(peer: PeerId, frame: Uint8Array): void {
    this.links
      .get(peer)
      ?.sendFrame(frame)
      .catch(unlessGone((error) => this.logger.warn('a frame could not be sent', { peer, error })));
  }

  /** Close the channel to a neighbour that broke the protocol. */
  cutOff(peer: PeerId, message: string): void {
    this.links.get(peer)?.close(ErrorCode.PROTOCOL_VIOLATION, message);
  }

  /** Each link's figures, for `links()`. */
  info(): LinkInfo[] {
    return [...this.links.values()].map((l) => ({
      peer: l.peer,
      state: l.state,
      initiator: l.initiator,
      bytesSent: l.bytesSent,
      bytesReceived: l.bytesReceived,
      connectedAt: l.connectedAt,
      rttMs: l.rttMs,
      path: l.path,
      via: l.via,
      queuedBytes: l.queuedBytes,
    }));
  }

  /** Re-read every connected link's round-trip time and path now. */
  async measure(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.measure()));
  }

  /** Close every link (the node is closing). */
  closeAll(reason: string): void {
    for (const link of [...this.links.values()]) link.close(undefined, reason);
  }
}
