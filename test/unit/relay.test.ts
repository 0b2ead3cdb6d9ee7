import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../shared/dedup.js';
import { originateRelay, routeBack, routeRelay, type RelayDecision, type RelayHeader } from '../../shared/relay.js';

type Id = string;
const LIMITS = { maxPath: 8, floodTtl: 4 };

function header(overrides: Partial<RelayHeader<Id>> = {}): RelayHeader<Id> {
  return { ttl: 8, from: 'a', to: 'z', route: [], trail: [], ...overrides };
}

function copies(decision: RelayDecision<Id>): readonly { next: Id; header: RelayHeader<Id> }[] {
  if (decision.action !== 'forward') throw new Error(`expected a forward, got ${JSON.stringify(decision)}`);
  return decision.copies;
}

describe('routeRelay', () => {
  it('delivers a frame addressed to us, whatever its hops, trail or route', () => {
    for (const h of [
      header({ to: 'me' }),
      header({ to: 'me', ttl: 0 }),
      header({ to: 'me', trail: ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }),
      header({ to: 'me', route: ['x'] }),
    ]) {
      expect(routeRelay('me', h, [], 'b', LIMITS)).toEqual({ action: 'deliver' });
    }
  });

  it.each<[string, RelayHeader<Id>]>([
    ['we are on its trail', header({ trail: ['b', 'me', 'c'] })],
    ['we are its sender', header({ from: 'me' })],
    ['we are its sender and on its trail', header({ from: 'me', trail: ['me'] })],
  ])('drops a loop: %s', (_what, h) => {
    expect(routeRelay('me', h, ['b', 'c', 'z'], 'c', LIMITS)).toEqual({ action: 'drop', reason: 'loop' });
  });

  it.each<[string, RelayHeader<Id>]>([
    ['no hops left, even with the recipient a neighbour', header({ ttl: 0 })],
    ['a full trail', header({ trail: ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] })],
    ['a trail over the cap', header({ trail: ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] })],
  ])('drops a frame with %s', (_what, h) => {
    expect(routeRelay('me', h, ['b', 'z', 'y'], 'b', LIMITS)).toEqual({ action: 'drop', reason: 'hops spent' });
  });

  it('drops a flood when the flood budget is zero', () => {
    expect(routeRelay('me', header(), ['b', 'c'], 'b', { maxPath: 8, floodTtl: 0 })).toEqual({
      action: 'drop',
      reason: 'hops spent',
    });
  });

  it('takes a shortcut to the recipient when it is a neighbour, ignoring the route', () => {
    const h = header({ ttl: 5, route: ['c', 'd'], trail: ['b'] });
    expect(copies(routeRelay('me', h, ['c', 'z', 'd'], 'b', LIMITS))).toEqual([
      { next: 'z', header: { ...h, ttl: 4, route: [], trail: ['b', 'me'] } },
    ]);
  });

  it('follows its route, dropping the first element', () => {
    const h = header({ ttl: 6, route: ['c', 'd', 'e'], trail: ['b'] });
    expect(copies(routeRelay('me', h, ['b', 'c', 'x'], 'b', LIMITS))).toEqual([
      { next: 'c', header: { ...h, ttl: 5, route: ['d', 'e'], trail: ['b', 'me'] } },
    ]);
  });

  it('follows a route with the full ttl, not capped by the flood budget', () => {
    const h = header({ ttl: 8, route: ['c'] });
    expect(copies(routeRelay('me', h, ['c', 'x'], 'a', LIMITS))[0]?.header.ttl).toBe(7);
  });

  it.each<[string, readonly Id[], Id]>([
    ['its next hop is not a neighbour', ['gone', 'd'], 'b'],
    ['its next hop is where it came from', ['b', 'd'], 'b'],
  ])('floods, within the flood budget, when the route is broken: %s', (_what, route, arrivedFrom) => {
    const h = header({ ttl: 8, route, trail: [] });
    const out = copies(routeRelay('me', h, ['b', 'c', 'd'], arrivedFrom, LIMITS));
    expect(out.map((c) => c.next)).toEqual(['c', 'd']);
    for (const copy of out) {
      expect(copy.header).toEqual({ ...h, ttl: LIMITS.floodTtl - 1, route: [], trail: ['me'] });
    }
  });

  it('floods to every neighbour but the one it came from, its sender and everyone on its trail', () => {
    const h = header({ ttl: 3, from: 'a', trail: ['t1', 't2'] });
    const out = copies(routeRelay('me', h, ['a', 't1', 'n1', 'prev', 't2', 'n2', 'n3'], 'prev', LIMITS));
    expect(out.map((c) => c.next)).toEqual(['n1', 'n2', 'n3']);
    for (const copy of out) expect(copy.header).toEqual({ ...h, ttl: 2, trail: ['t1', 't2', 'me'] });
  });

  it('drops with "no neighbour" when nobody is left to flood to', () => {
    const h = header({ from: 'a', trail: ['t1'] });
    expect(routeRelay('me', h, ['a', 't1', 'prev'], 'prev', LIMITS)).toEqual({
      action: 'drop',
      reason: 'no neighbour',
    });
    expect(routeRelay('me', h, [], 'prev', LIMITS)).toEqual({ action: 'drop', reason: 'no neighbour' });
  });

  it('leaves the header it was given untouched', () => {
    const trail = ['t1'];
    const route = ['c', 'd'];
    const h = header({ route, trail });
    routeRelay('me', h, ['c'], 't1', LIMITS);
    routeRelay('me', h, ['x', 'y'], 't1', LIMITS);
    expect(trail).toEqual(['t1']);
    expect(route).toEqual(['c', 'd']);
  });

  const idArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'me', 'z');
  const headerArb = fc.record({
    ttl: fc.integer({ min: 0, max: 10 }),
    from: idArb,
    to: idArb,
    route: fc.array(idArb, { maxLength: 10 }),
    trail: fc.array(idArb, { maxLength: 10 }),
  });

  it('decides as documented for any header, neighbours and budgets (10000 cases)', () => {
    fc.assert(
      fc.property(
        headerArb,
        fc.uniqueArray(idArb, { maxLength: 8 }),
        idArb,
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        (h, neighbours, arrivedFrom, floodTtl, maxPath) => {
          const decision = routeRelay('me', h, neighbours, arrivedFrom, { maxPath, floodTtl });
          const extended = [...h.trail, 'me'];
          const [next, ...rest] = h.route;
          let expected: RelayDecision<Id>;
          if (h.to === 'me') expected = { action: 'deliver' };
          else if (h.from === 'me' || h.trail.includes('me')) expected = { action: 'drop', reason: 'loop' };
          else if (h.ttl === 0 || h.trail.length >= maxPath) expected = { action: 'drop', reason: 'hops spent' };
          else if (neighbours.includes(h.to))
            expected = {
              action: 'forward',
              copies: [{ next: h.to, header: { ...h, ttl: h.ttl - 1, route: [], trail: extended } }],
            };
          else if (next !== undefined && next !== arrivedFrom && neighbours.includes(next))
            expected = {
              action: 'forward',
              copies: [{ next, header: { ...h, ttl: h.ttl - 1, route: rest, trail: extended } }],
            };
          else if (Math.min(h.ttl, floodTtl) === 0) expected = { action: 'drop', reason: 'hops spent' };
          else {
            const targets = neighbours.filter((n) => n !== arrivedFrom && n !== h.from && !h.trail.includes(n));
            const ttl = Math.min(h.ttl, floodTtl) - 1;
            expected =
              targets.length === 0
                ? { action: 'drop', reason: 'no neighbour' }
                : {
                    action: 'forward',
                    copies: targets.map((n) => ({ next: n, header: { ...h, ttl, route: [], trail: extended } })),
                  };
          }
          expect(decision).toEqual(expected);
          if (decision.action === 'forward') {
            for (const copy of decision.copies) {
              expect(copy.header.ttl).toBeGreaterThanOrEqual(0);
              expect(copy.header.ttl).toBeLessThan(h.ttl);
              expect(copy.header.trail.length).toBeLessThanOrEqual(maxPath);
            }
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe('originateRelay', () => {
  const limits = { routeTtl: 8, floodTtl: 4 };

  it('sends along a route whose first peer is a neighbour, with routeTtl hops', () => {
    expect(originateRelay('a', 'z', ['b', 'c', 'd'], ['x', 'b'], limits)).toEqual([
      { next: 'b', header: { ttl: 8, from: 'a', to: 'z', route: ['c', 'd'], trail: [] } },
    ]);
  });

  it('floods every neighbour with floodTtl hops when there is no route', () => {
    expect(originateRelay('a', 'z', [], ['b', 'c'], limits)).toEqual([
      { next: 'b', header: { ttl: 4, from: 'a', to: 'z', route: [], trail: [] } },
      { next: 'c', header: { ttl: 4, from: 'a', to: 'z', route: [], trail: [] } },
    ]);
  });

  it('floods when the route starts with someone who is not a neighbour', () => {
    const out = originateRelay('a', 'z', ['gone', 'c'], ['b', 'c'], limits);
    expect(out.map((c) => c.next)).toEqual(['b', 'c']);
    for (const c of out) expect(c.header).toEqual({ ttl: 4, from: 'a', to: 'z', route: [], trail: [] });
  });

  it('sends nothing with no neighbour', () => {
    expect(originateRelay('a', 'z', ['b'], [], limits)).toEqual([]);
    expect(originateRelay('a', 'z', [], [], limits)).toEqual([]);
  });
});

describe('routeBack', () => {
  it('reverses the trail without touching it', () => {
    const trail = ['b', 'c', 'd'];
    expect(routeBack(trail)).toEqual(['d', 'c', 'b']);
    expect(trail).toEqual(['b', 'c', 'd']);
    expect(routeBack([])).toEqual([]);
  });
});

// --- A small network ----------------------------------------------------------

/** A connected graph: a random spanning tree, then extra edges while degrees stay ≤ maxDegree. */
const graphArb = fc
  .record({
    size: fc.integer({ min: 5, max: 40 }),
    maxDegree: fc.integer({ min: 2, max: 5 }),
    seed: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
  })
  .map(({ size, maxDegree, seed }) => {
    let i = 0;
    const next = (n: number): number => (seed[i++ % seed.length] ?? 0) % n;
    const nodes = Array.from({ length: size }, (_, k) => `n${k}`);
    const adjacent = new Map<Id, Id[]>(nodes.map((node) => [node, []]));
    const link = (x: Id, y: Id): void => {
      adjacent.get(x)?.push(y);
      adjacent.get(y)?.push(x);
    };
    const degree = (x: Id): number => adjacent.get(x)?.length ?? 0;
    for (let k = 1; k < size; k++) {
      // Attach to an earlier node with room (a tree always has a leaf, so there is one).
      const candidates = nodes.slice(0, k).filter((node) => degree(node) < maxDegree);
      const to = candidates[next(candidates.length)] ?? nodes[k - 1] ?? 'n0';
      link(nodes[k] ?? 'n0', to);
    }
    for (let extra = 0; extra < size; extra++) {
      const x = nodes[next(size)] ?? 'n0';
      const y = nodes[next(size)] ?? 'n0';
      if (x === y || degree(x) >= maxDegree || degree(y) >= maxDegree || adjacent.get(x)?.includes(y)) continue;
      link(x, y);
    }
    return { nodes, adjacent, pick: [next(size), next(size - 1)] as const };
  });

interface Delivery {
  at: Id;
  trail: readonly Id[];
  hops: number;
  visited: readonly Id[];
}

/**
 * Deliver one frame through the graph as web/node/mesh.ts does: every node
 * drops a frame ID it has seen, then applies routeRelay. `order` picks the
 * next frame in flight (0: first in, first out).
 */
function simulate(
  adjacent: ReadonlyMap<Id, readonly Id[]>,
  from: Id,
  to: Id,
  route: readonly Id[],
  limits: { routeTtl: number; floodTtl: number; maxPath: number },
  order: (inFlight: number) => number,
): { deliveries: Delivery[]; forwardsPerNode: Map<Id, number> } {
  const seen = new Map<Id, RecentSet>([...adjacent.keys()].map((node) => [node, new RecentSet(16)]));
  seen.get(from)?.add('frame');
  const inFlight: { at: Id; arrivedFrom: Id; header: RelayHeader<Id>; visited: Id[] }[] = originateRelay(
    from,
    to,
    route,
    adjacent.get(from) ?? [],
    limits,
  ).map(({ next, header }) => ({ at: next, arrivedFrom: from, header, visited: [from, next] }));
  const deliveries: Delivery[] = [];
  const forwardsPerNode = new Map<Id, number>();
  while (inFlight.length > 0) {
    const [frame] = inFlight.splice(order(inFlight.length), 1);
    if (frame === undefined) break;
    if (seen.get(frame.at)?.add('frame') === false) continue;
    const decision = routeRelay(frame.at, frame.header, adjacent.get(frame.at) ?? [], frame.arrivedFrom, limits);
    if (decision.action === 'deliver') {
      deliveries.push({
        at: frame.at,
        trail: frame.header.trail,
        hops: frame.visited.length - 1,
        visited: frame.visited,
      });
    } else if (decision.action === 'forward') {
      forwardsPerNode.set(frame.at, (forwardsPerNode.get(frame.at) ?? 0) + 1);
      for (const { next, header } of decision.copies) {
        inFlight.push({ at: next, arrivedFrom: frame.at, header, visited: [...frame.visited, next] });
      }
    }
  }
  return { deliveries, forwardsPerNode };
}

describe('relaying through a network', () => {
  it('a flood reaches its recipient exactly once (FIFO), and the reply follows the trail back hop by hop (2000 graphs)', () => {
    let longest = 0;
    fc.assert(
      fc.property(graphArb, ({ nodes, adjacent, pick }) => {
        const a = nodes[pick[0]] ?? 'n0';
        const b = nodes.filter((n) => n !== a)[pick[1]] ?? 'n1';
        const budget = nodes.length;
        const limits = { routeTtl: budget, floodTtl: budget, maxPath: budget };
        const there = simulate(adjacent, a, b, [], limits, () => 0);
        expect(there.deliveries).toHaveLength(1);
        const [request] = there.deliveries;
        if (request === undefined) return;
        expect(request.at).toBe(b);
        expect(request.hops).toBe(request.trail.length + 1);
        // No node forwards the same frame twice.
        for (const count of there.forwardsPerNode.values()) expect(count).toBe(1);
        // The trail is a path of the graph from a to b.
        const path = [a, ...request.trail, b];
        for (let k = 1; k < path.length; k++) expect(adjacent.get(path[k - 1] ?? '')).toContain(path[k]);

        longest = Math.max(longest, request.trail.length);
        const back = simulate(adjacent, b, a, routeBack(request.trail), limits, () => 0);
        expect(back.deliveries).toHaveLength(1);
        const [reply] = back.deliveries;
        expect(reply?.at).toBe(a);
        expect(reply?.hops).toBe(request.trail.length + 1);
        expect(reply?.visited).toEqual([...path].reverse());
        // Along a route nobody floods: one forward per hop. (With no trail, a and b
        // are neighbours and the reply floods; its direct copy still comes first.)
        if (request.trail.length > 0) {
          expect([...back.forwardsPerNode.values()].reduce((sum, n) => sum + n, 0)).toBe(request.trail.length);
        }
      }),
      { numRuns: 2_000 },
    );
    // The graphs were not all trivial: some requests crossed several forwarders.
    expect(longest).toBeGreaterThanOrEqual(4);
  });

  it('a flood reaches its recipient exactly once in any delivery order, and the reply comes back in at most as many hops (2000 graphs)', () => {
    fc.assert(
      fc.property(
        graphArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 100 }),
        ({ nodes, adjacent, pick }, picks) => {
          const a = nodes[pick[0]] ?? 'n0';
          const b = nodes.filter((n) => n !== a)[pick[1]] ?? 'n1';
          const budget = nodes.length;
          const limits = { routeTtl: budget, floodTtl: budget, maxPath: budget };
          let k = 0;
          const order = (n: number): number => (picks[k++ % picks.length] ?? 0) % n;
          const there = simulate(adjacent, a, b, [], limits, order);
          expect(there.deliveries).toHaveLength(1);
          const [request] = there.deliveries;
          if (request === undefined) return;
          expect(request.at).toBe(b);
          const back = simulate(adjacent, b, a, routeBack(request.trail), limits, order);
          expect(back.deliveries).toHaveLength(1);
          expect(back.deliveries[0]?.at).toBe(a);
          // With a route (the request came through forwarders), a forwarder next to
          // the sender may take the shortcut, so the reply is never longer. With none
          // (a and b are neighbours and the direct copy came first) the reply floods.
          if (request.trail.length > 0) expect(back.deliveries[0]?.hops).toBeLessThanOrEqual(request.trail.length + 1);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('a flood with too few hops for the distance does not arrive', () => {
    // A line a - b - c - d - e: e is four hops from a, d is the last forwarder.
    const line = ['a', 'b', 'c', 'd', 'e'];
    const adjacent = new Map(line.map((n, k) => [n, [line[k - 1], line[k + 1]].filter((x) => x !== undefined)]));
    const reach = (floodTtl: number): number =>
      simulate(adjacent, 'a', 'e', [], { routeTtl: 8, floodTtl, maxPath: 8 }, () => 0).deliveries.length;
    // The first hop is the sender's; the ttl counts the hops after it.
    expect(reach(2)).toBe(0);
    expect(reach(3)).toBe(1);
    // The trail cap stops it too: three forwarders need a maxPath of 3.
    expect(simulate(adjacent, 'a', 'e', [], { routeTtl: 8, floodTtl: 8, maxPath: 2 }, () => 0).deliveries).toEqual([]);
    expect(simulate(adjacent, 'a', 'e', [], { routeTtl: 8, floodTtl: 8, maxPath: 3 }, () => 0).deliveries).toHaveLength(
      1,
    );
  });
});
