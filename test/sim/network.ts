/**
 * A deterministic in-memory network of Membership and Flood instances (the
 * real classes, unchanged) for the simulator.
 *
 * The model:
 * - Each link gets a one-way latency drawn once in [LATENCY_MIN_MS,
 *   LATENCY_MAX_MS]; every message on it takes that long, so links are FIFO
 *   like ordered data channels.
 * - Opening a link costs CONNECT_COST_MS plus jitter (a signaling round trip
 *   and DTLS) and fails if the target is dead or refuses the inbound link.
 *   Signals are assumed to get through (routes are measured separately).
 * - A dead neighbour is noticed after the keepalive timeout
 *   (CHANNEL_DEAD_AFTER_MS plus up to one keepalive period), or at once when a
 *   send to it is attempted, as in the paper.
 * - Closing a link reaches the other side after the link's latency, behind
 *   whatever was sent before it.
 */
import { CHANNEL_DEAD_AFTER_MS, CHANNEL_KEEPALIVE_MS } from '../../shared/limits.js';
import { Flood } from '../../shared/membership/flood.js';
import { Membership, type MembershipMessage, type MembershipOptions } from '../../shared/membership/hyparview.js';
import { VirtualClock } from './clock.js';
import { randomInt } from './prng.js';

export const LATENCY_MIN_MS = 20;
export const LATENCY_MAX_MS = 80;
/** One signaling round trip through the server plus DTLS and the signed confirmation. */
export const CONNECT_COST_MS = 300;
/** Up to this much is added to each connect. */
export const CONNECT_JITTER_MS = 200;
/** Failure detection of a dead neighbour that is not written to. */
export const DEAD_DETECT_MS = CHANNEL_DEAD_AFTER_MS;
export const DEAD_DETECT_JITTER_MS = CHANNEL_KEEPALIVE_MS;

export interface Link {
  readonly latency: number;
}

export interface SimNode {
  readonly id: string;
  readonly index: number;
  alive: boolean;
  readonly membership: Membership<string>;
  readonly flood: Flood<string>;
  readonly links: Map<string, Link>;
}

/** Counters the run reads and resets between phases. */
export interface Counters {
  membershipMessages: number;
  broadcastMessages: number;
  connects: number;
  connectFailures: number;
  /** Sends to a peer without a link: a bug in the module or the model. */
  sendsWithoutLink: number;
  problems: number;
  severeProblems: number;
  problemReasons: Map<string, number>;
}

export function newCounters(): Counters {
  return {
    membershipMessages: 0,
    broadcastMessages: 0,
    connects: 0,
    connectFailures: 0,
    sendsWithoutLink: 0,
    problems: 0,
    severeProblems: 0,
    problemReasons: new Map(),
  };
}

export class SimNetwork {
  readonly clock = new VirtualClock();
  readonly nodes: SimNode[] = [];
  readonly byId = new Map<string, SimNode>();
  counters = newCounters();
  private broadcastSeq = 0;
  /** Live nodes reached, by broadcast sequence number. */
  private readonly reached = new Map<number, number>();

  constructor(
    readonly random: () => number,
    private readonly options: Partial<MembershipOptions> = {},
  ) {}

  /** Create a node (not yet joined). */
  addNode(): SimNode {
    const index = this.nodes.length;
    const id = `p${index}`;
    const links = new Map<string, Link>();
    const deps = { now: () => this.clock.now(), random: this.random };
    const node: SimNode = {
      id,
      index,
      alive: true,
      links,
      flood: new Flood<string>(),
      membership: new Membership<string>(
        id,
        {
          send: (to, message) => this.send(node, to, message),
          connect: (peer) => this.connect(node, peer),
          disconnect: (peer) => this.close(node, peer),
          problem: (_from, reason, severe) => {
            this.counters.problems++;
            if (severe) this.counters.severeProblems++;
            this.counters.problemReasons.set(reason, (this.counters.problemReasons.get(reason) ?? 0) + 1);
          },
        },
        deps,
        this.options,
      ),
    };
    this.nodes.push(node);
    this.byId.set(id, node);
    return node;
  }

  /** Tick `node` every `periodMs`, starting after `offsetMs`, while it lives. */
  startTicking(node: SimNode, periodMs: number, offsetMs: number): void {
    const tick = (): void => {
      if (!node.alive) return;
      node.membership.tick();
      this.clock.schedule(periodMs, tick);
    };
    this.clock.schedule(offsetMs, tick);
  }

  kill(node: SimNode): void {
    if (!node.alive) return;
    node.alive = false;
    for (const peer of node.links.keys()) {
      const neighbour = this.byId.get(peer) as SimNode;
      this.clock.schedule(DEAD_DETECT_MS + this.random() * DEAD_DETECT_JITTER_MS, () =>
        this.linkLost(neighbour, node.id),
      );
    }
    node.links.clear();
  }

  /** Start a broadcast from `origin`; returns its sequence number (see reachedBy). */
  broadcast(origin: SimNode, hops: number): number {
    const seq = ++this.broadcastSeq;
    origin.flood.accept(origin.id, seq);
    this.reached.set(seq, 1);
    for (const to of origin.flood.targets(origin.membership.activeView(), undefined, origin.id)) {
      this.sendBroadcast(origin, to, origin.id, seq, hops);
    }
    return seq;
  }

  /** Live nodes that received broadcast `seq` (the origin included). */
  reachedBy(seq: number): number {
    return this.reached.get(seq) ?? 0;
  }

  liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  randomLive(): SimNode {
    for (;;) {
      const node = this.nodes[randomInt(this.random, this.nodes.length)] as SimNode;
      if (node.alive) return node;
    }
  }

  // --- The transport ----------------------------------------------------------

  private send(from: SimNode, to: string, message: MembershipMessage<string>): void {
    const link = from.links.get(to);
    if (link === undefined) {
      this.counters.sendsWithoutLink++;
      return;
    }
    this.counters.membershipMessages++;
    const target = this.byId.get(to) as SimNode;
    if (!target.alive) {
      this.clock.schedule(0, () => this.linkLost(from, to));
      return;
    }
    this.clock.schedule(link.latency, () => {
      if (target.alive && target.links.get(from.id) === link) target.membership.receive(from.id, message);
    });
  }

  private sendBroadcast(from: SimNode, to: string, origin: string, seq: number, hops: number): void {
    const link = from.links.get(to);
    if (link === undefined) {
      this.counters.sendsWithoutLink++;
      return;
    }
    this.counters.broadcastMessages++;
    const target = this.byId.get(to) as SimNode;
    if (!target.alive) {
      this.clock.schedule(0, () => this.linkLost(from, to));
      return;
    }
    this.clock.schedule(link.latency, () => {
      if (!target.alive || target.links.get(from.id) !== link) return;
      if (!target.flood.accept(origin, seq)) return;
      this.reached.set(seq, (this.reached.get(seq) ?? 0) + 1);
      const onward = Flood.onwardHops(hops);
      if (typeof onward !== 'number') return;
      for (const next of target.flood.targets(target.membership.activeView(), from.id, origin)) {
        this.sendBroadcast(target, next, origin, seq, onward);
      }
    });
  }

  private connect(from: SimNode, peer: string): void {
    this.counters.connects++;
    this.clock.schedule(CONNECT_COST_MS + this.random() * CONNECT_JITTER_MS, () => {
      if (!from.alive) return;
      const target = this.byId.get(peer);
      if (from.links.has(peer)) {
        // The peer dialled us meanwhile (glare): the one link serves both.
        from.membership.linkUp(peer, true);
        return;
      }
      if (target?.alive !== true || !target.membership.acceptsInbound(from.id)) {
        this.counters.connectFailures++;
        from.membership.connectFailed(peer);
        return;
      }
      const link: Link = { latency: LATENCY_MIN_MS + this.random() * (LATENCY_MAX_MS - LATENCY_MIN_MS) };
      from.links.set(peer, link);
      target.links.set(from.id, link);
      target.membership.linkUp(from.id, false);
      from.membership.linkUp(peer, true);
    });
  }

  /** `from` closes its link to `peer`; the peer learns after the link's latency. */
  private close(from: SimNode, peer: string): void {
    const link = from.links.get(peer);
    if (link === undefined) return;
    from.links.delete(peer);
    const target = this.byId.get(peer) as SimNode;
    this.clock.schedule(link.latency, () => {
      if (target.links.get(from.id) !== link) return;
      target.links.delete(from.id);
      if (target.alive) target.membership.linkDown(from.id);
    });
  }

  private linkLost(node: SimNode, peer: string): void {
    if (!node.alive || !node.links.has(peer)) return;
    node.links.delete(peer);
    node.membership.linkDown(peer);
  }
}
