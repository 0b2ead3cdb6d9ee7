/**
 * Where a relayed frame goes next: pure, so the browser node and the
 * simulator decide alike (see docs/MEMBERSHIP.md, "Signals through the mesh").
 *
 * A frame follows its sender's route while it can (the reverse of a walk or
 * of an earlier frame's trail); it takes a shortcut to its recipient when a
 * forwarder holds a channel to it; otherwise it floods the forwarder's
 * neighbours, one hop less each time. Every forwarder appends itself to the
 * trail, so the recipient holds a way back. A frame that comes round to a
 * peer already on its trail, or whose hops are spent, stops.
 */

export interface RelayHeader<Id extends string> {
  readonly ttl: number;
  readonly from: Id;
  readonly to: Id;
  readonly route: readonly Id[];
  readonly trail: readonly Id[];
}

export type RelayDecision<Id extends string> =
  | { readonly action: 'deliver' }
  | { readonly action: 'forward'; readonly copies: readonly { readonly next: Id; readonly header: RelayHeader<Id> }[] }
  | { readonly action: 'drop'; readonly reason: 'loop' | 'hops spent' | 'no neighbour' };

/**
 * Decide for a frame that arrived from neighbour `arrivedFrom`. `neighbours`
 * are the peers we hold confirmed channels to; `maxPath` caps the trail;
 * a flood goes on with at most `floodTtl` hops.
 */
export function routeRelay<Id extends string>(
  self: Id,
  header: RelayHeader<Id>,
  neighbours: readonly Id[],
  arrivedFrom: Id,
  limits: { readonly maxPath: number; readonly floodTtl: number },
): RelayDecision<Id> {
  if (header.to === self) return { action: 'deliver' };
  if (header.from === self || header.trail.includes(self)) return { action: 'drop', reason: 'loop' };
  if (header.ttl === 0 || header.trail.length >= limits.maxPath) return { action: 'drop', reason: 'hops spent' };
  const onward = (next: Id, route: readonly Id[], ttl = header.ttl - 1): { next: Id; header: RelayHeader<Id> } => ({
    next,
    header: { ...header, ttl, route, trail: [...header.trail, self] },
  });
  if (neighbours.includes(header.to)) return { action: 'forward', copies: [onward(header.to, [])] };
  const [next, ...rest] = header.route;
  if (next !== undefined && next !== arrivedFrom && neighbours.includes(next)) {
    return { action: 'forward', copies: [onward(next, rest)] };
  }
  // No route (or a broken one): flood, skipping whoever already had it, within the flood's budget.
  const ttl = Math.min(header.ttl, limits.floodTtl) - 1;
  if (ttl < 0) return { action: 'drop', reason: 'hops spent' };
  const seen = new Set<Id>([arrivedFrom, header.from, ...header.trail]);
  const copies = neighbours.filter((peer) => !seen.has(peer)).map((peer) => onward(peer, [], ttl));
  return copies.length === 0 ? { action: 'drop', reason: 'no neighbour' } : { action: 'forward', copies };
}

/**
 * The first hop(s) for a frame we originate: along `route` when its first
 * peer is a neighbour (with `limits.routeTtl` hops), else to every neighbour
 * (a flood of `limits.floodTtl` hops).
 */
export function originateRelay<Id extends string>(
  from: Id,
  to: Id,
  route: readonly Id[],
  neighbours: readonly Id[],
  limits: { readonly routeTtl: number; readonly floodTtl: number },
): { readonly next: Id; readonly header: RelayHeader<Id> }[] {
  const [first, ...rest] = route;
  if (first !== undefined && neighbours.includes(first)) {
    return [{ next: first, header: { ttl: limits.routeTtl, from, to, route: rest, trail: [] } }];
  }
  const ttl = limits.floodTtl;
  return neighbours.map((next) => ({ next, header: { ttl, from, to, route: [], trail: [] } }));
}

/** The route back to a frame's sender, for whoever received it: its trail reversed. */
export function routeBack<Id extends string>(trail: readonly Id[]): Id[] {
  return [...trail].reverse();
}
