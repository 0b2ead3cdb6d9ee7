/**
 * The lists of peers: the Connections table, the message form's recipients,
 * and the Known peers card.
 */
import type { KnownPeer, PeerId, TabmeshNode } from '../tabmesh.js';
import { $, setText } from './dom.js';
import { peerLabel } from './graph.js';
import { LinksTable } from './links.js';

/** The recipient choice: everyone, each connected peer, and the one chosen even once it is not connected. */
function renderRecipients(connected: readonly PeerId[], label: (peer: PeerId) => string): void {
  const select = $('#recipient', HTMLSelectElement);
  const chosen = select.value as PeerId | '';
  const wanted = ['', ...connected, ...(chosen !== '' && !connected.includes(chosen) ? [chosen] : [])];
  const current = [...select.options].map((o) => o.value);
  if (wanted.join() === current.join()) return;
  select.replaceChildren(
    ...wanted.map((value) => {
      const option = document.createElement('option');
      option.value = value;
      option.textContent =
        value === ''
          ? 'Everyone (broadcast)'
          : `${label(value as PeerId)}${connected.includes(value as PeerId) ? '' : ' (through the mesh)'}`;
      return option;
    }),
  );
  select.value = chosen;
}

/** The Known peers card: each cached record, and whether this tab was ever connected to it. */
function renderKnown(known: readonly KnownPeer[]): void {
  setText($('#known-count'), String(known.length));
  const shown = known.map((p) => `${p.id}${p.tried ? 't' : 'n'}${p.name ?? ''}`).join();
  const list = $('#known');
  if (list.dataset['shown'] === shown) return;
  list.dataset['shown'] = shown;
  list.replaceChildren(
    ...known.map((p) => {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = peerLabel(p.id, p.name);
      code.title = p.id;
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = p.tried ? 'connected before' : 'heard of';
      li.append(code, tag);
      return li;
    }),
  );
}

export class PeerLists {
  private readonly links: LinksTable;

  /** `onPick` runs when a peer is picked in the Connections table. */
  constructor(
    private readonly node: TabmeshNode,
    private readonly label: (peer: PeerId) => string,
    onPick: (peer: PeerId) => void,
  ) {
    this.links = new LinksTable($('#links-body', HTMLTableSectionElement), $('#links-empty'), onPick);
  }

  render(now: number): void {
    const connected = this.node.connections();
    setText($('#connected-count'), String(connected.length));
    this.links.update(this.node.links(), this.label, now);
    renderRecipients(connected, this.label);
    renderKnown(this.node.knownPeers());
  }
}
