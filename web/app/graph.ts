/**
 * The neighbourhood graph: this tab in the centre, its connected neighbours
 * (and attempts under way) on the inner ring with links to it, the passive
 * view on the middle ring, and other known peers faded on the outer ring.
 *
 * Plain SVG, updated in place: nodes move along their rings with CSS
 * transitions, links draw themselves in and fade out. Each element carries
 * what it shows (`data-peer`, `data-kind`, `data-link`) for tests and styles.
 * The nodes are a listbox with one tab stop: arrow keys, Home and End move
 * between peers, and focus (or a click) selects one for the detail panel.
 */
import { shortPeerId, type PeerId } from '../tabmesh.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * - `self`: this tab;
 * - `active`: an open, confirmed channel (drawn linked);
 * - `connecting`: a channel being set up, or an active-view neighbour without one yet (dashed link);
 * - `passive`: in the passive view (known in reserve, no channel);
 * - `known`: in the record cache only.
 */
export type PeerKind = 'self' | 'active' | 'connecting' | 'passive' | 'known';

/**
 * Each kind in words: the detail panel's chip, and (in lower case) what the
 * graph's nodes say of themselves to assistive technology. index.html's
 * legend writes the same words, with "(passive view)" after "In reserve".
 */
export const KIND_NAMES: Record<PeerKind, string> = {
  self: 'This tab',
  active: 'Connected',
  connecting: 'Connecting',
  passive: 'In reserve',
  known: 'Known',
};

export interface GraphPeer {
  readonly id: PeerId;
  readonly kind: Exclude<PeerKind, 'self'>;
  readonly name: string | undefined;
}

/** The view box, centred on this tab: wider than tall, like the card it sits in. */
const VIEW = { width: 860, height: 480 } as const;
/** Rings are ellipses: vertical radii here, horizontal ones RING_ASPECT times wider. */
const RADIUS = { active: 112, connecting: 112, passive: 170, known: 214 } as const;
const RING_ASPECT = 1.7;
const NODE_SIZE = { self: 24, active: 14, connecting: 12, passive: 9, known: 6 } as const;
/** Outer-ring peers drawn at most (the cache holds up to 200); the summary counts the rest. */
export const MAX_KNOWN_SHOWN = 48;
/** Passive peers are labelled only while the ring has room for the labels. */
const MAX_LABELLED_PASSIVE = 8;
/** How long a departing node or link takes to fade out (matches style.css). */
const LEAVE_MS = 400;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

/** `label` shown under a node: the display name if any, else the short ID. */
export function peerLabel(id: PeerId, name: string | undefined): string {
  return name ?? shortPeerId(id);
}

/** A peer's place around this tab: polar (degrees, 0 = right, clockwise; view-box units) and its ring. */
export interface Position {
  readonly angle: number;
  readonly distance: number;
  readonly ring: number;
}

/**
 * Where each peer goes: ring by ring, in ID order, spread evenly from the
 * top. Polar, so a node and its link, moved by the same rotation and length,
 * stay joined all through a transition.
 */
export function layout(peers: readonly GraphPeer[]): Map<PeerId, Position> {
  const rings: GraphPeer['kind'][][] = [['active', 'connecting'], ['passive'], ['known']];
  const placed = new Map<PeerId, Position>();
  rings.forEach((kinds, ring) => {
    const members = peers.filter((p) => kinds.includes(p.kind)).sort((a, b) => (a.id < b.id ? -1 : 1));
    const step = (2 * Math.PI) / Math.max(1, members.length);
    // Rings start half a step apart, so outer peers sit between inner ones.
    const start = -Math.PI / 2 + (ring % 2 === 1 ? step / 2 : 0);
    members.forEach((peer, i) => {
      const theta = start + i * step;
      const x = RADIUS[peer.kind] * RING_ASPECT * Math.cos(theta);
      const y = RADIUS[peer.kind] * Math.sin(theta);
      placed.set(peer.id, { angle: (Math.atan2(y, x) * 180) / Math.PI, distance: Math.hypot(x, y), ring });
    });
  });
  return placed;
}

/** The target angle expressed closest to `previous`, so a transition turns the short way round. */
function nearestAngle(previous: number | undefined, target: number): number {
  if (previous === undefined) return target;
  return previous + ((((target - previous) % 360) + 540) % 360) - 180;
}

interface NodeView {
  readonly group: SVGGElement;
  readonly dot: SVGCircleElement;
  readonly label: SVGTextElement;
  readonly title: SVGTitleElement;
  angle: number | undefined;
  key: string;
}

export class NeighbourhoodGraph {
  private readonly linkLayer: SVGGElement;
  private readonly nodeLayer: SVGGElement;
  private readonly nodes = new Map<PeerId, NodeView>();
  private readonly links = new Map<PeerId, SVGLineElement>();
  private order: PeerId[] = [];
  private selected: PeerId;

  constructor(
    root: SVGSVGElement,
    private readonly self: PeerId,
    private readonly onSelect: (peer: PeerId) => void,
  ) {
    this.selected = self;
    root.setAttribute('viewBox', `${-VIEW.width / 2} ${-VIEW.height / 2} ${VIEW.width} ${VIEW.height}`);
    const rings = svg('g', { class: 'rings', 'aria-hidden': 'true' });
    for (const ry of [RADIUS.active, RADIUS.passive, RADIUS.known]) {
      rings.append(svg('ellipse', { rx: ry * RING_ASPECT, ry }));
    }
    this.linkLayer = svg('g', { class: 'links', 'aria-hidden': 'true' });
    this.nodeLayer = svg('g', { class: 'nodes', role: 'listbox', 'aria-label': 'Peers around this tab' });
    root.replaceChildren(rings, this.linkLayer, this.nodeLayer);
    this.nodeLayer.addEventListener('focusin', (event) => {
      const peer = (event.target as Element).closest('[data-peer]')?.getAttribute('data-peer');
      if (peer !== null && peer !== undefined) this.select(peer as PeerId);
    });
    this.nodeLayer.addEventListener('click', (event) => {
      const target = (event.target as Element).closest<SVGGElement>('[data-peer]');
      target?.focus();
    });
    this.nodeLayer.addEventListener('keydown', (event) => this.key(event));
  }

  /** The peer shown in the detail panel. */
  get selection(): PeerId {
    return this.selected;
  }

  /** Select `peer` and move keyboard focus to it when it is drawn. */
  focus(peer: PeerId): void {
    this.nodes.get(peer)?.group.focus();
  }

  update(selfName: string | undefined, peers: readonly GraphPeer[]): void {
    const positions = layout(peers);
    const present = new Set<PeerId>([this.self]);
    this.place(this.self, 'self', selfName, undefined);
    for (const peer of peers) {
      present.add(peer.id);
      this.place(peer.id, peer.kind, peer.name, positions.get(peer.id));
    }
    for (const [id, view] of this.nodes) if (!present.has(id)) this.leave(id, view);
    // Links: a solid one per connection, a dashed one per attempt.
    const linked = new Map(peers.filter((p) => p.kind === 'active' || p.kind === 'connecting').map((p) => [p.id, p]));
    for (const [id, peer] of linked) {
      const position = positions.get(id);
      if (position !== undefined) this.link(id, peer.kind === 'active' ? 'active' : 'connecting', position.distance);
    }
    for (const [id, line] of this.links) if (!linked.has(id)) this.unlink(id, line);
    // Keyboard order: this tab, then ring by ring, clockwise.
    const clockwise = (angle: number): number => (angle + 450) % 360;
    this.order = [
      this.self,
      ...[...positions]
        .sort(([, a], [, b]) => a.ring - b.ring || clockwise(a.angle) - clockwise(b.angle))
        .map(([id]) => id),
    ];
    if (!this.nodes.has(this.selected)) this.select(this.self);
    else this.roving();
  }

  private place(id: PeerId, kind: PeerKind, name: string | undefined, position: Position | undefined): void {
    let view = this.nodes.get(id);
    const entering = view === undefined;
    if (view === undefined) {
      const group = svg('g', { class: 'node entering', 'data-peer': id, role: 'option', tabindex: -1 });
      const dot = svg('circle', { class: 'dot' });
      const label = svg('text', { class: 'label', 'text-anchor': 'middle', 'aria-hidden': 'true' });
      const title = svg('title');
      group.append(title, dot, label);
      view = { group, dot, label, title, angle: undefined, key: '' };
      this.nodes.set(id, view);
      this.nodeLayer.append(group);
      group.addEventListener('animationend', () => group.classList.remove('entering'), { once: true });
    }
    const labelled = kind !== 'known' && (kind !== 'passive' || this.countOf('passive') <= MAX_LABELLED_PASSIVE);
    const text = kind === 'self' ? 'you' : peerLabel(id, name);
    const key = `${kind}|${name ?? ''}|${String(labelled)}`;
    if (view.key !== key) {
      view.key = key;
      view.group.setAttribute('data-kind', kind);
      const r = NODE_SIZE[kind];
      view.dot.setAttribute('r', String(r));
      view.label.textContent = labelled ? text : '';
      const described = `${name === undefined ? '' : `${name}, `}${kind === 'self' ? 'this tab' : shortPeerId(id)}: ${KIND_NAMES[kind].toLowerCase()}`;
      view.title.textContent = `${described}\n${id}`;
      view.group.setAttribute('aria-label', described);
    }
    if (position === undefined) {
      // This tab: its label sits inside its node, clear of the links around it.
      view.label.setAttribute('y', '0');
      view.label.setAttribute('dominant-baseline', 'central');
      view.group.style.transform = 'none';
      return;
    }
    this.placeLabel(view.label, position.angle, NODE_SIZE[kind]);
    const angle = nearestAngle(view.angle, position.angle);
    view.angle = angle;
    const transform = `rotate(${angle.toFixed(2)}deg) translate(${position.distance.toFixed(1)}px) rotate(${(-angle).toFixed(2)}deg)`;
    if (entering || view.group.style.transform !== transform) view.group.style.transform = transform;
  }

  /** Labels go on the outer side of their node, away from its link. */
  private placeLabel(label: SVGTextElement, angle: number, size: number): void {
    const radians = (angle * Math.PI) / 180;
    const [cos, sin] = [Math.cos(radians), Math.sin(radians)];
    label.setAttribute('x', (cos * (size + 6)).toFixed(1));
    label.setAttribute('y', (sin * (size + 10)).toFixed(1));
    label.setAttribute('dominant-baseline', 'central');
    label.setAttribute('text-anchor', Math.abs(cos) < 0.35 ? 'middle' : cos > 0 ? 'start' : 'end');
  }

  private countOf(kind: PeerKind): number {
    let count = 0;
    for (const view of this.nodes.values()) if (view.group.getAttribute('data-kind') === kind) count++;
    return count;
  }

  private leave(id: PeerId, view: NodeView): void {
    this.nodes.delete(id);
    const { group } = view;
    group.removeAttribute('data-peer');
    group.removeAttribute('data-kind');
    group.removeAttribute('role');
    group.removeAttribute('tabindex');
    group.setAttribute('aria-hidden', 'true');
    group.classList.add('leaving');
    setTimeout(() => group.remove(), LEAVE_MS);
  }

  /**
   * A unit line from the centre, turned and stretched to the peer (the nodes
   * cover both ends); its stroke keeps its width however far it stretches.
   */
  private link(id: PeerId, state: 'active' | 'connecting', distance: number): void {
    const angle = this.nodes.get(id)?.angle ?? 0;
    let line = this.links.get(id);
    if (line === undefined) {
      line = svg('line', { class: 'link', x1: 0, y1: 0, x2: 1, y2: 0, 'vector-effect': 'non-scaling-stroke' });
      this.links.set(id, line);
      this.linkLayer.append(line);
    }
    line.style.transform = `rotate(${angle.toFixed(2)}deg) scaleX(${distance.toFixed(1)})`;
    if (state === 'active' && !line.hasAttribute('data-link')) {
      line.removeAttribute('data-attempt');
      line.setAttribute('data-link', id);
      line.classList.remove('attempt');
      line.classList.add('opened');
    } else if (state === 'connecting' && !line.hasAttribute('data-attempt')) {
      line.removeAttribute('data-link');
      line.setAttribute('data-attempt', id);
      line.classList.add('attempt');
    }
  }

  private unlink(id: PeerId, line: SVGLineElement): void {
    this.links.delete(id);
    line.removeAttribute('data-link');
    line.removeAttribute('data-attempt');
    line.classList.add('leaving');
    setTimeout(() => line.remove(), LEAVE_MS);
  }

  private select(peer: PeerId): void {
    if (this.selected !== peer) {
      this.selected = peer;
      this.onSelect(peer);
    }
    this.roving();
  }

  /** One tab stop: the selected node. */
  private roving(): void {
    for (const [id, view] of this.nodes) {
      view.group.setAttribute('tabindex', id === this.selected ? '0' : '-1');
      view.group.setAttribute('aria-selected', String(id === this.selected));
    }
  }

  private key(event: KeyboardEvent): void {
    const index = this.order.indexOf(this.selected);
    let next: number;
    switch (event.key) {
      case 'ArrowRight':
      case 'ArrowDown':
        next = (index + 1) % this.order.length;
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        next = (index - 1 + this.order.length) % this.order.length;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = this.order.length - 1;
        break;
      default:
        return;
    }
    event.preventDefault();
    const peer = this.order[next];
    if (peer !== undefined) this.focus(peer);
  }
}
