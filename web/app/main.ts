/**
 * The page: this tab as a Tabmesh peer. Options come from the URL (see
 * url.ts); the node is at `window.tabmesh` for the devtools console and
 * tests, and `window.tabmeshReady` resolves with it once the page is wired.
 *
 * entry.ts starts the node before this chunk is evaluated; the page's own
 * setup runs while the node loads, and everything the node shows is drawn at
 * most once per animation frame. Each card has a module of its own: status.ts
 * (the header and the Status card), neighbourhood.ts (the graph and the
 * detail panel), peer-lists.ts (connections, recipients, known peers),
 * logs.ts (messages and refusals), controls.ts (what the visitor does) and
 * settings.ts (the settings dialog).
 */
import type { NodeOptions, PeerId, TabmeshNode } from '../tabmesh.js';
import { oncePerFrame } from '../ui/frame.js';
import { $ } from './dom.js';
import { wireControls } from './controls.js';
import { peerLabel } from './graph.js';
import { Logs } from './logs.js';
import { Neighbourhood } from './neighbourhood.js';
import { PeerLists } from './peer-lists.js';
import { setUpSettings } from './settings.js';
import { renderStatus, showIdentity, showStartFailure } from './status.js';
import { setUpThemeToggle } from './theme.js';

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
/** The node's events that change what the page draws (messages and warnings are logged as they come). */
const REDRAW_ON = ['peer:connect', 'peer:disconnect', 'peers', 'status', 'neighbours'] as const;

/** A peer as the page names it: the display name in its record, else its short ID. */
function labeller(node: TabmeshNode): (peer: PeerId) => string {
  return (peer) => peerLabel(peer, node.knownPeers().find((p) => p.id === peer)?.name);
}

/**
 * Run `render` on the node's changes and every TICK_MS, at most once per
 * frame. The first render waits for the first connection (or
 * FIRST_DRAW_DEADLINE_MS): until then the page shows its static frame with
 * the ID and the status lines as they were when the node started, and
 * drawing sooner holds up the connection (`npm run bench`). Returns the
 * function that asks for a render.
 */
function renderOnChange(node: TabmeshNode, render: () => void): () => void {
  const scheduled = oncePerFrame(render);
  let drawn = false;
  const refresh = (): void => {
    if (drawn) scheduled();
  };
  for (const type of REDRAW_ON) node.addEventListener(type, refresh);
  setInterval(refresh, TICK_MS);
  const firstDraw = (): void => {
    if (drawn) return;
    drawn = true;
    node.removeEventListener('peer:connect', firstDraw);
    clearTimeout(deadline);
    document.documentElement.classList.remove('starting');
    refresh();
  };
  const deadline = setTimeout(firstDraw, FIRST_DRAW_DEADLINE_MS);
  if (node.connections().length > 0) firstDraw();
  else node.addEventListener('peer:connect', firstDraw);
  return refresh;
}

function wire(node: TabmeshNode, options: NodeOptions): void {
  window.tabmesh = node;
  const label = labeller(node);
  showIdentity(node, options.name);
  const logs = new Logs(node, label);
  const neighbourhood = new Neighbourhood(node, options.name, label, () => refresh());
  const lists = new PeerLists(node, label, (peer) => neighbourhood.focus(peer));
  wireControls({ node, label, selection: () => neighbourhood.selection, sent: (to, text) => logs.sent(to, text) });
  renderStatus(node.status);
  const refresh = renderOnChange(node, () => {
    const now = Date.now();
    neighbourhood.render(now);
    lists.render(now);
    renderStatus(node.status);
  });
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
    showStartFailure(error);
    throw error;
  }
}
