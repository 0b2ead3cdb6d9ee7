/**
 * The membership and flood code together, over the simulator's deterministic
 * in-memory network (test/sim): joins, failures, and floods, at a size that
 * runs in well under a second.
 */
import { describe, expect, it } from 'vitest';
import { MEMBERSHIP_TICK_MS } from '../../shared/limits.js';
import type { MembershipOptions } from '../../shared/membership/hyparview.js';
import { buildGraph, components } from '../sim/metrics.js';
import { SimNetwork, type SimNode } from '../sim/network.js';
import { randomInt, seededRandom, shuffleInPlace } from '../sim/prng.js';

const PEERS = 200;

/** `peers` peers join one by one, each through a random earlier one, then settle for five ticks. */
function joinedNetwork(seed: number, peers = PEERS, options: Partial<MembershipOptions> = {}): SimNetwork {
  const net = new SimNetwork(seededRandom(seed), options);
  const joined: SimNode[] = [];
  for (let i = 0; i < peers; i++) {
    net.clock.runUntil(net.clock.now() + 50);
    const node = net.addNode();
    if (joined.length > 0) node.membership.join([(joined[randomInt(net.random, joined.length)] as SimNode).id]);
    net.startTicking(node, MEMBERSHIP_TICK_MS, net.random() * MEMBERSHIP_TICK_MS);
    joined.push(node);
  }
  net.clock.runUntil(net.clock.now() + 5 * MEMBERSHIP_TICK_MS);
  return net;
}

function broadcastRound(net: SimNetwork): number {
  const live = net.liveNodes().length;
  const seq = net.broadcast(net.randomLive(), 16);
  net.clock.runUntil(net.clock.now() + MEMBERSHIP_TICK_MS);
  return net.reachedBy(seq) / live;
}

describe('Membership over the simulated network', () => {
  it('joins everyone into one overlay of symmetric, bounded active views that a flood covers', () => {
    const net = joinedNetwork(3);
    const graph = buildGraph(net.nodes);
    expect(components(graph)).toBe(1);
    expect(graph.asymmetric).toBe(0);
    const sizes = net.nodes.map((n) => n.membership.activeView().length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
    expect(sizes.filter((s) => s >= 4).length).toBeGreaterThanOrEqual(PEERS * 0.95);
    expect(net.nodes.every((n) => n.membership.passiveView().length > 0)).toBe(true);
    expect(broadcastRound(net)).toBe(1);
    expect(net.counters.severeProblems).toBe(0);
    expect(net.counters.sendsWithoutLink).toBe(0);
  });

  it('heals after half the peers fail at once: a flood reaches every survivor within a few rounds', () => {
    const net = joinedNetwork(4);
    for (const node of shuffleInPlace(net.liveNodes(), net.random).slice(0, PEERS / 2)) net.kill(node);
    const reliability = Array.from({ length: 6 }, () => broadcastRound(net));
    expect(reliability.slice(3)).toEqual([1, 1, 1]);
    const live = net.liveNodes();
    // No survivor keeps a dead peer in its active view once the failures are detected.
    expect(live.every((n) => n.membership.activeView().every((p) => net.byId.get(p)?.alive === true))).toBe(true);
    expect(components(buildGraph(net.nodes))).toBe(1);
  });

  it('is deterministic: the same seed builds the same overlay', () => {
    const views = (net: SimNetwork): string[][] => net.nodes.map((n) => n.membership.activeView());
    expect(views(joinedNetwork(5))).toEqual(views(joinedNetwork(5)));
  });
});

describe('Membership: an island of two among full peers', () => {
  /**
   * Ten peers with three slots each form a mesh; two more join only each
   * other (two tabs of one browser, say) but know the others. Returns the
   * number of components after `ticks` membership ticks.
   */
  function island(highPriorityBelow: number, seed: number, ticks = 20): number {
    const net = joinedNetwork(seed, 10, { activeSize: 3, highPriorityBelow });
    const main = [...net.nodes];
    const [a, b] = [net.addNode(), net.addNode()];
    a.membership.join([b.id]);
    net.clock.runUntil(net.clock.now() + MEMBERSHIP_TICK_MS);
    for (const node of [a, b]) {
      node.membership.addPassive(main.map((m) => m.id));
      net.startTicking(node, MEMBERSHIP_TICK_MS, net.random() * MEMBERSHIP_TICK_MS);
    }
    net.clock.runUntil(net.clock.now() + ticks * MEMBERSHIP_TICK_MS);
    return components(buildGraph(net.nodes));
  }

  it('stays an island when only a peer with no neighbour asks with high priority (the paper’s rule)', () => {
    expect(island(1, 1)).toBe(2);
  });

  it('joins the mesh: with one neighbour a peer asks with high priority, and a full peer makes room', () => {
    for (const seed of [1, 2, 3, 4, 5]) expect(island(2, seed)).toBe(1);
  });
});
