/** The detail panel: what the page knows of the peer selected in the graph. */
import type { KnownPeer, LinkInfo, PeerId, TabmeshNode } from '../tabmesh.js';
import { $, setText } from './dom.js';
import { formatBytes, formatDuration, formatRtt } from './format.js';
import { KIND_NAMES, type PeerKind } from './graph.js';
import { VIA_TEXT } from './links.js';

/** Fill the panel for `peer`, drawn in the graph as `kind`; `label` names peers. */
export function renderDetail(
  node: TabmeshNode,
  peer: PeerId,
  kind: PeerKind,
  label: (peer: PeerId) => string,
  now: number,
): void {
  const record = node.knownPeers().find((p) => p.id === peer);
  setText($('#detail-heading'), kind === 'self' ? 'This tab' : label(peer));
  const chip = $('#detail-kind');
  setText(chip, KIND_NAMES[kind]);
  chip.dataset['kind'] = kind;
  const link = node.links().find((l) => l.peer === peer);
  renderDefinitions($('#detail-fields'), detailRows(node, peer, kind, link, record, now));
  $('#detail-message').hidden = kind === 'self';
  $('#detail-connect').hidden = kind === 'self' || kind === 'active';
}

/** Term and description pairs for the detail panel. */
function detailRows(
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

/** The rows as a definition list, rebuilt only when they changed. */
function renderDefinitions(list: HTMLElement, rows: readonly [string, string][]): void {
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
