/**
 * The Neighbourhood card and the detail panel beside it: the graph of the
 * peers around this tab, its one-line summary, and the selected peer's
 * details.
 */
import type { PeerId, TabmeshNode } from '../tabmesh.js';
import { renderDetail } from './detail.js';
import { $, setText } from './dom.js';
import { MAX_KNOWN_SHOWN, NeighbourhoodGraph, type GraphPeer, type PeerKind } from './graph.js';

/** What the graph shows: each peer once, in the strongest role it has. */
export function graphPeers(node: TabmeshNode): { peers: GraphPeer[]; hiddenKnown: number } {
  const names = new Map(node.knownPeers().map((p) => [p.id, p.name]));
  const connected = new Set(node.connections());
  const { active, passive } = node.neighbourhood();
  const attempts = new Set(
    node
      .links()
      .filter((l) => l.state !== 'connected' && l.state !== 'closed')
      .map((l) => l.peer),
  );
  const kinds = new Map<PeerId, GraphPeer['kind']>();
  for (const peer of connected) kinds.set(peer, 'active');
  for (const peer of passive) if (!kinds.has(peer)) kinds.set(peer, 'passive');
  for (const peer of [...attempts, ...active]) if (!kinds.has(peer)) kinds.set(peer, 'connecting');
  let known = 0;
  let hiddenKnown = 0;
  for (const id of names.keys()) {
    if (kinds.has(id) || id === node.id) continue;
    if (known++ < MAX_KNOWN_SHOWN) kinds.set(id, 'known');
    else hiddenKnown++;
  }
  return { peers: [...kinds].map(([id, kind]) => ({ id, kind, name: names.get(id) })), hiddenKnown };
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** The line above the graph: how many peers of each kind, and how many are not drawn. */
export function summaryText(peers: readonly GraphPeer[], hiddenKnown: number): string {
  const count = (kind: PeerKind): number => peers.filter((p) => p.kind === kind).length;
  return [
    `Connected to ${plural(count('active'), 'peer')}`,
    count('connecting') > 0 ? `${count('connecting')} connecting` : '',
    `${count('passive')} in reserve`,
    `${count('known') + hiddenKnown} more known${hiddenKnown > 0 ? ` (${hiddenKnown} not drawn)` : ''}`,
  ]
    .filter((s) => s !== '')
    .join(' · ');
}

export class Neighbourhood {
  private readonly graph: NeighbourhoodGraph;

  /** `onSelect` runs when another peer is selected (its details are then due). */
  constructor(
    private readonly node: TabmeshNode,
    private readonly selfName: string | undefined,
    private readonly label: (peer: PeerId) => string,
    onSelect: () => void,
  ) {
    this.graph = new NeighbourhoodGraph($('#graph', SVGSVGElement), node.id, () => {
      $('#detail-result').textContent = '';
      onSelect();
    });
  }

  /** The peer whose details show. */
  get selection(): PeerId {
    return this.graph.selection;
  }

  /** Select `peer` and move keyboard focus to it in the graph. */
  focus(peer: PeerId): void {
    this.graph.focus(peer);
  }

  render(now: number): void {
    const { node } = this;
    const { peers, hiddenKnown } = graphPeers(node);
    this.graph.update(this.selfName, peers);
    setText($('#graph-summary'), summaryText(peers, hiddenKnown));
    const peer = this.graph.selection;
    const kind = peer === node.id ? 'self' : (peers.find((p) => p.id === peer)?.kind ?? 'known');
    renderDetail(node, peer, kind, this.label, now);
  }
}
