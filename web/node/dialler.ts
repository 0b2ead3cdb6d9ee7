/**
 * Dialling: joining the mesh through a contact when the node has no
 * neighbours (bootstrap; the cache's anchors come first), starting the
 * attempts the membership asks for, backing off from peers that could not be
 * reached, keeping one prepared transport for the next dial, the
 * application's `connect()` calls waiting on their peer, and the
 * reachability tests the peer cache asks for before it evicts a tried peer
 * (a dial the membership did not ask for: if the channel comes up, the
 * membership closes it, and the peer has proved itself).
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { MAX_CACHED_RECORDS } from '../../shared/limits.js';
import { RecentMap } from '../../shared/recent-map.js';
import type { NodeCore } from './core.js';
import { CONNECT_TIMEOUT_MS, type LinkContext } from './link.js';
import type { LinkTable } from './link-table.js';
import type { Neighbours } from './neighbours.js';
import type { SignalPaths } from './paths.js';
import type { PeerBook } from './peer-book.js';
import { DIAL_RETRY_BASE_MS, DIAL_RETRY_MAX_MS } from './options.js';
import { WARM_TRANSPORT_MAX_AGE_MS, WarmTransport } from './warm-transport.js';

/** Peers whose back-off is remembered (the cache's peers, and as many again that left it). */
export const MAX_BACKOFF_PEERS = 2 * MAX_CACHED_RECORDS;

export interface DiallerHost {
  /** The node's links: attempts are started and held there. */
  readonly links: Pick<LinkTable, 'stateOf' | 'open' | 'initiate'>;
  /** Most links allowed at once, handshakes included. */
  readonly maxLinks: number;
  readonly membership: Pick<Neighbours, 'active' | 'join' | 'connectTo' | 'linkUp' | 'connectFailed'>;
  /**
   * Cached peers: contacts in order, untried ones forgotten when an attempt
   * at them goes nowhere, and the reachability tests of tried ones.
   */
  readonly book: Pick<
    PeerBook,
    | 'contacts'
    | 'has'
    | 'forgetUntried'
    | 'intake'
    | 'dueReachabilityTest'
    | 'testStarted'
    | 'reachable'
    | 'unreachable'
  >;
  /** Which way each attempt signals, and routes learned for the next. */
  readonly paths: Pick<SignalPaths, 'hint' | 'begin'>;
  /** Tabs of this browser in reach. */
  localPeers(): PeerId[];
  /** Whether the signaling server can carry a signal now. */
  canSignal(): boolean;
  /** Whether the first connection to the signaling server is still being made. */
  signalingStarting(): boolean;
  /** What a new link is made with (its ICE servers fetched or waited for). */
  linkContext(): Promise<LinkContext>;
}

/** What the dialler needs of a link that ended. */
export interface EndedLink {
  readonly peer: PeerId;
  readonly initiator: boolean;
  /** The reason in the peer's bye, when it declined (GLARE: its own attempt goes on instead). */
  readonly declined: string | undefined;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class Dialler {
  /** Peers whose last attempts failed: when we may try again, and how many failures. */
  private readonly retryAfter = new RecentMap<PeerId, { readonly at: number; readonly failures: number }>(
    MAX_BACKOFF_PEERS,
  );
  /** Callers of connect() waiting on a peer. */
  private readonly waiters = new Map<PeerId, Waiter[]>();
  /** One initiating transport prepared ahead, so the next dial skips making an offer. */
  private warm: WarmTransport | undefined;
  /** Whether a server's welcome (with its sample of peers) has arrived. */
  private welcomed = false;
  /** Whether signaling has been lost or failed at least once (then same-browser tabs are contacts while it retries). */
  private signalingFailedOnce = false;

  constructor(
    private readonly core: NodeCore,
    private readonly host: DiallerHost,
  ) {}

  /** Prepare a transport for the first dial, unless one is under way already. */
  prepare(): void {
    this.host.linkContext().then(
      (context) => {
        if (!this.core.closed() && this.host.links.open() === 0 && this.warm === undefined) {
          this.warm = new WarmTransport(context.transport, context.iceServers, this.core.now());
        }
      },
      // The first dial asks again, and reports it there.
      (error: unknown) => this.core.logger.warn('could not prepare a transport: no ICE servers', { error }),
    );
  }

  /**
   * The server's welcome, with its sample of peers. Peers we already know (a
   * returning tab) are dialled at once; the sample is verified meanwhile and
   * tops up the rest.
   */
  async welcome(url: string, records: readonly string[]): Promise<void> {
    this.welcomed = true;
    this.bootstrap();
    await this.host.book.intake(records, { introducer: `signaling:${url}`, label: 'record from the signaling server' });
    this.bootstrap();
  }

  /** A tab of this browser announced itself: a contact when nobody else is in reach. */
  async localRecord(text: string): Promise<void> {
    await this.host.book.intake([text], { introducer: 'local', label: 'introduced record' });
    this.bootstrap();
  }

  /** The signaling server was lost or could not be reached. */
  signalingLost(): void {
    this.signalingFailedOnce = true;
  }

  /**
   * With no neighbours and no attempt under way, join the mesh through a
   * contact. With the server: former neighbours first (most recent first),
   * then any peer we know, tabs of this browser last (two tabs that only
   * joined each other would be a mesh of their own). Without it: tabs of
   * this browser, the only ones still in reach. While the first connection to
   * the server is still being made, wait for it. Membership tries the
   * contacts in turn and keeps the active view full from then on.
   */
  bootstrap(): void {
    if (this.core.closed() || this.host.membership.active().length > 0 || this.host.links.open() > 0) return;
    const now = this.core.now();
    const usable = (peer: PeerId): boolean =>
      peer !== this.core.identity.id && (this.retryAfter.get(peer)?.at ?? 0) <= now;
    const local = this.host.localPeers().filter((peer) => this.host.book.has(peer));
    let contacts: PeerId[];
    if (this.host.canSignal()) {
      const known = this.host.book.contacts().filter((peer) => !local.includes(peer) && usable(peer));
      // Nobody else known yet: the server's sample is on its way.
      if (known.length === 0 && !this.welcomed) return;
      contacts = [...known, ...local.filter(usable)];
    } else {
      if (this.host.signalingStarting() && !this.signalingFailedOnce) return;
      contacts = local.filter(usable);
    }
    if (contacts.length > 0) this.host.membership.join(contacts);
  }

  /** The membership wants a link to `peer`; `route` is a way through the mesh for its signals. */
  dial(peer: PeerId, route: readonly PeerId[]): void {
    this.host.paths.hint(peer, route);
    const state = this.host.links.stateOf(peer);
    if (state === 'connected') {
      queueMicrotask(() => this.host.membership.linkUp(peer, true));
      return;
    }
    if (state !== undefined) return; // Under way: its outcome is reported when it comes.
    if (!this.roomFor(peer)) return;
    this.host.linkContext().then(
      (context) => {
        if (this.core.closed()) return;
        // The ICE servers may have been fetched: the peer may have dialled us
        // meanwhile, and other dials may have taken the room.
        const current = this.host.links.stateOf(peer);
        if (current === 'connected') this.host.membership.linkUp(peer, true);
        else if (current === undefined && this.roomFor(peer)) this.initiate(context, peer);
      },
      // The application's iceServers function failed: this attempt cannot start.
      (error: unknown) => {
        this.core.logger.warn('could not get ICE servers for a connection', { peer, error });
        if (this.core.closed() || this.host.links.stateOf(peer) !== undefined) return;
        this.host.membership.connectFailed(peer);
        const reason = error instanceof Error ? error.message : 'unknown error';
        this.settle(peer, new TabmeshError(ErrorCode.CONNECT_FAILED, `no ICE servers: ${reason}`));
      },
    );
  }

  /** Whether another link fits; if not, the attempt at `peer` fails at once (membership and connect() told). */
  private roomFor(peer: PeerId): boolean {
    if (this.host.links.open() < this.host.maxLinks) return true;
    queueMicrotask(() => this.host.membership.connectFailed(peer));
    this.settle(peer, new TabmeshError(ErrorCode.CONNECT_FAILED, 'no room for another channel just now'));
    return false;
  }

  /** Start an attempt at `peer`, on the prepared transport if it is fresh, and choose its signal path. */
  private initiate(context: LinkContext, peer: PeerId): void {
    const link = this.host.links.initiate(context, peer, this.takeWarm());
    // Chosen in the same tick: the link's first signal is signed, so sent, only after this.
    this.host.paths.begin(peer, {
      stillWaiting: () => link.state === 'signaling',
      heard: () => link.heard,
      resend: () => link.resendAll(),
      giveUp: () => link.close(ErrorCode.CONNECT_FAILED, 'no answer through the mesh, and no signaling server'),
    });
  }

  /**
   * The application's connect(): resolves once `peer` is in our active view
   * over a confirmed channel (see {@link settleConnected}), rejects when the
   * attempt fails, or CONNECT_TIMEOUT_MS after this call (each call has its
   * own deadline, however many wait on the peer).
   */
  connect(peer: PeerId, route: readonly PeerId[]): Promise<void> {
    const waiting = new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(peer) ?? [];
      const timer = setTimeout(() => {
        const current = this.waiters.get(peer) ?? [];
        const others = current.filter((waiter) => waiter !== own);
        if (others.length > 0) this.waiters.set(peer, others);
        else this.waiters.delete(peer);
        reject(new TabmeshError(ErrorCode.CONNECT_FAILED, 'not connected in time'));
      }, CONNECT_TIMEOUT_MS);
      const own: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      list.push(own);
      this.waiters.set(peer, list);
    });
    // The peer joins our active view (a high-priority request, making room if
    // need be), so both sides keep the channel rather than treat it as a stray.
    if (!this.host.membership.connectTo(peer, route)) {
      this.settle(peer, new TabmeshError(ErrorCode.CONNECT_FAILED, 'no room in the active view just now'));
    }
    return waiting;
  }

  /**
   * Resolve the connect() calls whose peer is now in the active view over a
   * confirmed channel (a peer with no room would drop the channel right
   * after confirming it, so a confirmed channel alone is not enough).
   */
  settleConnected(): void {
    if (this.waiters.size === 0) return;
    for (const peer of this.host.membership.active()) {
      if (this.waiters.has(peer) && this.host.links.stateOf(peer) === 'connected') this.settle(peer, undefined);
    }
  }

  /** Resolve (or, with an error, reject) the connect() calls waiting on `peer`. */
  settle(peer: PeerId, error: Error | undefined): void {
    const waiters = this.waiters.get(peer);
    if (waiters === undefined) return;
    this.waiters.delete(peer);
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  /** A channel to `peer` was confirmed: no back-off from it any more. */
  reached(peer: PeerId): void {
    this.retryAfter.delete(peer);
  }

  /**
   * A link ended (`connected`: it had been confirmed; `current`: it was still
   * the one held for its peer, not replaced by a newer session). Its
   * connect() callers learn why, the membership hears of a failed attempt,
   * and an attempt of ours that failed backs off from the peer (doubling per
   * failure, so a departed peer is not dialled in a loop).
   */
  ended(link: EndedLink, connected: boolean, current: boolean, code: ErrorCode | undefined, reason: string): void {
    const peer = link.peer;
    // Lost a glare: the peer's own attempt is on its way, and connect() waits for it.
    if (current && link.declined !== 'GLARE') {
      if (!connected && link.initiator) this.host.membership.connectFailed(peer);
      this.settle(peer, new TabmeshError(code ?? ErrorCode.CONNECT_FAILED, reason));
    }
    if (!connected && link.initiator) {
      const failures = (this.retryAfter.get(peer)?.failures ?? 0) + 1;
      const wait = Math.min(DIAL_RETRY_MAX_MS, DIAL_RETRY_BASE_MS * 2 ** (failures - 1));
      this.retryAfter.set(peer, { at: this.core.now() + wait, failures });
      // What a reachability test learns: a signed decline proves the peer is
      // there; an attempt that found no one (while a test of it runs) evicts it.
      // An answer with no path between the networks (RELAY_NEEDED) proves it there too.
      if (link.declined !== undefined || code === ErrorCode.RELAY_NEEDED) this.host.book.reachable(peer);
      else if (code === ErrorCode.CONNECT_FAILED) this.host.book.unreachable(peer);
    }
    // An attempt that went nowhere: forget the peer's untried record so we dial others
    // (one we cannot reach without a relay too). Not one the peer declined: a busy peer is
    // still there, and may be the only one in reach (a tab of this browser with the server
    // down), so its record stays.
    const nowhere = code === ErrorCode.CONNECT_FAILED || code === ErrorCode.RELAY_NEEDED;
    if (nowhere && !connected && link.declined === undefined) this.host.book.forgetUntried(peer);
  }

  /** TURN credentials are coming: a transport prepared without them is out of date. */
  discardPrepared(): void {
    this.takeWarm()?.transport.close();
  }

  /** Periodic: close a prepared transport that has aged, and start the next reachability test. */
  maintain(): void {
    if (this.warm !== undefined && this.core.now() - this.warm.createdAt > WARM_TRANSPORT_MAX_AGE_MS) this.takeWarm();
    this.testReachability();
  }

  /**
   * Dial the tried peer the cache wants tested before it evicts it (at most
   * one started per maintenance round). Only when a failure means the peer
   * is gone: through the server, with a neighbour proving our own network
   * works, and with a link to spare; otherwise the test waits (and, past
   * EVICTION_TEST_TIMEOUT_MS, the incumbent simply stays).
   */
  private testReachability(): void {
    const peer = this.host.book.dueReachabilityTest();
    if (peer === undefined || this.core.closed()) return;
    const state = this.host.links.stateOf(peer);
    if (state === 'connected') {
      this.host.book.reachable(peer);
      return;
    }
    if (state !== undefined || !this.host.canSignal() || this.host.membership.active().length === 0) return;
    if (this.host.links.open() >= this.host.maxLinks) return;
    this.host.book.testStarted(peer);
    this.host.linkContext().then(
      (context) => {
        if (!this.core.closed() && this.host.links.stateOf(peer) === undefined) this.initiate(context, peer);
      },
      // No attempt, so no verdict: the test times out and the incumbent stays.
      (error: unknown) => this.core.logger.warn('could not get ICE servers for a reachability test', { peer, error }),
    );
  }

  /** Stop: close the prepared transport, and fail the connect() calls still waiting. */
  close(): void {
    this.warm?.transport.close();
    this.warm = undefined;
    for (const peer of [...this.waiters.keys()])
      this.settle(peer, new TabmeshError(ErrorCode.CLOSED, 'the node is closed'));
  }

  /** The prepared transport, if still fresh; each is used once. */
  private takeWarm(): WarmTransport | undefined {
    const warm = this.warm;
    this.warm = undefined;
    if (warm !== undefined && this.core.now() - warm.createdAt > WARM_TRANSPORT_MAX_AGE_MS) {
      warm.transport.close();
      return undefined;
    }
    return warm;
  }
}
