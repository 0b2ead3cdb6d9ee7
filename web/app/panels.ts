/** The page's panels besides the graph: the links table, the detail panel, status and the logs. */
import { shortPeerId, type PeerId } from '../../shared/identity/peer-id.js';
import type { TabmeshNode } from '../node/node.js';
import type { KnownPeer } from '../node/options.js';
import { formatBytes, formatClock, formatDuration, formatRtt } from './format.js';
import type { PeerKind } from './graph.js';

export type LinkInfo = ReturnType<TabmeshNode['links']>[number];

/** How a link's signals travelled, in words. */
export const VIA_TEXT: Record<NonNullable<LinkInfo['via']>, string> = {
  server: 'signaling server',
  local: 'tab of this browser',
  mesh: 'through the mesh',
};

export const KIND_NAMES: Record<PeerKind, string> = {
  self: 'This tab',
  active: 'Connected',
  connecting: 'Connecting',
  passive: 'In reserve',
  known: 'Known',
};

const COLUMNS = ['state', 'direction', 'via', 'uptime', 'sent', 'received', 'rtt'] as const;
type Column = (typeof COLUMNS)[number];

interface Row {
  readonly row: HTMLTableRowElement;
  readonly peer: HTMLButtonElement;
  readonly cells: Record<Column, HTMLTableCellElement>;
}

function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** One row per link, kept by peer, so a focused peer button survives updates. */
export class LinksTable {
  private readonly rows = new Map<PeerId, Row>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly empty: HTMLElement,
    private readonly onPick: (peer: PeerId) => void,
  ) {}

  update(links: readonly LinkInfo[], label: (peer: PeerId) => string, now: number): void {
    const sorted = [...links].sort(
      (a, b) => Number(b.state === 'connected') - Number(a.state === 'connected') || (a.peer < b.peer ? -1 : 1),
    );
    const present = new Set(sorted.map((l) => l.peer));
    for (const [peer, row] of this.rows) {
      if (!present.has(peer)) {
        row.row.remove();
        this.rows.delete(peer);
      }
    }
    sorted.forEach((link, index) => {
      const row = this.rows.get(link.peer) ?? this.add(link.peer);
      row.row.dataset['state'] = link.state;
      setText(row.peer, label(link.peer));
      row.peer.title = link.peer;
      const connected = link.state === 'connected';
      setText(row.cells.state, link.state);
      setText(row.cells.direction, link.initiator ? 'outgoing' : 'incoming');
      setText(row.cells.via, link.via === undefined ? '—' : VIA_TEXT[link.via]);
      setText(row.cells.uptime, link.connectedAt === undefined ? '—' : formatDuration(now - link.connectedAt));
      setText(row.cells.sent, formatBytes(link.bytesSent));
      setText(row.cells.received, formatBytes(link.bytesReceived));
      setText(row.cells.rtt, connected ? formatRtt(link.rttMs) : '—');
      if (link.rttMs === undefined) delete row.cells.rtt.dataset['ms'];
      else row.cells.rtt.dataset['ms'] = String(link.rttMs);
      if (this.body.children[index] !== row.row) this.body.insertBefore(row.row, this.body.children[index] ?? null);
    });
    this.empty.hidden = links.length > 0;
  }

  private add(peer: PeerId): Row {
    const row = document.createElement('tr');
    row.dataset['linkRow'] = peer;
    const head = document.createElement('th');
    head.scope = 'row';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link-button';
    button.addEventListener('click', () => this.onPick(peer));
    head.append(button);
    row.append(head);
    const cells = {} as Record<Column, HTMLTableCellElement>;
    for (const column of COLUMNS) {
      const cell = document.createElement('td');
      cell.dataset['col'] = column;
      cells[column] = cell;
      row.append(cell);
    }
    const entry = { row, peer: button, cells };
    this.rows.set(peer, entry);
    return entry;
  }
}

/** Term and description pairs for the detail panel. */
export function detailRows(
  node: TabmeshNode,
  peer: PeerId,
  kind: PeerKind,
  link: LinkInfo | undefined,
  record: KnownPeer | undefined,
  now: number,
): [string, string][] {
  const rows: [string, string][] = [['Peer ID', peer]];
  if (kind === 'self') {
    const mesh = node.meshStats();
    rows.push(
      ['Network', node.network],
      ['Connections', String(node.connections().length)],
      ['Sealed through the mesh', `${mesh.sent} sent · ${mesh.delivered} received · ${mesh.forwarded} forwarded`],
    );
    if (mesh.dropped > 0) rows.push(['Sealed frames dropped', String(mesh.dropped)]);
    return rows;
  }
  if (link !== undefined) {
    rows.push(
      ['Link', `${link.state}, ${link.initiator ? 'outgoing' : 'incoming'}`],
      ['Reached via', link.via === undefined ? '—' : VIA_TEXT[link.via]],
      ['Up for', link.connectedAt === undefined ? '—' : formatDuration(now - link.connectedAt)],
      ['Sent / received', `${formatBytes(link.bytesSent)} / ${formatBytes(link.bytesReceived)}`],
      ['Round-trip time', formatRtt(link.rttMs)],
    );
  }
  if (record !== undefined) {
    rows.push([
      'Record',
      `${record.tried ? 'connected before' : 'heard of'}, expires in ${formatDuration(record.expiresAt - now)}`,
    ]);
    if (record.endpoints.length > 0) rows.push(['Signaling', record.endpoints.join(', ')]);
  }
  return rows;
}

export function renderDefinitions(list: HTMLElement, rows: readonly [string, string][]): void {
  const text = rows.map(([term, value]) => `${term}\u0000${value}`).join('\u0001');
  if (list.dataset['shown'] === text) return;
  list.dataset['shown'] = text;
  list.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      if (term === 'Peer ID') dd.className = 'mono';
      return [dt, dd];
    }),
  );
}

export type LogKind = 'broadcast' | 'direct' | 'routed' | 'sent';

const LOG_BADGES: Record<LogKind, string> = { broadcast: 'broadcast', direct: 'direct', routed: 'routed', sent: 'you' };
/** Entries kept in each log; older ones leave. */
export const MAX_LOG_ENTRIES = 200;

/** Add an entry at the top of a log list. */
export function appendLog(
  list: HTMLElement,
  entry: { readonly at: number; readonly kind: LogKind | 'warning'; readonly who: string; readonly text: string },
): void {
  const li = document.createElement('li');
  li.dataset['kind'] = entry.kind;
  const time = document.createElement('time');
  time.dateTime = new Date(entry.at).toISOString();
  time.textContent = formatClock(entry.at);
  const badge = document.createElement('span');
  badge.className = `badge ${entry.kind}`;
  badge.textContent = entry.kind === 'warning' ? 'refused' : LOG_BADGES[entry.kind];
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = entry.who;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = entry.text;
  li.append(time, badge, who, text);
  list.prepend(li);
  while (list.children.length > MAX_LOG_ENTRIES) list.lastElementChild?.remove();
}

/** A peer as the logs name it. */
export function who(peer: PeerId | undefined, name: string | undefined): string {
  if (peer === undefined) return '';
  return name ?? shortPeerId(peer);
}
