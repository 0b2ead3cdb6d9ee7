/**
 * Graph figures over the live nodes' active views, taken as undirected edges
 * (HyParView keeps them symmetric; asymmetric ones are counted apart).
 */
import type { SimNode } from './network.js';
import { randomInt } from './prng.js';

export interface Graph {
  /** Live node count. */
  readonly size: number;
  /** Undirected adjacency, by position in `nodes`. */
  readonly adjacency: readonly (readonly number[])[];
  readonly nodes: readonly SimNode[];
  /** Active-view entries whose peer does not list us back (or is dead). */
  readonly asymmetric: number;
}

export function buildGraph(all: readonly SimNode[]): Graph {
  const nodes = all.filter((n) => n.alive);
  const position = new Map<string, number>();
  nodes.forEach((n, i) => position.set(n.id, i));
  const sets = nodes.map(() => new Set<number>());
  let asymmetric = 0;
  nodes.forEach((node, i) => {
    for (const peer of node.membership.activeView()) {
      const j = position.get(peer);
      if (j === undefined) {
        asymmetric++;
        continue;
      }
      if (!(nodes[j] as SimNode).membership.activeView().includes(node.id)) asymmetric++;
      (sets[i] as Set<number>).add(j);
      (sets[j] as Set<number>).add(i);
    }
  });
  return { size: nodes.length, nodes, adjacency: sets.map((s) => [...s]), asymmetric };
}

/** Connected components (union of active-view edges). */
export function components(graph: Graph): number {
  const seen = new Uint8Array(graph.size);
  let count = 0;
  const stack: number[] = [];
  for (let start = 0; start < graph.size; start++) {
    if (seen[start] === 1) continue;
    count++;
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const v = stack.pop() as number;
      for (const w of graph.adjacency[v] as number[]) {
        if (seen[w] === 0) {
          seen[w] = 1;
          stack.push(w);
        }
      }
    }
  }
  return count;
}

/** Hop distances from `source` (-1 where unreachable or beyond `maxDepth`). */
export function bfs(graph: Graph, source: number, maxDepth = Infinity): Int32Array {
  const dist = new Int32Array(graph.size).fill(-1);
  bfsWithin(graph, source, maxDepth, dist);
  return dist;
}

/**
 * Breadth-first search from `source` up to `maxDepth` hops that costs only
 * what it reaches, not the graph's size, so that many small searches (the
 * route study's TTL-bounded floods) stay cheap at 100,000 peers. `dist`
 * (`graph.size` long) must hold -1 everywhere on entry; it gets each reached
 * node's distance. Returns the reached nodes (the source first, in order of
 * distance); the caller resets `dist` with them.
 */
export function bfsWithin(graph: Graph, source: number, maxDepth: number, dist: Int32Array): number[] {
  dist[source] = 0;
  const reached = [source];
  let start = 0;
  for (let depth = 1; depth <= maxDepth && start < reached.length; depth++) {
    const end = reached.length;
    for (let i = start; i < end; i++) {
      for (const w of graph.adjacency[reached[i] as number] as number[]) {
        if (dist[w] === -1) {
          dist[w] = depth;
          reached.push(w);
        }
      }
    }
    start = end;
  }
  return reached;
}

export interface PathStats {
  readonly average: number;
  /** Largest distance seen from the sampled sources (a lower bound on the diameter). */
  readonly maxEccentricity: number;
  /** Fraction of (source, node) pairs within the default broadcast hops. */
  readonly histogram: ReadonlyMap<number, number>;
}

/** Average shortest path from `samples` random sources to every reachable node. */
export function pathStats(graph: Graph, samples: number, random: () => number): PathStats {
  let total = 0;
  let pairs = 0;
  let max = 0;
  const histogram = new Map<number, number>();
  for (let s = 0; s < samples && graph.size > 0; s++) {
    const dist = bfs(graph, randomInt(random, graph.size));
    for (const d of dist) {
      if (d <= 0) continue;
      total += d;
      pairs++;
      max = Math.max(max, d);
      histogram.set(d, (histogram.get(d) ?? 0) + 1);
    }
  }
  return { average: pairs === 0 ? 0 : total / pairs, maxEccentricity: max, histogram };
}

/** Average local clustering coefficient. */
export function clustering(graph: Graph): number {
  let sum = 0;
  const sets = graph.adjacency.map((a) => new Set(a));
  graph.adjacency.forEach((neighbours) => {
    const k = neighbours.length;
    if (k < 2) return;
    let links = 0;
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        if ((sets[neighbours[a] as number] as Set<number>).has(neighbours[b] as number)) links++;
      }
    }
    sum += (2 * links) / (k * (k - 1));
  });
  return graph.size === 0 ? 0 : sum / graph.size;
}

/** Histogram of a list of integers, as "value: count" sorted by value. */
export function histogram(values: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([v, c]) => `${v}: ${c}`)
    .join(', ');
}
