/**
 * `npm run sim`: the real Membership and Flood code over a deterministic
 * in-memory network (test/sim/network.ts), for 10,000 peers by default.
 *
 *  1. Peers join one after another, each through a random joined contact,
 *     ticking every round meanwhile, all within JOIN_PHASE_MS of virtual time
 *     whatever their number; then stabilisation rounds.
 *  2. Figures of the stable overlay: degrees, components, shortest paths,
 *     clustering, broadcast reliability and messages per peer.
 *  3. How a signal could reach a passive peer we have no link to: the route
 *     recorded from the walk, against TTL-bounded floods.
 *  4. 50% of peers fail at once, then (on a fresh network built the same way)
 *     80%: broadcast reliability round by round.
 *
 * A round is one tick period: a broadcast from a random live peer, then every
 * peer's tick at its own offset within the round.
 *
 * Flags (or environment): --peers (SIM_PEERS, 10000), --seed (SIM_SEED, 1),
 * --stabilise (SIM_STABILISE, 10 rounds), --rounds (SIM_ROUNDS, 12 rounds after
 * a failure). Exits non-zero when a goal is missed. Each phase's wall time,
 * events and memory go to stderr as it ends and into a table at the end.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_BROADCAST_HOPS, MAX_BROADCAST_HOPS, MEMBERSHIP_TICK_MS } from '../../shared/limits.js';
import { DEFAULT_MEMBERSHIP_OPTIONS } from '../../shared/membership/hyparview.js';
import type { VirtualClock } from './clock.js';
import { bfsWithin, buildGraph, clustering, components, histogram, pathStats, type Graph } from './metrics.js';
import { SimNetwork, type SimNode } from './network.js';
import { randomInt, seededRandom, shuffleInPlace } from './prng.js';

// --- The goals (the one place their text and thresholds live) ---------------

interface Goal {
  readonly text: string;
  /** Failure fraction of the scenario (0: none). */
  readonly failed: number;
  /** The reliability must hold in this round and every later one. */
  readonly fromRound: number;
  readonly reliability: number;
}

const GOALS: readonly Goal[] = [
  { text: '100% broadcast reliability when nothing fails', failed: 0, fromRound: 1, reliability: 1 },
  { text: '≥ 99% from round 3 on after 50% fail at once', failed: 0.5, fromRound: 3, reliability: 0.99 },
  { text: '≥ 95% from round 5 on after 80% fail at once', failed: 0.8, fromRound: 5, reliability: 0.95 },
];

// --- Parameters ---------------------------------------------------------------

function flag(name: string, env: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const raw = index >= 0 ? process.argv[index + 1] : process.env[env];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`bad --${name}`);
  return value;
}

const PEERS = flag('peers', 'SIM_PEERS', 10_000);
const SEED = flag('seed', 'SIM_SEED', 1);
const STABILISE_ROUNDS = flag('stabilise', 'SIM_STABILISE', 10);
const FAILURE_ROUNDS = flag('rounds', 'SIM_ROUNDS', 12);
/**
 * Hops the simulated broadcasts start with. MAX_BROADCAST_HOPS (16), not
 * DEFAULT_BROADCAST_HOPS (8): at 10,000 peers some peers lie 9 hops away, and
 * the first copy to arrive has often come the long way round (it was faster,
 * not shorter), so 8 misses ~1.5% of peers. The run measures both.
 */
const HOPS = flag('hops', 'SIM_HOPS', MAX_BROADCAST_HOPS);
/**
 * Virtual time over which all peers join, whatever their number: 20 rounds
 * (10,000 peers: one every 10 ms). The join rate grows with the network, so
 * a peer sees the same join traffic at any size and the join phase costs
 * time linear in the peers. (At a fixed 10 ms per join, 100,000 peers would
 * take 200 rounds with every joined peer ticking: work growing as the
 * square of the peers, 350 million events per network.)
 */
const JOIN_PHASE_MS = 100_000;
const JOIN_INTERVAL_MS = JOIN_PHASE_MS / PEERS;
/** Contacts a joiner gets (the first is used, the rest become passive), like a small server sample. */
const JOIN_CONTACTS = 3;
/** Broadcasts measured on the stable overlay. */
const MEASURE_ROUNDS = 10;
const PATH_SOURCES = 50;
const ROUTE_PAIRS = 2_000;
const ROUND_MS = MEMBERSHIP_TICK_MS;

const log = (line = ''): void => void process.stdout.write(`${line}\n`);
const mib = (bytes: number): number => bytes / 2 ** 20;
const pct = (x: number, digits = 2): string => `${(100 * x).toFixed(digits)}%`;
const fmt = (x: number, digits = 2): string => x.toFixed(digits);

// --- Phase timer ----------------------------------------------------------------

interface Phase {
  readonly name: string;
  readonly seconds: number;
  /** Virtual-clock events run during the phase. */
  readonly events: number;
  /** Heap in use and resident set at its end. */
  readonly heapMiB: number;
  readonly rssMiB: number;
}

const phases: Phase[] = [];

/**
 * Run one phase of the simulation, timed: the phases are printed in a table
 * at the end, and each to stderr as it ends, to follow a long run.
 */
function phase<T>(name: string, clock: VirtualClock, run: () => T): T {
  const started = performance.now();
  const eventsBefore = clock.executed;
  const result = run();
  const memory = process.memoryUsage();
  const entry: Phase = {
    name,
    seconds: (performance.now() - started) / 1000,
    events: clock.executed - eventsBefore,
    heapMiB: mib(memory.heapUsed),
    rssMiB: mib(memory.rss),
  };
  phases.push(entry);
  process.stderr.write(
    `[sim ${PEERS}] ${name}: ${fmt(entry.seconds, 1)} s, ${entry.events} events, heap ${fmt(entry.heapMiB, 0)} MiB, RSS ${fmt(entry.rssMiB, 0)} MiB\n`,
  );
  return result;
}

interface RoundResult {
  readonly reliability: number;
  readonly membershipPerPeer: number;
  readonly broadcastPerPeer: number;
  readonly components: number;
  readonly fullViews: number;
  readonly emptyViews: number;
  /** Live peers whose active view is short by more than one. */
  readonly shortViews: number;
  readonly live: number;
}

/** One round: a broadcast from a random live peer, then one tick period. */
function round(net: SimNetwork, withGraph: boolean, hops = HOPS): RoundResult {
  const live = net.liveNodes().length;
  const before = { m: net.counters.membershipMessages, b: net.counters.broadcastMessages };
  const seq = net.broadcast(net.randomLive(), hops);
  net.clock.runUntil(net.clock.now() + ROUND_MS);
  const nodes = net.liveNodes();
  const sizes = nodes.map((n) => n.membership.activeView().length);
  return {
    reliability: net.reachedBy(seq) / live,
    membershipPerPeer: (net.counters.membershipMessages - before.m) / live,
    broadcastPerPeer: (net.counters.broadcastMessages - before.b) / live,
    components: withGraph ? components(buildGraph(net.nodes)) : NaN,
    fullViews: sizes.filter((s) => s === DEFAULT_MEMBERSHIP_OPTIONS.activeSize).length / nodes.length,
    emptyViews: sizes.filter((s) => s === 0).length,
    shortViews: sizes.filter((s) => s < DEFAULT_MEMBERSHIP_OPTIONS.activeSize - 1).length,
    live: nodes.length,
  };
}

interface Built {
  readonly net: SimNetwork;
  readonly stabilisation: RoundResult[];
  readonly joinMs: number;
  /** First stabilisation round with one component, ≥ 99% full views and a broadcast reaching all. */
  readonly convergedRound: number | undefined;
}

/** Network `label`: every peer joins, then the stabilisation rounds. */
function build(label: string): Built {
  const net = new SimNetwork(seededRandom(SEED));
  const started = performance.now();
  phase(`${label}: join`, net.clock, () => {
    const joined: SimNode[] = [];
    for (let i = 0; i < PEERS; i++) {
      // From the join count, not by adding up intervals (which need not be whole milliseconds).
      net.clock.runUntil(((i + 1) * JOIN_PHASE_MS) / PEERS);
      const node = net.addNode();
      if (joined.length > 0) {
        const contacts = Array.from(
          { length: Math.min(JOIN_CONTACTS, joined.length) },
          () => (joined[randomInt(net.random, joined.length)] as SimNode).id,
        );
        node.membership.join(contacts);
      }
      net.startTicking(node, ROUND_MS, net.random() * ROUND_MS);
      joined.push(node);
    }
    net.clock.runUntil(net.clock.now() + ROUND_MS);
  });
  const joinMs = performance.now() - started;
  const stabilisation: RoundResult[] = [];
  let convergedRound: number | undefined;
  phase(`${label}: ${STABILISE_ROUNDS} stabilisation rounds`, net.clock, () => {
    for (let r = 1; r <= STABILISE_ROUNDS; r++) {
      const result = round(net, true);
      stabilisation.push(result);
      if (
        convergedRound === undefined &&
        result.components === 1 &&
        result.fullViews >= 0.99 &&
        result.reliability === 1
      )
        convergedRound = r;
    }
  });
  return { net, stabilisation, joinMs, convergedRound };
}

function fail(net: SimNetwork, fraction: number): void {
  const live = shuffleInPlace(net.liveNodes(), net.random);
  for (const node of live.slice(0, Math.round(fraction * live.length))) net.kill(node);
}

// --- Signal routes to passive peers -------------------------------------------

function routeStudy(net: SimNetwork, graph: Graph): void {
  const position = new Map<string, number>();
  graph.nodes.forEach((n, i) => position.set(n.id, i));
  let withRoute = 0;
  let routeWorks = 0;
  let routeHops = 0;
  const ttls = [3, 4, 5, 6];
  const flood = ttls.map(() => ({ reached: 0, messages: 0 }));
  const maxTtl = Math.max(...ttls);
  // Hop distances from the source, reset after each pair (only what a search reached).
  const dist = new Int32Array(graph.size).fill(-1);
  let pairs = 0;
  for (let attempt = 0; attempt < ROUTE_PAIRS * 4 && pairs < ROUTE_PAIRS; attempt++) {
    const source = net.randomLive();
    const passive = source.membership.passiveView();
    const target = passive[randomInt(net.random, passive.length)];
    if (target === undefined || net.byId.get(target)?.alive !== true) continue;
    pairs++;
    const route = source.membership.routeTo(target);
    if (route.length > 0) {
      withRoute++;
      let previous = source;
      let works = true;
      for (const hop of route) {
        const next = net.byId.get(hop);
        if (next?.alive !== true || !previous.membership.activeView().includes(hop)) {
          works = false;
          break;
        }
        previous = next;
      }
      if (works && previous.membership.activeView().includes(target)) {
        routeWorks++;
        routeHops += route.length + 1;
      }
    }
    const s = position.get(source.id) as number;
    const t = position.get(target) as number;
    const reached = bfsWithin(graph, s, maxTtl, dist);
    ttls.forEach((ttl, k) => {
      const entry = flood[k] as { reached: number; messages: number };
      const d = dist[t] as number;
      if (d >= 0 && d <= ttl) entry.reached++;
      // The source sends to all its neighbours; each node reached before the last hop forwards to all but its sender.
      let messages = (graph.adjacency[s] as number[]).length;
      for (const v of reached) {
        const dv = dist[v] as number;
        if (dv >= 1 && dv < ttl) messages += (graph.adjacency[v] as number[]).length - 1;
      }
      entry.messages += messages;
    });
    for (const v of reached) dist[v] = -1;
  }
  log(`\n## Signals to a passive peer we have no link to (${pairs} random pairs)`);
  log('| method | delivered | hops (mean) | messages per signal |');
  log('|---|---:|---:|---:|');
  log(
    `| route recorded by the walk (held for ${pct(withRoute / pairs, 0)} of pairs) | ${pct(routeWorks / pairs, 1)} | ${
      routeWorks === 0 ? '-' : fmt(routeHops / routeWorks, 1)
    } | ${routeWorks === 0 ? '-' : fmt(routeHops / routeWorks, 1)} |`,
  );
  ttls.forEach((ttl, k) => {
    const entry = flood[k] as { reached: number; messages: number };
    log(
      `| flood over active views, TTL ${ttl} | ${pct(entry.reached / pairs, 1)} | ≤ ${ttl} | ${fmt(entry.messages / pairs, 0)} |`,
    );
  });
}

// --- The run ------------------------------------------------------------------

function failureScenario(built: Built, fraction: number): RoundResult[] {
  fail(built.net, fraction);
  const results: RoundResult[] = [];
  for (let r = 1; r <= FAILURE_ROUNDS; r++) results.push(round(built.net, true));
  return results;
}

function printRounds(title: string, rounds: readonly RoundResult[]): void {
  log(`\n## ${title}`);
  log(
    '| round | live | reliability | components | empty active views | short by 2+ | full active views | membership msgs/peer | broadcast msgs/peer |',
  );
  log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  rounds.forEach((r, i) =>
    log(
      `| ${i + 1} | ${r.live} | ${pct(r.reliability)} | ${r.components} | ${r.emptyViews} | ${r.shortViews} | ${pct(r.fullViews, 1)} | ${fmt(
        r.membershipPerPeer,
      )} | ${fmt(r.broadcastPerPeer)} |`,
    ),
  );
}

/** What the goals need from a network, once the network itself can be let go. */
interface Outcome {
  /** Rounds by failure fraction of the scenario (0: the stable overlay's measured broadcasts). */
  readonly rounds: ReadonlyMap<number, readonly RoundResult[]>;
  readonly events: number;
}

/**
 * Network 1: the stable overlay and its figures, the route study, then 50%
 * failure. Returns only the rounds, so the network is garbage by the time the
 * second is built (two live at once would double the peak memory).
 */
function firstNetwork(): Outcome {
  const first = build('network 1');
  const net = first.net;
  log(
    `\nJoined ${PEERS} peers (one every ${+JOIN_INTERVAL_MS.toPrecision(3)} ms of virtual time) in ${fmt(first.joinMs / 1000, 1)} s wall.`,
  );
  printRounds('Stabilisation rounds after the last join', first.stabilisation);
  log(
    `\nConverged (one component, ≥ 99% full active views, broadcast reached all) at round ${
      first.convergedRound ?? 'never'
    }.`,
  );

  const measured: RoundResult[] = [];
  const atDefaultHops: RoundResult[] = [];
  const measuring = `network 1: ${MEASURE_ROUNDS} measured broadcasts${
    HOPS === DEFAULT_BROADCAST_HOPS ? '' : `, and ${MEASURE_ROUNDS} with DEFAULT_BROADCAST_HOPS`
  }`;
  phase(measuring, net.clock, () => {
    for (let r = 0; r < MEASURE_ROUNDS; r++) measured.push(round(net, false));
    if (HOPS !== DEFAULT_BROADCAST_HOPS) {
      for (let r = 0; r < MEASURE_ROUNDS; r++) atDefaultHops.push(round(net, false, DEFAULT_BROADCAST_HOPS));
    }
  });
  const graph = phase('network 1: overlay figures (sampled paths, clustering)', net.clock, () => {
    const graph = buildGraph(net.nodes);
    const paths = pathStats(graph, PATH_SOURCES, net.random);
    const inDegree = new Map<string, number>();
    for (const node of graph.nodes)
      for (const p of node.membership.activeView()) inDegree.set(p, (inDegree.get(p) ?? 0) + 1);
    log('\n## The stable overlay');
    log(`- active view sizes: ${histogram(graph.nodes.map((n) => n.membership.activeView().length))}`);
    log(`- in-degree (listed in others' active views): ${histogram(graph.nodes.map((n) => inDegree.get(n.id) ?? 0))}`);
    log(`- passive view sizes: ${histogram(graph.nodes.map((n) => n.membership.passiveView().length))}`);
    log(`- asymmetric active-view entries: ${graph.asymmetric}`);
    log(`- connected components: ${components(graph)}`);
    log(
      `- average shortest path: ${fmt(paths.average)} hops (BFS from ${PATH_SOURCES} sources), largest distance seen ${paths.maxEccentricity}; distances: ${[
        ...paths.histogram.entries(),
      ]
        .sort((a, b) => a[0] - b[0])
        .map(([d, c]) => `${d}: ${c}`)
        .join(', ')}`,
    );
    log(`- clustering coefficient: ${fmt(clustering(graph), 4)}`);
    const minReliability = Math.min(...measured.map((r) => r.reliability));
    const mean = (f: (r: RoundResult) => number): number => measured.reduce((s, r) => s + f(r), 0) / measured.length;
    log(
      `- broadcast reliability over ${MEASURE_ROUNDS} broadcasts: min ${pct(minReliability)}, mean ${pct(mean((r) => r.reliability))}`,
    );
    log(`- messages per peer per broadcast: ${fmt(mean((r) => r.broadcastPerPeer))}`);
    if (atDefaultHops.length > 0) {
      const worst = Math.min(...atDefaultHops.map((r) => r.reliability));
      const average = atDefaultHops.reduce((sum, r) => sum + r.reliability, 0) / atDefaultHops.length;
      log(
        `- the same with DEFAULT_BROADCAST_HOPS (${DEFAULT_BROADCAST_HOPS}) instead of ${HOPS}: min ${pct(worst)}, mean ${pct(average)}`,
      );
    }
    log(`- membership messages per peer per round (shuffles, repairs): ${fmt(mean((r) => r.membershipPerPeer))}`);
    log(
      `- problems reported by the module: ${net.counters.problems} (severe ${net.counters.severeProblems}); sends without a link: ${net.counters.sendsWithoutLink}`,
    );
    for (const [reason, count] of net.counters.problemReasons) log(`  - ${reason}: ${count}`);
    return graph;
  });
  phase(`network 1: route study (${ROUTE_PAIRS} pairs)`, net.clock, () => routeStudy(net, graph));

  const half = phase(`network 1: 50% fail, ${FAILURE_ROUNDS} rounds`, net.clock, () => failureScenario(first, 0.5));
  printRounds('50% of peers fail at once (round 1 starts at the failure)', half);
  return {
    rounds: new Map([
      [0, measured],
      [0.5, half],
    ]),
    events: net.clock.executed,
  };
}

/** Network 2, built the same way: 80% failure. */
function secondNetwork(): Outcome {
  const second = build('network 2');
  const most = phase(`network 2: 80% fail, ${FAILURE_ROUNDS} rounds`, second.net.clock, () =>
    failureScenario(second, 0.8),
  );
  printRounds('80% of peers fail at once (a fresh network built the same way)', most);
  return { rounds: new Map([[0.8, most]]), events: second.net.clock.executed };
}

function main(): void {
  const started = performance.now();
  const options = DEFAULT_MEMBERSHIP_OPTIONS;
  log(`# Tabmesh membership simulation: ${PEERS} peers, seed ${SEED}`);
  log(
    `active ${options.activeSize}, passive ${options.passiveSize}, ARWL ${options.activeWalk}, PRWL ${options.passiveWalk}, shuffle walk ${options.shuffleWalk}, ka ${options.shuffleActive}, kp ${options.shufflePassive}, round ${ROUND_MS} ms, broadcast hops ${HOPS}`,
  );

  const outcomes = [firstNetwork(), secondNetwork()];

  // --- Goals ---
  const byFailure = new Map<number, readonly RoundResult[]>(outcomes.flatMap((o) => [...o.rounds]));
  log('\n## Goals');
  log('| goal | result | met |');
  log('|---|---|:---:|');
  let missed = 0;
  for (const goal of GOALS) {
    const rounds = (byFailure.get(goal.failed) ?? []).slice(goal.fromRound - 1);
    const worst = Math.min(...rounds.map((r) => r.reliability));
    const met = worst >= goal.reliability;
    if (!met) missed++;
    const first100 = (byFailure.get(goal.failed) ?? []).findIndex((r) => r.reliability >= goal.reliability);
    log(
      `| ${goal.text} | worst ${pct(worst)} from round ${goal.fromRound}${
        goal.failed > 0 ? `; first reached in round ${first100 < 0 ? 'never' : first100 + 1}` : ''
      } | ${met ? 'yes' : 'NO'} |`,
    );
  }

  log('\n## Phases');
  log('| phase | wall s | events | heap after, MiB | RSS after, MiB |');
  log('|---|---:|---:|---:|---:|');
  for (const p of phases) {
    log(`| ${p.name} | ${fmt(p.seconds, 1)} | ${p.events} | ${fmt(p.heapMiB, 0)} | ${fmt(p.rssMiB, 0)} |`);
  }
  const usage = process.resourceUsage();
  log(
    `\nWall time ${fmt((performance.now() - started) / 1000, 1)} s; peak RSS ${fmt(usage.maxRSS / 1024, 0)} MiB; heap now ${fmt(
      mib(process.memoryUsage().heapUsed),
      0,
    )} MiB; ${outcomes.reduce((sum, o) => sum + o.events, 0)} events.`,
  );
  if (missed > 0) {
    log(`${missed} goal(s) missed.`);
    process.exitCode = 1;
  }
}

main();
