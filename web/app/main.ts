/**
 * The page: this tab as a Tabmesh peer. Options come from the URL (see
 * url.ts); the node is at `window.tabmesh` for the devtools console and
 * tests, and `window.tabmeshReady` resolves with it once the page is wired.
 *
 * entry.ts starts the node before this chunk is evaluated; the page's own
 * setup runs while the node loads, and everything the node shows is drawn at
 * most once per animation frame.
 */
import { shortPeerId, type PeerId } from '../../shared/identity/peer-id.js';
import type { TabmeshNode } from '../node/node.js';
import type { NodeOptions } from '../node/options.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK } from '../node/options.js';
import { MAX_KNOWN_SHOWN, NeighbourhoodGraph, peerLabel, type GraphPeer, type PeerKind } from './graph.js';
import { KIND_NAMES, LinksTable, appendLog, detailRows, renderDefinitions, who } from './panels.js';
import { setUpThemeToggle } from './theme.js';
import { fieldsFromUrl, settingsQuery } from './url.js';

export { optionsFromUrl } from './url.js';

declare global {
  interface Window {
    tabmesh?: TabmeshNode;
    tabmeshReady?: Promise<TabmeshNode>;
  }
}

/** How often figures that change with time alone (uptime, round-trip times) are redrawn. */
const TICK_MS = 1_000;
/**
 * The longest the page waits for the node's first connection before it draws
 * the node's state anyway (the static page, with the tab's ID and network,
 * shows at once).
 */
export const FIRST_DRAW_DEADLINE_MS = 300;

function $(selector: string): HTMLElement;
function $<T extends Element>(selector: string, type: abstract new () => T): T;
function $(selector: string, type: abstract new () => Element = HTMLElement): Element {
  const element = document.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`missing ${selector}`);
  return element;
}

/** The settings dialog: filled from the URL, applied by loading the page with the new query. */
function setUpSettings(): void {
  const dialog = $('#settings', HTMLDialogElement);
  const form = $('#settings-form', HTMLFormElement);
  const network = $('#set-network', HTMLInputElement);
  const signaling = $('#set-signaling', HTMLTextAreaElement);
  const max = $('#set-max', HTMLInputElement);
  const name = $('#set-name', HTMLInputElement);
  network.placeholder = DEFAULT_NETWORK;
  max.placeholder = String(DEFAULT_MAX_CONNECTIONS);
  signaling.placeholder = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const fill = (): void => {
    const fields = fieldsFromUrl(location.search);
    network.value = fields.network;
    signaling.value = fields.signaling;
    max.value = fields.maxConnections;
    name.value = fields.name;
  };
  $('#open-settings').addEventListener('click', () => {
    fill();
    dialog.showModal();
  });
  $('#settings-cancel').addEventListener('click', () => dialog.close());
  $('#settings-reset').addEventListener('click', () => {
    for (const input of [network, signaling, max, name]) input.value = '';
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = settingsQuery({
      network: network.value,
      signaling: signaling.value,
      maxConnections: max.value,
      name: name.value,
    });
    location.assign(`${location.pathname}${query === '' ? '' : `?${query}`}`);
  });
}

/** What the graph shows: each peer once, in the strongest role it has. */
function graphPeers(node: TabmeshNode): { peers: GraphPeer[]; hiddenKnown: number } {
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

function wire(node: TabmeshNode, options: NodeOptions): void {
  window.tabmesh = node;
  $('#network').textContent = node.network;
  const own = $('#own-id');
  own.textContent = options.name === undefined ? shortPeerId(node.id) : `${options.name} · ${shortPeerId(node.id)}`;
  own.title = node.id;
  $('#copy-id').addEventListener('click', () => void navigator.clipboard.writeText(node.id).catch(() => undefined));

  let kinds = new Map<PeerId, PeerKind>();
  const nameOf = (peer: PeerId): string | undefined => node.knownPeers().find((p) => p.id === peer)?.name;
  const label = (peer: PeerId): string => peerLabel(peer, nameOf(peer));
  const graph = new NeighbourhoodGraph($('#graph', SVGSVGElement), node.id, () => {
    $('#detail-result').textContent = '';
    refresh();
  });
  const links = new LinksTable($('#links-body', HTMLTableSectionElement), $('#links-empty'), (peer) =>
    graph.focus(peer),
  );

  const renderDetail = (now: number): void => {
    const peer = graph.selection;
    const kind = kinds.get(peer) ?? (peer === node.id ? 'self' : 'known');
    const record = node.knownPeers().find((p) => p.id === peer);
    $('#detail-heading').textContent = kind === 'self' ? 'This tab' : label(peer);
    const chip = $('#detail-kind');
    chip.textContent = KIND_NAMES[kind];
    chip.dataset['kind'] = kind;
    const link = node.links().find((l) => l.peer === peer);
    renderDefinitions($('#detail-fields'), detailRows(node, peer, kind, link, record, now));
    $('#detail-message').hidden = kind === 'self';
    $('#detail-connect').hidden = kind === 'self' || kind === 'active';
  };

  const renderRecipients = (connected: readonly PeerId[]): void => {
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
  };

  const renderStatus = (): void => {
    const s = node.status;
    $('#signal-state').dataset['state'] = s.signaling;
    const signalingText = `${s.signaling}${s.signalingUrl === undefined ? '' : ` · ${s.signalingUrl}`}`;
    if ($('#status-signaling').textContent !== signalingText) $('#status-signaling').textContent = signalingText;
    const storageText =
      s.storage === 'memory' ? `memory${s.storageReason === undefined ? '' : `: ${s.storageReason}`}` : 'IndexedDB';
    if ($('#status-storage').textContent !== storageText) $('#status-storage').textContent = storageText;
    const cryptoText = `Ed25519 via ${s.crypto}`;
    if ($('#status-crypto').textContent !== cryptoText) $('#status-crypto').textContent = cryptoText;
  };

  const render = (): void => {
    const now = Date.now();
    const { peers, hiddenKnown } = graphPeers(node);
    kinds = new Map([[node.id, 'self'], ...peers.map((p): [PeerId, PeerKind] => [p.id, p.kind])]);
    graph.update(options.name, peers);
    const count = (kind: PeerKind): number => peers.filter((p) => p.kind === kind).length;
    const summary = [
      `Connected to ${plural(count('active'), 'peer')}`,
      count('connecting') > 0 ? `${count('connecting')} connecting` : '',
      `${count('passive')} in reserve`,
      `${count('known') + hiddenKnown} more known${hiddenKnown > 0 ? ` (${hiddenKnown} not drawn)` : ''}`,
    ];
    const summaryText = summary.filter((s) => s !== '').join(' · ');
    if ($('#graph-summary').textContent !== summaryText) $('#graph-summary').textContent = summaryText;
    const connected = node.connections();
    $('#connected-count').textContent = String(connected.length);
    links.update(node.links(), label, now);
    renderDetail(now);
    renderRecipients(connected);
    const known = node.knownPeers();
    $('#known-count').textContent = String(known.length);
    const knownText = known.map((p) => `${p.id}${p.tried ? 't' : 'n'}${p.name ?? ''}`).join();
    const knownList = $('#known');
    if (knownList.dataset['shown'] !== knownText) {
      knownList.dataset['shown'] = knownText;
      knownList.replaceChildren(
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
    renderStatus();
  };

  // One render per frame, however many events came since: while the node
  // connects, the page's main thread is its busiest resource. The first full
  // render waits for the first connection (or FIRST_DRAW_DEADLINE_MS): until
  // then the page shows its static frame with the ID and the status lines as
  // they were when the node started, and drawing sooner holds up the
  // connection (`npm run bench`).
  let pending = false;
  let drawn = false;
  const refresh = (): void => {
    if (pending || !drawn) return;
    pending = true;
    const draw = (): void => {
      pending = false;
      render();
    };
    // A hidden tab gets no animation frames: it draws on a (throttled) timer
    // instead, so it is up to date when shown and to anyone reading its DOM.
    if (document.hidden) setTimeout(draw, 0);
    else requestAnimationFrame(draw);
  };
  for (const type of ['peer:connect', 'peer:disconnect', 'peers', 'status', 'neighbours']) {
    node.addEventListener(type, refresh);
  }
  setInterval(refresh, TICK_MS);

  const messages = $('#messages');
  const logged = (): void => {
    $('#messages-empty').hidden = true;
  };
  node.addEventListener('message', (event) => {
    const { from, data, broadcast, routed } = event.detail;
    appendLog(messages, {
      at: Date.now(),
      kind: broadcast ? 'broadcast' : routed === true ? 'routed' : 'direct',
      who: who(from, nameOf(from)),
      text: typeof data === 'string' ? data : `(${data.length} bytes)`,
    });
    logged();
  });
  let warnings = 0;
  node.addEventListener('warning', (event) => {
    warnings++;
    $('#warning-count').textContent = String(warnings);
    $('#warnings-empty').hidden = true;
    const { code, message, peer } = event.detail;
    appendLog($('#warnings'), {
      at: Date.now(),
      kind: 'warning',
      who: peer === undefined ? code : `${code} · ${who(peer, nameOf(peer))}`,
      text: message,
    });
  });

  $('#compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('#message', HTMLTextAreaElement);
    const to = $('#recipient', HTMLSelectElement).value as PeerId | '';
    const error = $('#send-error');
    error.textContent = '';
    const body = text.value;
    const sent = to === '' ? node.broadcast(body) : node.send(to, body);
    sent.then(
      () => {
        appendLog(messages, {
          at: Date.now(),
          kind: 'sent',
          who: to === '' ? 'to everyone' : `to ${label(to)}`,
          text: body,
        });
        logged();
        text.value = '';
      },
      (failure: unknown) => {
        error.textContent = failure instanceof Error ? failure.message : String(failure);
      },
    );
  });
  $('#detail-message').addEventListener('click', () => {
    const peer = graph.selection;
    const select = $('#recipient', HTMLSelectElement);
    if (![...select.options].some((o) => o.value === peer)) {
      const option = document.createElement('option');
      option.value = peer;
      option.textContent = `${label(peer)} (through the mesh)`;
      select.append(option);
    }
    select.value = peer;
    $('#message').focus();
  });
  $('#detail-connect').addEventListener('click', () => {
    const peer = graph.selection;
    const result = $('#detail-result');
    result.textContent = `Connecting to ${label(peer)}…`;
    node.connect(peer).then(
      () => {
        result.textContent = `Connected to ${label(peer)}.`;
      },
      (failure: unknown) => {
        result.textContent = `Could not connect: ${failure instanceof Error ? failure.message : String(failure)}`;
      },
    );
  });
  // Closing the node on the way out ends every channel at once, instead of
  // leaving peers to notice the silence.
  addEventListener('pagehide', () => void node.close());
  const firstDraw = (): void => {
    if (drawn) return;
    drawn = true;
    node.removeEventListener('peer:connect', firstDraw);
    clearTimeout(deadline);
    document.documentElement.classList.remove('starting');
    refresh();
  };
  renderStatus();
  const deadline = setTimeout(firstDraw, FIRST_DRAW_DEADLINE_MS);
  if (node.connections().length > 0) firstDraw();
  else node.addEventListener('peer:connect', firstDraw);
}

/**
 * Set up the page while the node entry.ts created starts, then wire it to the
 * node. Resolves with the node (window.tabmeshReady).
 */
export async function start(options: NodeOptions, starting: Promise<TabmeshNode>): Promise<TabmeshNode> {
  try {
    setUpThemeToggle($('#theme-toggle', HTMLButtonElement));
    setUpSettings();
    const node = await starting;
    wire(node, options);
    return node;
  } catch (error) {
    document.documentElement.classList.remove('starting');
    $('#status-signaling').textContent = `failed to start: ${error instanceof Error ? error.message : String(error)}`;
    $('#signal-state').dataset['state'] = 'failed';
    throw error;
  }
}
