/**
 * The page: this tab as a Tabmesh peer. Options come from the URL
 * (`?network=`, `?signaling=` comma-separated, `?maxConnections=`); the node
 * is at `window.tabmesh` for the devtools console and tests.
 */
import '../shims/process.js';
import { shortPeerId, type PeerId } from '../../shared/identity/peer-id.js';
import { createNode, type TabmeshNode } from '../node/node.js';
import type { NodeOptions } from '../node/options.js';

declare global {
  interface Window {
    tabmesh?: TabmeshNode;
    tabmeshReady?: Promise<TabmeshNode>;
  }
}

function $(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (element === null) throw new Error(`missing ${selector}`);
  return element;
}

/** Read the node's options from the page's URL. */
export function optionsFromUrl(search: string): NodeOptions {
  const params = new URLSearchParams(search);
  const signaling = params
    .get('signaling')
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const max = Number(params.get('maxConnections') ?? NaN);
  const network = params.get('network');
  return {
    ...(network === null || network === '' ? {} : { network }),
    ...(signaling === undefined || signaling.length === 0 ? {} : { signaling }),
    ...(Number.isInteger(max) && max > 0 ? { maxConnections: max } : {}),
  };
}

function item(text: string, tag?: string, title?: string): HTMLLIElement {
  const li = document.createElement('li');
  const code = document.createElement('code');
  code.textContent = text;
  if (title !== undefined) code.title = title;
  li.append(code);
  if (tag !== undefined) {
    const span = document.createElement('span');
    span.className = 'tag';
    span.textContent = tag;
    li.append(span);
  }
  return li;
}

function render(node: TabmeshNode): void {
  const connected = node.connections();
  $('#connected-count').textContent = String(connected.length);
  $('#connected').replaceChildren(...connected.map((id) => item(shortPeerId(id), undefined, id)));
  const known = node.knownPeers();
  $('#known-count').textContent = String(known.length);
  $('#known').replaceChildren(
    ...known.map((p) =>
      item(shortPeerId(p.id), `${p.tried ? 'tried' : 'new'}${p.name === undefined ? '' : ` · ${p.name}`}`, p.id),
    ),
  );
  const select = $('#recipient') as HTMLSelectElement;
  const chosen = select.value;
  const everyone = document.createElement('option');
  everyone.value = '';
  everyone.textContent = 'Everyone (broadcast)';
  select.replaceChildren(
    everyone,
    ...connected.map((id) => {
      const option = document.createElement('option');
      option.value = id;
      option.textContent = shortPeerId(id);
      return option;
    }),
  );
  select.value = connected.includes(chosen as PeerId) ? chosen : '';
  const s = node.status;
  $('#status-signaling').textContent = `${s.signaling}${s.signalingUrl === undefined ? '' : ` (${s.signalingUrl})`}`;
  $('#status-storage').textContent =
    s.storage === 'memory' ? `memory${s.storageReason === undefined ? '' : `: ${s.storageReason}`}` : 'IndexedDB';
  $('#status-crypto').textContent = `Ed25519 via ${s.crypto}`;
}

function log(list: HTMLElement, text: string, max = 200): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  list.prepend(li);
  while (list.children.length > max) list.lastElementChild?.remove();
}

async function main(): Promise<TabmeshNode> {
  const node = await createNode(optionsFromUrl(location.search));
  window.tabmesh = node;
  $('#network').textContent = node.network;
  const own = $('#own-id');
  own.textContent = shortPeerId(node.id);
  own.title = node.id;
  $('#copy-id').addEventListener('click', () => void navigator.clipboard.writeText(node.id).catch(() => undefined));
  // One render per frame, however many events came since: while the node
  // connects, the page's main thread is its busiest resource.
  let pending = false;
  const refresh = (): void => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render(node);
    });
  };
  for (const type of ['peer:connect', 'peer:disconnect', 'peers', 'status']) node.addEventListener(type, refresh);
  node.addEventListener('message', (event) => {
    const { from, data, broadcast } = event.detail;
    const body = typeof data === 'string' ? data : `(${data.length} bytes)`;
    log($('#messages'), `${broadcast ? 'broadcast' : 'direct'} from ${shortPeerId(from)}: ${body}`);
  });
  let warnings = 0;
  node.addEventListener('warning', (event) => {
    warnings++;
    $('#warning-count').textContent = String(warnings);
    const { code, message, peer } = event.detail;
    log($('#warnings'), `${code}${peer === undefined ? '' : ` (${shortPeerId(peer)})`}: ${message}`);
  });
  $('#compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('#message') as HTMLTextAreaElement;
    const to = ($('#recipient') as HTMLSelectElement).value;
    const error = $('#send-error');
    error.textContent = '';
    const sent = to === '' ? node.broadcast(text.value) : node.send(to as PeerId, text.value);
    sent.then(
      () => {
        log($('#messages'), `you to ${to === '' ? 'everyone' : shortPeerId(to as PeerId)}: ${text.value}`);
        text.value = '';
      },
      (failure: unknown) => {
        error.textContent = failure instanceof Error ? failure.message : String(failure);
      },
    );
  });
  // Closing the node on the way out ends every channel at once, instead of
  // leaving peers to notice the silence.
  addEventListener('pagehide', () => void node.close());
  refresh();
  return node;
}

window.tabmeshReady = main();
window.tabmeshReady.catch((error: unknown) => {
  $('#status-signaling').textContent = `failed to start: ${error instanceof Error ? error.message : String(error)}`;
});
