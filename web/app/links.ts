/** The Connections card: one row per link, with its figures. */
import type { LinkInfo, PeerId } from '../tabmesh.js';
import { setText } from './dom.js';
import { formatBytes, formatDuration, formatRtt } from './format.js';

/** How a link's signals travelled, in words. */
export const VIA_TEXT: Record<NonNullable<LinkInfo['via']>, string> = {
  server: 'signaling server',
  local: 'tab of this browser',
  mesh: 'through the mesh',
};

const COLUMNS = ['state', 'direction', 'via', 'uptime', 'sent', 'received', 'rtt'] as const;
type Column = (typeof COLUMNS)[number];

interface Row {
  readonly row: HTMLTableRowElement;
  readonly peer: HTMLButtonElement;
  readonly cells: Record<Column, HTMLTableCellElement>;
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
