/**
 * HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007), as pure logic:
 * no timers, sockets or storage. Clock and randomness are injected, links are
 * the host's, so the same code runs in a tab, in Node and in the simulator.
 *
 * How HyParView maps onto Tabmesh's WebRTC links:
 * - A "connection" is an authenticated data channel (DTLS up and the signed
 *   confirmation exchanged). The host reports it with linkUp(); we ask for one
 *   with host.connect(), giving a route through the mesh for the signals.
 * - The paper's TCP failure detector is the channel closing, or the host's
 *   keepalive timeout (CHANNEL_DEAD_AFTER_MS); both arrive as linkDown().
 *   A peer we fail to reach (connectFailed) is dropped from the passive view.
 * - An inbound channel is not a neighbour yet: it joins the active view only
 *   when its first message (join, or neighbour) is processed, and is closed if
 *   it says nothing within the handshake timeout. Handshakes in flight are
 *   bounded (acceptsInbound), so idle channels cannot pile up.
 * - Outgoing connects in flight count against the active view, so it never
 *   overshoots activeSize even while several promotions run at once.
 * - The paper's forward-join ends with the last node opening a connection to
 *   the joiner. We have no address to dial: the route for the signals is the
 *   walk's path reversed (its first node, the contact, is linked to the joiner).
 *   That node then sends a high-priority neighbour request over the new link.
 * - The paper asks with high priority only with an empty active view; we do
 *   below MEMBERSHIP_HIGH_PRIORITY_BELOW neighbours, so two nodes holding
 *   only each other do not stay an island among full peers.
 * - The paper answers a shuffle over a temporary connection. Instead the reply
 *   walks back along the reversed path, one hop at a time; a hop no longer
 *   linked drops it (a lost shuffle costs nothing but one round's mixing).
 * - Peers are bare IDs here. The host turns samples into signed records on the
 *   wire and verifies them before handing us the IDs.
 *
 * Hostile input is bounded: at most MAX_MEMBERSHIP_IDS IDs per path, sample and
 * route, TTL in [0, MAX_MEMBERSHIP_WALK_TTL], self and duplicates removed, and
 * evictions of active neighbours rate-limited (a flood of joins cannot cycle
 * out every honest neighbour). Structural violations that honest code never
 * sends are reported as severe; odd but possibly honest races are not.
 */
import {
  DEFAULT_ACTIVE_VIEW,
  DEFAULT_ACTIVE_WALK,
  DEFAULT_PASSIVE_VIEW,
  DEFAULT_PASSIVE_WALK,
  DEFAULT_SHUFFLE_ACTIVE,
  DEFAULT_SHUFFLE_PASSIVE,
  DEFAULT_SHUFFLE_WALK,
  MAX_INBOUND_HANDSHAKES,
  MAX_MEMBERSHIP_IDS,
  MAX_MEMBERSHIP_WALK_TTL,
  MEMBERSHIP_CONNECT_TIMEOUT_MS,
  MEMBERSHIP_EVICTION_BURST,
  MEMBERSHIP_EVICTION_RATE,
  MEMBERSHIP_HANDSHAKE_TIMEOUT_MS,
  MEMBERSHIP_HIGH_PRIORITY_BELOW,
  NEIGHBOUR_RETRY_MS,
} from '../limits.js';
import { TokenBucket } from '../rate-limit.js';

export type MembershipMessage<Id extends string> =
  /** A new node to its contact, over a fresh link. */
  | { type: 'join' }
  /** The random walk of a join; path = nodes walked so far, the contact first, the sender last. */
  | { type: 'forward-join'; joiner: Id; ttl: number; path: Id[] }
  /** Ask a peer, over a fresh link, to take us into its active view. */
  | { type: 'neighbour'; priority: 'high' | 'low' }
  | { type: 'neighbour-reply'; accepted: boolean }
  /** "I am dropping you from my active view": the sender goes to the receiver's passive view. */
  | { type: 'disconnect' }
  /** A random walk; path = nodes walked so far, the origin first, the sender last. */
  | { type: 'shuffle'; origin: Id; ttl: number; sample: Id[]; path: Id[] }
  /** Travels back hop by hop: `route` is the hops still to go after the receiver; empty at the origin. */
  | { type: 'shuffle-reply'; sample: Id[]; route: Id[] }
  /**
   * "My active view now holds this many": sent to each neighbour when it
   * changes, so evictions spare a neighbour we are the last link of (an
   * evicted peer with no link left has no way back without a server).
   */
  | { type: 'degree'; active: number };

export interface MembershipHost<Id extends string> {
  /** Send over an open link (the peer is in the active view or a link is being set up / handshaking). */
  send(to: Id, message: MembershipMessage<Id>): void;
  /**
   * Please open a link to `peer`. `route` (possibly empty) lists peers through
   * which the peer can be reached for signaling: route[0] is one of our current
   * links, the last element is adjacent to `peer`. The host later calls
   * linkUp(peer, true) or connectFailed(peer).
   */
  connect(peer: Id, route: readonly Id[]): void;
  /** Close the link to `peer` (after any message sent just before is flushed). */
  disconnect(peer: Id): void;
  /**
   * Whether a link to `peer` could be signalled now; omitted, always. A
   * passive peer out of reach is not promoted: its attempt would only hold a
   * slot of the active view until it timed out, while a reachable contact
   * (a tab of the same browser, with no server and no channel) waited.
   */
  reachable?(peer: Id): boolean;
  /** Hostile or malformed input from a linked peer, counted by the host; `severe` means cut the peer off. */
  problem(from: Id, reason: string, severe: boolean): void;
  /** Optional notification so the host can persist the passive view and update UI. */
  viewsChanged?(): void;
}

export interface MembershipDeps<Id extends string> {
  /** Milliseconds, monotonic enough for timeouts. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
  /** Optional check of an ID's syntax (the browser passes isPeerId); anything else is a bad message. */
  isId?(value: string): value is Id;
}

export interface MembershipOptions {
  /** Active view size (open links kept). @default DEFAULT_ACTIVE_VIEW (5) */
  activeSize: number;
  /** Passive view size. @default DEFAULT_PASSIVE_VIEW (30) */
  passiveSize: number;
  /** Active random walk length (ARWL). @default DEFAULT_ACTIVE_WALK (6) */
  activeWalk: number;
  /** Passive random walk length (PRWL). @default DEFAULT_PASSIVE_WALK (3) */
  passiveWalk: number;
  /** TTL of a shuffle walk. @default DEFAULT_SHUFFLE_WALK (6) */
  shuffleWalk: number;
  /** Active peers in a shuffle sample (ka). @default DEFAULT_SHUFFLE_ACTIVE (3) */
  shuffleActive: number;
  /** Passive peers in a shuffle sample (kp). @default DEFAULT_SHUFFLE_PASSIVE (4) */
  shufflePassive: number;
  /** Time for an inbound link's first message, a neighbour reply, or a shuffle reply. @default MEMBERSHIP_HANDSHAKE_TIMEOUT_MS */
  handshakeTimeoutMs: number;
  /** Time after which an unresolved connect is forgotten. @default MEMBERSHIP_CONNECT_TIMEOUT_MS */
  connectTimeoutMs: number;
  /** Inbound links awaiting their first message. @default MAX_INBOUND_HANDSHAKES (8) */
  maxInboundHandshakes: number;
  /** Evictions per second from a full active view. @default MEMBERSHIP_EVICTION_RATE */
  evictionRate: number;
  /** Eviction burst. @default MEMBERSHIP_EVICTION_BURST */
  evictionBurst: number;
  /** How long a peer that refused us is not asked again. @default NEIGHBOUR_RETRY_MS */
  neighbourRetryMs: number;
  /** With fewer neighbours than this, ask new ones with high priority. @default MEMBERSHIP_HIGH_PRIORITY_BELOW (2) */
  highPriorityBelow: number;
}

export const DEFAULT_MEMBERSHIP_OPTIONS: Readonly<MembershipOptions> = Object.freeze({
  activeSize: DEFAULT_ACTIVE_VIEW,
  passiveSize: DEFAULT_PASSIVE_VIEW,
  activeWalk: DEFAULT_ACTIVE_WALK,
  passiveWalk: DEFAULT_PASSIVE_WALK,
  shuffleWalk: DEFAULT_SHUFFLE_WALK,
  shuffleActive: DEFAULT_SHUFFLE_ACTIVE,
  shufflePassive: DEFAULT_SHUFFLE_PASSIVE,
  handshakeTimeoutMs: MEMBERSHIP_HANDSHAKE_TIMEOUT_MS,
  connectTimeoutMs: MEMBERSHIP_CONNECT_TIMEOUT_MS,
  maxInboundHandshakes: MAX_INBOUND_HANDSHAKES,
  evictionRate: MEMBERSHIP_EVICTION_RATE,
  evictionBurst: MEMBERSHIP_EVICTION_BURST,
  neighbourRetryMs: NEIGHBOUR_RETRY_MS,
  highPriorityBelow: MEMBERSHIP_HIGH_PRIORITY_BELOW,
});

/** Why we asked for a link: decides the first message once it is up. */
type LinkReason = 'join' | 'promote' | 'forward-join';

/** A link (or link request) to a peer not, or not yet, in the active view. */
type Pending =
  /** We asked the host to connect. */
  | { readonly kind: 'connecting'; readonly reason: LinkReason; readonly since: number }
  /** Our link is up and we sent a neighbour request; waiting for the reply. */
  | { readonly kind: 'awaiting-reply'; readonly since: number }
  /** An inbound link waiting for its first message. */
  | { readonly kind: 'inbound'; readonly since: number };

interface OutstandingShuffle<Id> {
  readonly to: Id;
  readonly sent: readonly Id[];
  readonly since: number;
}

export class Membership<Id extends string> {
  private readonly options: MembershipOptions;
  private readonly active: Id[] = [];
  private readonly passive: Id[] = [];
  /** Routes to passive peers, when learned from a walk (see routeTo). */
  private readonly routes = new Map<Id, readonly Id[]>();
  private readonly pending = new Map<Id, Pending>();
  /** Passive peers that refused us, by when; pruned each tick. */
  private readonly refusedAt = new Map<Id, number>();
  private readonly evictions: TokenBucket;
  /** Active-view sizes our neighbours last told us ('degree' messages). */
  private readonly degrees = new Map<Id, number>();
  /** The size we last told each neighbour. */
  private readonly degreeSent = new Map<Id, number>();
  private contacts: Id[] = [];
  private shuffle: OutstandingShuffle<Id> | undefined;

  constructor(
    private readonly self: Id,
    private readonly host: MembershipHost<Id>,
    private readonly deps: MembershipDeps<Id>,
    options: Partial<MembershipOptions> = {},
  ) {
    const merged: MembershipOptions = { ...DEFAULT_MEMBERSHIP_OPTIONS };
    for (const key of Object.keys(options) as (keyof MembershipOptions)[]) {
      const value = options[key];
      if (value !== undefined) merged[key] = value;
    }
    if (!(merged.activeSize >= 1) || !(merged.passiveSize >= 0)) throw new RangeError('view sizes out of range');
    if (merged.activeWalk > MAX_MEMBERSHIP_WALK_TTL || merged.shuffleWalk > MAX_MEMBERSHIP_WALK_TTL) {
      throw new RangeError('walk length over MAX_MEMBERSHIP_WALK_TTL');
    }
    if (1 + merged.shuffleActive + merged.shufflePassive > MAX_MEMBERSHIP_IDS) {
      throw new RangeError('shuffle sample over MAX_MEMBERSHIP_IDS');
    }
    this.options = merged;
    this.evictions = new TokenBucket(merged.evictionRate, merged.evictionBurst, deps.now());
  }

  // --- Public API -------------------------------------------------------------

  /**
   * Start joining through these contacts (from the signaling server's sample
   * or the cache); tries them in turn on failure. Called again while an
   * attempt is under way (the sample came), the new list is what is tried
   * next if that attempt fails: one join attempt at a time.
   */
  join(contacts: readonly Id[]): void {
    this.contacts = this.cleanIds(contacts.slice(0, MAX_MEMBERSHIP_IDS)).filter((id) => !this.isLinked(id));
    if (this.joining()) return;
    this.nextContact();
  }

  /** Candidates for the passive view learned outside the protocol (cache on load, server sample, same-browser tabs). */
  addPassive(ids: readonly Id[]): void {
    if (this.integrate(this.cleanIds(ids), [])) this.changed();
  }

  /** A link to `peer` is open and authenticated. initiator=true if we asked for it via host.connect. */
  linkUp(peer: Id, initiator: boolean): void {
    if (peer === this.self) return;
    const state = this.pending.get(peer);
    if (state?.kind === 'connecting') {
      // Ours, or the peer dialled us while we dialled it (glare): the one link serves.
      this.pending.delete(peer);
      if (state.reason === 'join') {
        this.addActive(peer);
        this.host.send(peer, { type: 'join' });
        // Joined: the other contacts are good passive candidates.
        this.integrate(this.contacts, []);
        this.contacts = [];
        this.changed();
        return;
      }
      const priority =
        state.reason === 'forward-join' || this.active.length < this.options.highPriorityBelow ? 'high' : 'low';
      this.pending.set(peer, { kind: 'awaiting-reply', since: this.deps.now() });
      this.host.send(peer, { type: 'neighbour', priority });
      return;
    }
    if (state !== undefined || this.active.includes(peer)) return; // already known: a duplicate report
    if (initiator) {
      // We never asked, or gave up waiting: a link we have no use for.
      this.host.disconnect(peer);
      return;
    }
    if (this.inboundCount() >= this.options.maxInboundHandshakes) {
      this.host.disconnect(peer);
      return;
    }
    this.pending.set(peer, { kind: 'inbound', since: this.deps.now() });
  }

  /** Our connect(peer) attempt failed. */
  connectFailed(peer: Id): void {
    const state = this.pending.get(peer);
    if (state?.kind !== 'connecting') return;
    this.pending.delete(peer);
    this.forget(peer);
    if (state.reason === 'join') this.nextContact();
    this.refill();
    this.changed();
  }

  /** A link went down (closed, failed, peer left). */
  linkDown(peer: Id): void {
    const state = this.pending.get(peer);
    if (state !== undefined) {
      this.pending.delete(peer);
      if (state.kind !== 'inbound') this.forget(peer);
      if (state.kind === 'connecting' && state.reason === 'join') this.nextContact();
    } else if (!this.removeActive(peer)) {
      return;
    }
    // The paper removes a failed neighbour outright; a live one comes back by shuffles.
    this.refill();
    this.changed();
  }

  /** A membership message arrived over the link from `from`. Everything in it is checked first. */
  receive(from: Id, message: MembershipMessage<Id>): void {
    const state = this.pending.get(from);
    const isActive = this.active.includes(from);
    if (state === undefined && !isActive) {
      this.host.problem(from, 'membership message from a peer without a link', false);
      return;
    }
    // Typed, but checked as untrusted: the codec is another module's.
    const raw: unknown = message;
    if (typeof raw !== 'object' || raw === null) {
      this.host.problem(from, 'membership message is not an object', true);
      return;
    }
    const type: unknown = (message as { type?: unknown }).type;
    switch (type) {
      case 'join':
        return this.onJoin(from, state);
      case 'forward-join':
        return this.onForwardJoin(from, isActive, message as Extract<MembershipMessage<Id>, { type: 'forward-join' }>);
      case 'neighbour':
        return this.onNeighbour(from, state, (message as { priority?: unknown }).priority);
      case 'neighbour-reply':
        return this.onNeighbourReply(from, state, isActive, (message as { accepted?: unknown }).accepted);
      case 'disconnect':
        return this.onDisconnect(from, state, isActive);
      case 'degree':
        return this.onDegree(from, isActive, (message as { active?: unknown }).active);
      case 'shuffle':
        return this.onShuffle(from, isActive, message as Extract<MembershipMessage<Id>, { type: 'shuffle' }>);
      case 'shuffle-reply':
        return this.onShuffleReply(
          from,
          isActive,
          message as Extract<MembershipMessage<Id>, { type: 'shuffle-reply' }>,
        );
      default:
        this.host.problem(from, 'unknown membership message type', true);
    }
  }

  /** Call periodically (the host's timer, the simulator's round): expire, shuffle, refill. */
  tick(): void {
    const now = this.deps.now();
    let changed = false;
    for (const [peer, state] of [...this.pending]) {
      const limit = state.kind === 'connecting' ? this.options.connectTimeoutMs : this.options.handshakeTimeoutMs;
      if (now - state.since < limit) continue;
      this.pending.delete(peer);
      this.host.disconnect(peer);
      if (state.kind === 'connecting' && state.reason === 'join') this.nextContact();
      changed = true;
    }
    for (const [peer, at] of [...this.refusedAt]) {
      if (now - at >= this.options.neighbourRetryMs || !this.passive.includes(peer)) this.refusedAt.delete(peer);
    }
    this.startShuffle();
    this.refill();
    if (changed) this.changed();
  }

  activeView(): Id[] {
    return [...this.active];
  }

  passiveView(): Id[] {
    return [...this.passive];
  }

  /**
   * The route through the mesh to a passive peer, as learned from the walk
   * that introduced it (empty if none): route[0] was our neighbour, the last
   * element adjacent to the peer, at the time. Routes go stale as views
   * change; docs/MEMBERSHIP.md has how often one still works.
   */
  routeTo(peer: Id): readonly Id[] {
    return this.routes.get(peer) ?? [];
  }

  /**
   * The application wants `peer` as a neighbour (the node's `connect`): link
   * to it and ask with high priority, so the peer keeps the link too. Makes
   * room by evicting a random neighbour when full (within the eviction rate).
   * Returns false when there is no room; true when it is under way or done.
   */
  connectTo(peer: Id, route: readonly Id[]): boolean {
    if (peer === this.self || !this.isId(peer)) return false;
    if (this.active.includes(peer) || this.pending.has(peer)) return true;
    // Never evict the first hop of the route: the signals travel through it.
    if (!this.makeRoom(true, route[0])) return false;
    this.removePassive(peer);
    this.refusedAt.delete(peer);
    // A forward-join's link asks with high priority, which is what we want here.
    this.pending.set(peer, { kind: 'connecting', reason: 'forward-join', since: this.deps.now() });
    this.host.connect(peer, route);
    this.changed();
    return true;
  }

  /** Whether an inbound link from `peer` should be accepted at all right now (bounded handshakes in flight). */
  acceptsInbound(peer: Id): boolean {
    if (peer === this.self || this.active.includes(peer)) return false;
    const state = this.pending.get(peer);
    if (state !== undefined) return state.kind === 'connecting'; // glare: the host keeps one link
    return this.inboundCount() < this.options.maxInboundHandshakes;
  }

  /**
   * Whether a message of `type` from `from` would be read now: a join on a
   * fresh inbound link (or from a neighbour we joined through at once), a
   * walk, shuffle or shuffle reply from an active neighbour; anything else
   * always. Cheap, so a host can ask before it
   * verifies the records such a message carries (receive() would only
   * refuse it after).
   */
  reads(from: Id, type: MembershipMessage<Id>['type']): boolean {
    switch (type) {
      case 'join':
        return this.pending.get(from)?.kind === 'inbound' || this.active.includes(from);
      case 'forward-join':
      case 'shuffle':
      case 'shuffle-reply':
        return this.active.includes(from);
      case 'neighbour':
      case 'neighbour-reply':
      case 'disconnect':
      case 'degree':
        return true;
    }
  }

  // --- Handlers -------------------------------------------------------------

  private onJoin(from: Id, state: Pending | undefined): void {
    // We joined through each other at once: the one link serves, and both already count it.
    if (state === undefined && this.active.includes(from)) return;
    if (state?.kind !== 'inbound') {
      this.host.problem(from, 'join on a link that is not a fresh inbound one', false);
      return;
    }
    this.pending.delete(from);
    if (!this.makeRoom(true)) {
      // Over the eviction rate: the joiner goes to the passive view and tries elsewhere.
      this.reject(from, { type: 'disconnect' });
      return;
    }
    this.addActive(from);
    const path = [this.self];
    for (const peer of this.active) {
      if (peer !== from) {
        this.host.send(peer, { type: 'forward-join', joiner: from, ttl: this.options.activeWalk, path });
      }
    }
    this.changed();
  }

  private onForwardJoin(
    from: Id,
    isActive: boolean,
    message: Extract<MembershipMessage<Id>, { type: 'forward-join' }>,
  ): void {
    if (!isActive) {
      this.host.problem(from, 'forward-join from a peer not in the active view', false);
      return;
    }
    const ttl = this.checkTtl(from, message.ttl);
    const path = this.checkPath(from, message.path);
    const joiner = this.checkId(from, message.joiner);
    if (ttl === undefined || path === undefined || joiner === undefined) return;
    if (joiner === this.self || this.active.includes(joiner) || this.pending.has(joiner)) return;
    // The reversed walk reaches the contact, which is linked to the joiner.
    const route = [...path].reverse();
    const onward = this.randomOf(this.active.filter((p) => p !== from && p !== joiner));
    if (ttl === 0 || this.active.length === 1 || onward === undefined || path.length >= MAX_MEMBERSHIP_IDS) {
      this.acceptJoiner(joiner, route);
      return;
    }
    if (ttl === this.options.passiveWalk && this.integrate([joiner], [])) {
      this.routes.set(joiner, route);
      this.changed();
    }
    this.host.send(onward, { type: 'forward-join', joiner, ttl: ttl - 1, path: [...path, this.self] });
  }

  private onNeighbour(from: Id, state: Pending | undefined, priority: unknown): void {
    if (priority !== 'high' && priority !== 'low') {
      this.host.problem(from, 'neighbour request with a bad priority', true);
      return;
    }
    if (state === undefined) {
      // Already active: a repeated request (e.g. after glare). Confirm it.
      this.host.send(from, { type: 'neighbour-reply', accepted: true });
      return;
    }
    if (state.kind === 'connecting') {
      this.host.problem(from, 'neighbour request before the link is up', false);
      return;
    }
    // Inbound, or our own request to it crossed this one (its slot is already counted).
    const ours = state.kind === 'awaiting-reply';
    this.pending.delete(from);
    // Our own request to it crossed this one: its slot was counted, and it is ours to take.
    const accept = ours || this.makeRoom(priority === 'high');
    if (!accept) {
      this.reject(from, { type: 'neighbour-reply', accepted: false });
      return;
    }
    this.addActive(from);
    this.host.send(from, { type: 'neighbour-reply', accepted: true });
    this.changed();
  }

  private onNeighbourReply(from: Id, state: Pending | undefined, isActive: boolean, accepted: unknown): void {
    if (typeof accepted !== 'boolean') {
      this.host.problem(from, 'neighbour reply without a boolean', true);
      return;
    }
    if (isActive) return; // our request crossed theirs; already neighbours
    if (state?.kind !== 'awaiting-reply') {
      this.host.problem(from, 'neighbour reply that nobody asked for', false);
      return;
    }
    this.pending.delete(from);
    if (accepted) {
      this.addActive(from);
    } else {
      this.host.disconnect(from);
      this.integrate([from], []);
      this.refusedAt.set(from, this.deps.now());
      this.refill();
    }
    this.changed();
  }

  private onDisconnect(from: Id, state: Pending | undefined, isActive: boolean): void {
    if (isActive) this.removeActive(from);
    else if (state !== undefined) this.pending.delete(from);
    this.host.disconnect(from);
    this.integrate([from], []);
    // It let us go (full, or refusing): ask others first.
    if (this.passive.includes(from)) this.refusedAt.set(from, this.deps.now());
    this.refill();
    this.changed();
  }

  private onShuffle(from: Id, isActive: boolean, message: Extract<MembershipMessage<Id>, { type: 'shuffle' }>): void {
    if (!isActive) {
      this.host.problem(from, 'shuffle from a peer not in the active view', false);
      return;
    }
    const ttl = this.checkTtl(from, message.ttl);
    const path = this.checkPath(from, message.path);
    const origin = this.checkId(from, message.origin);
    const sample = this.checkSample(from, message.sample);
    if (ttl === undefined || path === undefined || origin === undefined || sample === undefined) return;
    if (path[0] !== origin) {
      this.host.problem(from, 'shuffle path does not start at its origin', true);
      return;
    }
    if (origin === this.self) return; // our own walk came back round: let it lapse
    const onward = this.randomOf(this.active.filter((p) => p !== from && p !== origin));
    if (ttl > 0 && onward !== undefined && path.length < MAX_MEMBERSHIP_IDS) {
      this.host.send(onward, { type: 'shuffle', origin, ttl: ttl - 1, sample, path: [...path, this.self] });
      return;
    }
    // Accept: answer with as many of ours (ourselves first), back along the reversed path.
    const back = [...path].reverse();
    const reply = [this.self, ...this.sampleOf(this.passive, Math.max(0, sample.length - 1))];
    this.host.send(from, { type: 'shuffle-reply', sample: reply, route: back.slice(1) });
    const added = this.integrate(sample, reply);
    if (this.passive.includes(origin)) this.routes.set(origin, back.slice(0, -1));
    if (added) this.changed();
  }

  private onShuffleReply(
    from: Id,
    isActive: boolean,
    message: Extract<MembershipMessage<Id>, { type: 'shuffle-reply' }>,
  ): void {
    if (!isActive) {
      this.host.problem(from, 'shuffle reply from a peer not in the active view', false);
      return;
    }
    const route = this.checkIds(from, message.route, 'route');
    const sample = this.checkSample(from, message.sample);
    if (route === undefined || sample === undefined) return;
    const [next, ...rest] = route;
    if (next !== undefined) {
      // Relay towards the origin; a hop no longer linked loses it.
      if (this.active.includes(next)) this.host.send(next, { type: 'shuffle-reply', sample, route: rest });
      return;
    }
    const outstanding = this.shuffle;
    if (outstanding?.to !== from || this.deps.now() - outstanding.since >= this.options.handshakeTimeoutMs) {
      this.host.problem(from, 'shuffle reply that nobody asked for', false);
      return;
    }
    this.shuffle = undefined;
    if (this.integrate(sample, outstanding.sent)) this.changed();
  }

  // --- View maintenance -----------------------------------------------------

  private startShuffle(): void {
    // One shuffle per tick; a newer one replaces the last (a walk lost to a
    // failed hop must not stall shuffling, which is also how failures are found).
    const target = this.randomOf(this.active);
    this.shuffle = undefined;
    if (target === undefined) return;
    const sample = [
      this.self,
      ...this.sampleOf(
        this.active.filter((p) => p !== target),
        this.options.shuffleActive,
      ),
      ...this.sampleOf(this.passive, this.options.shufflePassive),
    ];
    this.shuffle = { to: target, sent: sample, since: this.deps.now() };
    this.host.send(target, {
      type: 'shuffle',
      origin: this.self,
      ttl: this.options.shuffleWalk,
      sample,
      path: [this.self],
    });
  }

  /** Promote passive peers into every free slot of the active view. */
  private refill(): void {
    let free = this.freeSlots();
    if (free <= 0) return;
    const candidates = this.passive.filter(
      (p) => !this.pending.has(p) && !this.refusedAt.has(p) && (this.host.reachable?.(p) ?? true),
    );
    while (free > 0 && candidates.length > 0) {
      const index = this.randomIndex(candidates.length);
      const peer = candidates[index] as Id;
      candidates[index] = candidates[candidates.length - 1] as Id;
      candidates.pop();
      this.pending.set(peer, { kind: 'connecting', reason: 'promote', since: this.deps.now() });
      this.host.connect(peer, this.routeTo(peer));
      free--;
    }
  }

  /** Whether a join attempt is under way. */
  private joining(): boolean {
    for (const state of this.pending.values()) if (state.kind === 'connecting' && state.reason === 'join') return true;
    return false;
  }

  private nextContact(): void {
    while (this.contacts.length > 0 && this.freeSlots() > 0) {
      const contact = this.contacts.shift() as Id;
      if (this.isLinked(contact)) continue;
      this.removePassive(contact);
      this.pending.set(contact, { kind: 'connecting', reason: 'join', since: this.deps.now() });
      this.host.connect(contact, []);
      return;
    }
  }

  /** A forward-join walk ended here: link to the joiner, evicting if full and within the rate. */
  private acceptJoiner(joiner: Id, route: readonly Id[]): void {
    // The walk's last hop carries our signals to the joiner: it is not the one to evict.
    if (!this.makeRoom(true, route[0])) {
      if (this.integrate([joiner], [])) {
        this.routes.set(joiner, route);
        this.changed();
      }
      return;
    }
    this.removePassive(joiner);
    this.pending.set(joiner, { kind: 'connecting', reason: 'forward-join', since: this.deps.now() });
    this.host.connect(joiner, route);
  }

  /**
   * Make sure one slot of the active view is free: it may be free already;
   * else a promotion still connecting gives way (an inbound request fills the
   * slot as well, and after a mass failure every node is promoting, so without
   * this they would all refuse each other); else, if allowed, a neighbour is
   * evicted within the eviction rate.
   */
  private makeRoom(evict: boolean, keep?: Id): boolean {
    if (this.freeSlots() > 0) return true;
    for (const [peer, state] of this.pending) {
      if (state.kind === 'connecting' && state.reason === 'promote') {
        // If the link still comes up, linkUp finds no request and closes it.
        this.pending.delete(peer);
        return true;
      }
    }
    return evict && this.evictOne(keep);
  }

  /**
   * Drop an active neighbour (other than `keep`) to make room, if the
   * eviction rate allows: at random among those with the most other links,
   * never one we are the last link of. A neighbour whose size we have not
   * heard yet is taken only when none has told us it has others.
   */
  private evictOne(keep?: Id): boolean {
    const candidates = this.active.filter((peer) => peer !== keep && (this.degrees.get(peer) ?? 2) > 1);
    const known = candidates.filter((peer) => this.degrees.has(peer));
    const most = Math.max(0, ...known.map((peer) => this.degrees.get(peer) ?? 0));
    const victim = this.randomOf(
      known.length > 0 ? known.filter((peer) => this.degrees.get(peer) === most) : candidates,
    );
    if (victim === undefined || !this.evictions.take(this.deps.now())) return false;
    this.host.send(victim, { type: 'disconnect' });
    this.host.disconnect(victim);
    this.removeActive(victim);
    this.integrate([victim], []);
    return true;
  }

  /** Refuse a fresh link: answer, close it, and keep the peer as a passive candidate. */
  private reject(peer: Id, answer: MembershipMessage<Id>): void {
    this.host.send(peer, answer);
    this.host.disconnect(peer);
    if (this.integrate([peer], [])) this.changed();
  }

  private addActive(peer: Id): void {
    this.removePassive(peer);
    if (!this.active.includes(peer)) this.active.push(peer);
  }

  private removeActive(peer: Id): boolean {
    const index = this.active.indexOf(peer);
    if (index < 0) return false;
    this.active.splice(index, 1);
    this.degrees.delete(peer);
    this.degreeSent.delete(peer);
    if (this.shuffle?.to === peer) this.shuffle = undefined;
    return true;
  }

  private removePassive(peer: Id): void {
    const index = this.passive.indexOf(peer);
    if (index >= 0) this.passive.splice(index, 1);
    this.routes.delete(peer);
  }

  /** Forget a peer that could not be reached. */
  private forget(peer: Id): void {
    this.removePassive(peer);
    this.refusedAt.delete(peer);
  }

  /**
   * Add IDs to the passive view (not self, not active, not already there),
   * making room by dropping first the IDs we just sent away (`sent`), then
   * random ones, as in the paper. Returns whether anything was added.
   */
  private integrate(ids: readonly Id[], sent: readonly Id[]): boolean {
    if (this.options.passiveSize === 0) return false;
    let added = false;
    const evictable = sent.filter((id) => this.passive.includes(id));
    for (const id of ids) {
      if (id === this.self || this.active.includes(id) || this.passive.includes(id)) continue;
      if (this.passive.length >= this.options.passiveSize) {
        const victim = evictable.pop() ?? this.passive[this.randomIndex(this.passive.length)];
        if (victim !== undefined) this.removePassive(victim);
      }
      this.passive.push(id);
      added = true;
    }
    return added;
  }

  /** Active-view slots not taken by a neighbour or an outgoing request in flight. */
  private freeSlots(): number {
    let outgoing = 0;
    for (const state of this.pending.values()) if (state.kind !== 'inbound') outgoing++;
    return this.options.activeSize - this.active.length - outgoing;
  }

  private inboundCount(): number {
    let count = 0;
    for (const state of this.pending.values()) if (state.kind === 'inbound') count++;
    return count;
  }

  private isLinked(peer: Id): boolean {
    return peer === this.self || this.active.includes(peer) || this.pending.has(peer);
  }

  private changed(): void {
    // Tell each neighbour our active view's size when it has changed since we last did.
    const size = this.active.length;
    for (const peer of this.active) {
      if (this.degreeSent.get(peer) === size) continue;
      this.degreeSent.set(peer, size);
      this.host.send(peer, { type: 'degree', active: size });
    }
    this.host.viewsChanged?.();
  }

  private onDegree(from: Id, isActive: boolean, active: unknown): void {
    if (typeof active !== 'number' || !Number.isInteger(active) || active < 0 || active > MAX_MEMBERSHIP_IDS) {
      this.host.problem(from, 'degree out of range', true);
      return;
    }
    // From a link not (or no longer) in our active view: a race, nothing to keep.
    if (isActive) this.degrees.set(from, active);
  }

  // --- Checks on remote input -------------------------------------------------

  private checkTtl(from: Id, ttl: unknown): number | undefined {
    if (typeof ttl === 'number' && Number.isInteger(ttl) && ttl >= 0 && ttl <= MAX_MEMBERSHIP_WALK_TTL) return ttl;
    this.host.problem(from, 'walk TTL out of range', true);
    return undefined;
  }

  private checkId(from: Id, id: unknown): Id | undefined {
    if (this.isId(id)) return id;
    this.host.problem(from, 'not a peer ID', true);
    return undefined;
  }

  /** A list of IDs within the cap, each well formed (order and repeats kept: a walk may revisit). */
  private checkIds(from: Id, ids: unknown, what: string): Id[] | undefined {
    if (!Array.isArray(ids) || ids.length > MAX_MEMBERSHIP_IDS) {
      this.host.problem(from, `${what} is not a list of at most ${MAX_MEMBERSHIP_IDS} IDs`, true);
      return undefined;
    }
    const list: Id[] = [];
    for (const id of ids as unknown[]) {
      if (!this.isId(id)) {
        this.host.problem(from, `${what} holds something that is not a peer ID`, true);
        return undefined;
      }
      list.push(id);
    }
    return list;
  }

  /** A walk path: non-empty, within the cap, and ending with the peer that sent it. */
  private checkPath(from: Id, path: unknown): Id[] | undefined {
    const list = this.checkIds(from, path, 'path');
    if (list === undefined) return undefined;
    if (list[list.length - 1] !== from) {
      this.host.problem(from, 'walk path does not end with its sender', true);
      return undefined;
    }
    return list;
  }

  /** A sample: within the cap, self removed silently (honest), duplicates removed and counted. */
  private checkSample(from: Id, sample: unknown): Id[] | undefined {
    const list = this.checkIds(from, sample, 'sample');
    if (list === undefined) return undefined;
    const unique = [...new Set(list)];
    if (unique.length !== list.length) this.host.problem(from, 'sample names a peer twice', false);
    return unique.filter((id) => id !== this.self);
  }

  private isId(value: unknown): value is Id {
    if (typeof value !== 'string' || value.length === 0) return false;
    return this.deps.isId === undefined || this.deps.isId(value);
  }

  /** IDs from a trusted caller: well formed, not self, no repeats. */
  private cleanIds(ids: readonly Id[]): Id[] {
    return [...new Set(ids)].filter((id) => id !== this.self && this.isId(id));
  }

  // --- Randomness -------------------------------------------------------------

  private randomIndex(length: number): number {
    return Math.min(length - 1, Math.floor(this.deps.random() * length));
  }

  private randomOf(list: readonly Id[]): Id | undefined {
    return list.length === 0 ? undefined : list[this.randomIndex(list.length)];
  }

  /** Up to `k` distinct random elements (partial Fisher-Yates on a copy). */
  private sampleOf(list: readonly Id[], k: number): Id[] {
    const copy = [...list];
    const count = Math.min(k, copy.length);
    for (let i = 0; i < count; i++) {
      const j = i + this.randomIndex(copy.length - i);
      [copy[i], copy[j]] = [copy[j] as Id, copy[i] as Id];
    }
    return copy.slice(0, count);
  }
}
