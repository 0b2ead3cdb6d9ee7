/**
 * Whole-mesh views for browser tests: read every tab's connections and
 * active view, count components, and wait (on the nodes' own events, with a
 * bound) until the mesh as a whole looks the way a test needs.
 */
import type { Page } from 'playwright-core';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { TabmeshNode } from '../../web/tabmesh.js';

/** A member of a test's mesh: a tab, or a node in this process (a Node peer). */
export type Member = Page | TabmeshNode;

function isNode(member: Member): member is TabmeshNode {
  return 'neighbourhood' in member;
}

export interface TabState {
  readonly id: PeerId;
  readonly connections: PeerId[];
  readonly active: PeerId[];
}

export function stateOf(member: Member): Promise<TabState> {
  if (isNode(member)) {
    return Promise.resolve({
      id: member.id,
      connections: member.connections(),
      active: member.neighbourhood().active,
    });
  }
  return member.evaluate(() => {
    const node = window.tabmesh;
    if (node === undefined) throw new Error('no node');
    return { id: node.id, connections: node.connections(), active: node.neighbourhood().active };
  });
}

/** Connected components of the graph of channels among these tabs (links to other peers ignored). */
export function components(states: readonly TabState[]): PeerId[][] {
  const ids = new Set(states.map((s) => s.id));
  const edges = new Map<PeerId, Set<PeerId>>(states.map((s) => [s.id, new Set<PeerId>()]));
  for (const s of states) {
    for (const peer of s.connections) {
      if (!ids.has(peer)) continue;
      edges.get(s.id)?.add(peer);
      edges.get(peer)?.add(s.id);
    }
  }
  const seen = new Set<PeerId>();
  const result: PeerId[][] = [];
  for (const start of ids) {
    if (seen.has(start)) continue;
    const component: PeerId[] = [];
    const queue = [start];
    seen.add(start);
    while (queue.length > 0) {
      const id = queue.shift() as PeerId;
      component.push(id);
      for (const next of edges.get(id) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    result.push(component);
  }
  return result;
}

/** Resolves when any of the tabs reports a connection, disconnection or view change (or after `ms`). */
function nextChange(members: readonly Member[], ms: number): Promise<void> {
  return Promise.race(
    members.map((page) =>
      isNode(page)
        ? nodeChange(page, ms)
        : page
            .evaluate(
              (bound) =>
                new Promise<void>((resolve) => {
                  const node = window.tabmesh;
                  if (node === undefined) return resolve();
                  const done = (): void => resolve();
                  for (const type of ['peer:connect', 'peer:disconnect', 'neighbours'] as const) {
                    node.addEventListener(type, done, { once: true });
                  }
                  setTimeout(done, bound);
                }),
              ms,
            )
            // A tab closing while waited on counts as a change.
            .catch(() => undefined),
    ),
  );
}

/** Resolves when the node reports a connection, disconnection or view change (or after `ms`). */
function nodeChange(node: TabmeshNode, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const types = ['peer:connect', 'peer:disconnect', 'neighbours'] as const;
    const done = (): void => {
      clearTimeout(timer);
      for (const type of types) node.removeEventListener(type, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const type of types) node.addEventListener(type, done);
  });
}

/**
 * Re-read the tabs after each change until `check` passes; fails after
 * `timeoutMs` with the last states in the message.
 */
export async function waitForMesh(
  pages: readonly Member[],
  check: (states: TabState[]) => boolean,
  timeoutMs = 45_000,
): Promise<TabState[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(pages.map(stateOf));
    if (check(states)) return states;
    const left = deadline - Date.now();
    if (left <= 0) {
      const summary = states.map((s) => `${s.id.slice(0, 10)}: ${s.connections.length} links`).join(', ');
      throw new Error(`the mesh did not settle in ${timeoutMs} ms (${summary})`);
    }
    await nextChange(pages, Math.min(left, 2_000));
  }
}

/** One component, and every tab has at least one channel. */
export function isOneMesh(states: readonly TabState[]): boolean {
  return components(states).length === 1 && states.every((s) => s.connections.length > 0);
}

/**
 * One mesh at rest: one component, and every tab's channels are exactly its
 * active view (no handshake under way, no neighbour being dropped), so a
 * broadcast sent now meets no churn.
 */
export function isSettledMesh(states: readonly TabState[]): boolean {
  const same = (a: readonly string[], b: readonly string[]): boolean =>
    JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  // Each side counts a channel once the other's confirmation arrives, so for a
  // moment one side lists it and the other not; a broadcast sent then would
  // not cross it. At rest, every channel among these members is on both lists.
  const links = new Map(states.map((s) => [s.id, new Set(s.connections)]));
  const symmetric = states.every((s) => s.connections.every((peer) => links.get(peer)?.has(s.id) ?? true));
  return isOneMesh(states) && symmetric && states.every((s) => same(s.active, s.connections));
}
