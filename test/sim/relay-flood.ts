/**
 * Issue 15, item 6, at full size: a relay flood through one tab of a
 * 300-peer mesh, on the real relay code (relay-net.ts). The overlay is built
 * by the real HyParView membership over the simulator's network
 * (network.ts), then frozen; three attackers link to one peer (the target)
 * and each sends it flood frames at exactly RELAY_RATE, while every honest
 * peer sends routed messages to random others. Reported: which links were
 * cut, by whom and when, and how many honest messages arrived.
 *
 * Before the fix all five honest neighbours of the target cut it off within
 * 10 s and the attackers were never cut. Run it both ways:
 *
 *   node --import tsx test/sim/relay-flood.ts [--peers 300] [--seconds 60] [--seed 1]
 *
 * The adversary bench (test/bench/adversary/tab-relay-flood.ts) runs it too.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { MAX_RELAY_TTL, MEMBERSHIP_TICK_MS, RELAY_ID_BYTES, RELAY_RATE } from '../../shared/limits.js';
import { encodeRelay } from '../../shared/protocol/mesh.js';
import { SEAL_OVERHEAD_BYTES, loadNacl } from '../../shared/seal.js';
import { DEFAULT_RELAY_LIMITS, type RelayLimits } from '../../web/node/relay-budget.js';
import { SimNetwork, type SimNode } from './network.js';
import { randomInt, seededRandom } from './prng.js';
import { RelayNet, randomPeerId, type RelayNode } from './relay-net.js';

/**
 * The code as it was before the fix: the per-link rate and a drop allowance
 * of 200 that never refilled (a rate of Number.MIN_VALUE adds nothing), no
 * budget for what is passed on, no pacing, no per-origin budget.
 */
export const RELAY_DEFENCE_OFF: RelayLimits = Object.freeze({
  receive: DEFAULT_RELAY_LIMITS.receive,
  pass: { rate: Infinity, burst: Infinity },
  allowance: { rate: Number.MIN_VALUE, burst: 200 },
  send: { rate: Infinity, burst: Infinity },
  passSend: { rate: Infinity, burst: Infinity },
  passShare: { rate: Infinity, burst: Infinity },
  flood: { rate: Infinity, burst: Infinity },
  origin: { rate: Infinity, burst: Infinity },
});

export interface RelayFloodOptions {
  readonly peers: number;
  readonly attackers: number;
  readonly attackMs: number;
  readonly seed: number;
  /** Routed messages each honest peer sends per second (to a random peer two hops or more away). */
  readonly honestRate: number;
  readonly limits: RelayLimits;
}

export const DEFAULT_RELAY_FLOOD: RelayFloodOptions = Object.freeze({
  peers: 300,
  attackers: 3,
  attackMs: 60_000,
  seed: 1,
  honestRate: 0.1,
  limits: DEFAULT_RELAY_LIMITS,
});

export interface RelayFloodResult {
  /** The target's honest links before the attack. */
  readonly targetLinks: number;
  /** Of those, cut (by either end) during the attack. */
  readonly targetLinksCut: number;
  /** Links between honest peers cut anywhere, the target's included. */
  readonly honestLinksCut: number;
  /** Seconds into the attack when the last of the target's honest links was cut, if all were. */
  readonly targetIsolatedAt: number | undefined;
  readonly attackerLinksCut: number;
  /** Seconds into the attack when the last attacker link was cut, if all were. */
  readonly attackersCutAt: number | undefined;
  readonly honestSent: number;
  readonly honestDelivered: number;
  /** Frames put on links, attackers' included. */
  readonly frames: number;
  readonly wallMs: number;
}

/** Build the overlay with the real membership: joins 10 ms apart, then a few tick rounds to settle. */
function overlay(peers: number, random: () => number): SimNetwork {
  const net = new SimNetwork(random);
  const joined: SimNode[] = [];
  for (let i = 0; i < peers; i++) {
    net.clock.runUntil(net.clock.now() + 10);
    const node = net.addNode();
    if (joined.length > 0) node.membership.join([(joined[randomInt(random, joined.length)] as SimNode).id]);
    net.startTicking(node, MEMBERSHIP_TICK_MS, random() * MEMBERSHIP_TICK_MS);
    joined.push(node);
  }
  net.clock.runUntil(net.clock.now() + 10 * MEMBERSHIP_TICK_MS);
  return net;
}

/** Shortest path from `from` to `to` over the links standing now (both ends excluded); undefined if none. */
function pathBetween(net: RelayNet, from: RelayNode, to: RelayNode): PeerId[] | undefined {
  const previous = new Map<PeerId, PeerId>([[from.id, from.id]]);
  const queue: PeerId[] = [from.id];
  while (queue.length > 0) {
    const at = queue.shift() as PeerId;
    if (at === to.id) break;
    const node = net.byId.get(at);
    if (node === undefined || !node.honest) continue;
    for (const next of net.openLinks(node)) {
      if (previous.has(next)) continue;
      previous.set(next, at);
      queue.push(next);
    }
  }
  if (!previous.has(to.id)) return undefined;
  const path: PeerId[] = [];
  for (let at = previous.get(to.id) as PeerId; at !== from.id; at = previous.get(at) as PeerId) path.unshift(at);
  return path;
}

export async function runRelayFlood(options: Partial<RelayFloodOptions> = {}): Promise<RelayFloodResult> {
  const o: RelayFloodOptions = { ...DEFAULT_RELAY_FLOOD, ...options };
  const started = performance.now();
  const random = seededRandom(o.seed);
  const membership = overlay(o.peers, random);
  const net = new RelayNet(random, await loadNacl(), o.limits);
  const nodes = new Map<string, RelayNode>();
  for (const sim of membership.nodes) nodes.set(sim.id, net.add(true));
  for (const sim of membership.nodes) {
    for (const [peer, link] of sim.links) {
      if (sim.id < peer) net.link(nodes.get(sim.id) as RelayNode, nodes.get(peer) as RelayNode, link.latency);
    }
  }
  const honest = [...nodes.values()];
  // The target: a peer with a full active view (its honest neighbours are the ones at risk).
  const target = honest.find((n) => n.ends.size === 5) ?? honest[0];
  if (target === undefined) throw new Error('no peers');
  const targetNeighbours = [...target.ends.keys()];
  const attackers = Array.from({ length: o.attackers }, () => {
    const attacker = net.add(false);
    net.link(attacker, target, 20 + random() * 60);
    return attacker;
  });
  const nowhere = randomPeerId(random);
  const step = 1000 / RELAY_RATE;
  const sealed = new Uint8Array(SEAL_OVERHEAD_BYTES + 64);
  attackers.forEach((attacker, i) => {
    const send = (): void => {
      net.transmit(
        attacker.id,
        target.id,
        encodeRelay({
          id: crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES)),
          ttl: MAX_RELAY_TTL,
          from: attacker.id,
          to: nowhere,
          route: [],
          trail: [],
          sealed,
        }),
      );
      if (net.clock.now() + step < o.attackMs) net.clock.schedule(step, send);
    };
    net.clock.schedule((i * step) / o.attackers, send);
  });
  const sent: string[] = [];
  for (const node of honest) {
    const next = (): void => {
      const to = honest[randomInt(random, honest.length)] as RelayNode;
      const route = to === node ? undefined : pathBetween(net, node, to);
      if (route !== undefined && route.length > 0) {
        const content = {
          kind: 'message',
          sentAt: Math.floor(net.clock.now()),
          binary: true,
          payload: new Uint8Array(64),
          signature: new Uint8Array(64),
        } as const;
        const id = net.send(node, to.id, content, route);
        // Refused by our own pacing counts as not delivered.
        sent.push(id ?? `unsent${sent.length}`);
      }
      const wait = -Math.log(1 - random()) * (1000 / o.honestRate);
      if (net.clock.now() + wait < o.attackMs) net.clock.schedule(wait, next);
    };
    net.clock.schedule(random() * (1000 / o.honestRate), next);
  }
  net.clock.runUntil(o.attackMs + 1_000);
  const honestIds = new Set(honest.map((n) => n.id));
  const attackerIds = new Set(attackers.map((a) => a.id));
  const cuts = net.counters.cuts;
  const targetCuts = cuts.filter(
    (c) => (c.by === target.id && targetNeighbours.includes(c.peer)) || (c.peer === target.id && honestIds.has(c.by)),
  );
  const attackerCuts = cuts.filter((c) => attackerIds.has(c.peer) || attackerIds.has(c.by));
  const lastAt = (list: readonly { at: number }[], of: number): number | undefined =>
    list.length === of && of > 0 ? Math.max(...list.map((c) => c.at)) / 1000 : undefined;
  return {
    targetLinks: targetNeighbours.length,
    targetLinksCut: targetCuts.length,
    honestLinksCut: cuts.filter((c) => honestIds.has(c.by) && honestIds.has(c.peer)).length,
    targetIsolatedAt: lastAt(targetCuts, targetNeighbours.length),
    attackerLinksCut: attackerCuts.length,
    attackersCutAt: lastAt(attackerCuts, attackers.length),
    honestSent: sent.length,
    honestDelivered: sent.filter((id) => net.delivered.has(id)).length,
    frames: net.counters.frames,
    wallMs: performance.now() - started,
  };
}

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`bad --${name}`);
  return value;
}

async function main(): Promise<void> {
  const options = {
    peers: flag('peers', DEFAULT_RELAY_FLOOD.peers),
    attackMs: flag('seconds', DEFAULT_RELAY_FLOOD.attackMs / 1000) * 1000,
    seed: flag('seed', DEFAULT_RELAY_FLOOD.seed),
  };
  for (const [name, limits] of [
    ['defence off (before the fix)', RELAY_DEFENCE_OFF],
    ['defaults', DEFAULT_RELAY_LIMITS],
  ] as const) {
    const result = await runRelayFlood({ ...options, limits });
    process.stdout.write(`${name}: ${JSON.stringify(result)}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
