/**
 * `<tabmesh-peer>`: a Tabmesh peer as a custom element. It starts a node
 * (createNode) when connected to a document, shows it in its own Shadow DOM
 * (a compact pill, or an expanded panel with peers, a message box and recent
 * messages), re-dispatches the node's events on itself, and closes the node
 * when removed. It uses only the node's public API and events.
 *
 * Attributes: `network`, `signaling` (comma-separated WebSocket URLs),
 * `max-connections`, `storage` (`indexeddb` or `memory`), `view` (`compact`
 * or `expanded`). Changing any but `view` restarts the node. See
 * docs/EMBEDDING.md.
 */
import {
  createNode,
  defaultSignalingUrl,
  shortPeerId,
  unlessGone,
  type NodeEvents,
  type NodeOptions,
  type PeerId,
  type TabmeshNode,
} from '../tabmesh.js';
import { oncePerFrame } from '../ui/frame.js';
import { WIDGET_CSS } from './styles.js';

/** The element's tag name. */
export const TAG_NAME = 'tabmesh-peer';
/** Messages the expanded view lists at most (oldest leave first). */
export const MAX_SHOWN_MESSAGES = 50;
/** Characters of a received message shown; the event carries it whole. */
export const MAX_SHOWN_MESSAGE_CHARS = 500;
/** The node's events, re-dispatched on the element with the same names and details. */
export const NODE_EVENTS = [
  'peer:connect',
  'peer:disconnect',
  'message',
  'peers',
  'status',
  'neighbours',
  'warning',
] as const satisfies readonly (keyof NodeEvents)[];

/** Events of the element itself, besides the node's. */
export interface WidgetEvents {
  /** The node is started (after every restart too); `detail.node` is `element.node`. */
  'tabmesh:ready': CustomEvent<{ readonly node: TabmeshNode }>;
  /** The node could not start (bad attribute, no storage, …); the widget shows why. */
  'tabmesh:error': CustomEvent<{ readonly error: Error }>;
}

export type WidgetView = 'compact' | 'expanded';

/** The node's events that change what the widget draws (messages are listed as they come). */
const REDRAW_ON = ['peer:connect', 'peer:disconnect', 'status'] as const satisfies readonly (keyof NodeEvents)[];

/** The attributes that configure the node: changing one restarts it. */
const NODE_ATTRIBUTES = ['network', 'signaling', 'max-connections', 'storage'] as const;

/**
 * The default signaling server for a widget loaded as `https://host/widget.js`:
 * `wss://host/ws` (`ws:` for an `http:` script). Undefined when the module's
 * own URL is not http(s) (then the node defaults to the page's host).
 */
export function signalingFor(moduleUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(moduleUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return defaultSignalingUrl(url);
}

/** The node's options from the element's attributes; throws on an invalid one. */
export function optionsFromAttributes(read: (name: string) => string | null, defaultSignaling?: string): NodeOptions {
  const network = read('network');
  const signaling = (read('signaling') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const maxText = read('max-connections');
  const max = maxText === null ? undefined : Number(maxText);
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw new RangeError(`max-connections must be a positive integer, not "${maxText ?? ''}"`);
  }
  const storage = read('storage');
  if (storage !== null && storage !== 'indexeddb' && storage !== 'memory') {
    throw new RangeError('storage must be "indexeddb" or "memory"');
  }
  const urls = signaling.length > 0 ? signaling : defaultSignaling === undefined ? [] : [defaultSignaling];
  return {
    ...(network === null || network === '' ? {} : { network }),
    ...(urls.length === 0 ? {} : { signaling: urls }),
    ...(max === undefined ? {} : { maxConnections: max }),
    ...(storage === null ? {} : { storage }),
  };
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<'className' | 'id' | 'textContent' | 'type' | 'title', string>> = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children);
  return element;
}

/** The shadow tree: a pill (status dot, short ID, peer count, toggle) and the expanded panel. */
function buildUi(handlers: { toggle(): void; collapse(): void; submit(): void }) {
  const dot = el('span', { className: 'dot' });
  dot.setAttribute('aria-hidden', 'true');
  const id = el('code', { className: 'id', textContent: '…' });
  const count = el('span', { className: 'count', textContent: '0' });
  const countLabel = el('span', { className: 'sr', textContent: 'connected peers' });
  const toggle = el('button', { className: 'toggle', type: 'button', textContent: '▾' });
  toggle.setAttribute('aria-controls', 'panel');
  const status = el('p', { className: 'status sr' });
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  const peers = el('ul', { className: 'peers' });
  const messages = el('ol', { className: 'messages' });
  messages.setAttribute('aria-live', 'polite');
  const input = el('input', { id: 'message', type: 'text' });
  input.autocomplete = 'off';
  input.required = true;
  const to = el('select', { id: 'to' });
  const error = el('p', { className: 'error' });
  error.setAttribute('role', 'alert');
  const form = el(
    'form',
    {},
    el('label', { textContent: 'Message' }),
    input,
    to,
    el('button', { className: 'primary', type: 'submit', textContent: 'Send' }),
  );
  form.querySelector('label')?.setAttribute('for', 'message');
  to.setAttribute('aria-label', 'Send to');
  const panel = el(
    'div',
    { className: 'panel', id: 'panel' },
    el('h2', { id: 'peers-heading', textContent: 'Peers' }),
    peers,
    form,
    error,
    el('h2', { id: 'messages-heading', textContent: 'Messages' }),
    messages,
  );
  panel.setAttribute('role', 'region');
  panel.setAttribute('aria-label', 'Tabmesh peer');
  peers.setAttribute('aria-labelledby', 'peers-heading');
  messages.setAttribute('aria-labelledby', 'messages-heading');
  const pill = el('div', { className: 'pill' }, dot, id, count, countLabel, toggle);
  const root = el('div', { className: 'root' }, pill, status, panel);
  toggle.addEventListener('click', () => handlers.toggle());
  panel.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    handlers.collapse();
    toggle.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    handlers.submit();
  });
  return { root, dot, id, count, toggle, status, panel, peers, messages, input, to, error };
}

type Ui = ReturnType<typeof buildUi>;

export class TabmeshPeerElement extends HTMLElement {
  static readonly observedAttributes = [...NODE_ATTRIBUTES, 'view'];

  private current: TabmeshNode | null = null;
  private readyPromise: Promise<TabmeshNode>;
  private settle!: { resolve(node: TabmeshNode): void; reject(error: Error): void };
  /** Whether `ready` has resolved or rejected (the next start then makes a new one). */
  private settled = false;
  /** Increases with every start and stop: a start that finishes after a newer one closes its node. */
  private generation = 0;
  /** A restart is queued for the end of this task (attribute changes coalesce). */
  private scheduled = false;
  /** The previous node's close, awaited before the next start (so it gets the same identity slot back). */
  private closing: Promise<void> = Promise.resolve();
  private readonly ui: Ui;
  private readonly unwire: (() => void)[] = [];
  private readonly scheduleRender = oncePerFrame(() => this.render());

  constructor() {
    super();
    this.readyPromise = this.newReady();
    const root = this.attachShadow({ mode: 'open' });
    // A constructed stylesheet: no <style> element, so no CSP 'unsafe-inline' for styles.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(WIDGET_CSS);
    root.adoptedStyleSheets = [sheet];
    this.ui = buildUi({
      toggle: () => (this.view = this.view === 'expanded' ? 'compact' : 'expanded'),
      collapse: () => (this.view = 'compact'),
      submit: () => this.sendFromForm(),
    });
    root.append(this.ui.root);
  }

  /** The running node (the same API as createNode's), or null until it is ready and after removal. */
  get node(): TabmeshNode | null {
    return this.current;
  }

  /** Resolves with the node once the current start completes; a restart makes a new promise. */
  get ready(): Promise<TabmeshNode> {
    return this.readyPromise;
  }

  get view(): WidgetView {
    return this.getAttribute('view') === 'expanded' ? 'expanded' : 'compact';
  }

  set view(value: WidgetView) {
    this.setAttribute('view', value);
  }

  connectedCallback(): void {
    this.renderView();
    if (this.current === null) this.scheduleStart();
  }

  disconnectedCallback(): void {
    // Moved within the document (disconnected, then connected again in the
    // same task): keep the node. Removed: close it.
    queueMicrotask(() => {
      if (!this.isConnected) this.stop();
    });
  }

  attributeChangedCallback(name: string, previous: string | null, value: string | null): void {
    if (previous === value) return;
    if (name === 'view') this.renderView();
    else if (this.isConnected) this.scheduleStart();
  }

  private newReady(): Promise<TabmeshNode> {
    this.settled = false;
    const promise = new Promise<TabmeshNode>((resolve, reject) => {
      this.settle = {
        resolve: (node) => {
          this.settled = true;
          resolve(node);
        },
        reject: (error) => {
          this.settled = true;
          reject(error);
        },
      };
    });
    // Not dropped: a failure is reported by the tabmesh:error event and in the
    // widget's status line, and rejects `ready` for whoever awaits it. This
    // handler only keeps a `ready` nobody awaits from also being reported as
    // an unhandled rejection.
    promise.catch(() => undefined);
    return promise;
  }

  private scheduleStart(): void {
    // At once, so `element.setAttribute(…); await element.ready` waits for the new node.
    if (this.settled) this.readyPromise = this.newReady();
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.isConnected) void this.start();
    });
  }

  private async start(): Promise<void> {
    const generation = ++this.generation;
    // A restart: the old node goes.
    if (this.current !== null) this.stop(false);
    const settle = this.settle;
    this.showStatus('connecting', 'starting…');
    let node: TabmeshNode;
    try {
      const options = optionsFromAttributes((name) => this.getAttribute(name), signalingFor(import.meta.url));
      await this.closing;
      if (generation !== this.generation) return;
      node = await createNode(options);
    } catch (failure) {
      if (generation !== this.generation) return;
      const error = failure instanceof Error ? failure : new Error(String(failure));
      this.showStatus('failed', `could not start: ${error.message}`);
      settle.reject(error);
      this.dispatchEvent(new CustomEvent('tabmesh:error', { detail: { error }, bubbles: true, composed: true }));
      return;
    }
    if (generation !== this.generation) {
      await node.close();
      return;
    }
    this.current = node;
    for (const type of NODE_EVENTS) {
      const forward = (event: Event): void => {
        const detail: unknown = (event as CustomEvent<unknown>).detail;
        this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
      };
      node.addEventListener(type, forward);
      this.unwire.push(() => node.removeEventListener(type, forward));
    }
    const refresh = this.scheduleRender;
    for (const type of REDRAW_ON) node.addEventListener(type, refresh);
    this.unwire.push(() => {
      for (const type of REDRAW_ON) node.removeEventListener(type, refresh);
    });
    const onMessage = (event: NodeEvents['message']): void => {
      const { from, data, broadcast } = event.detail;
      this.logMessage(from, typeof data === 'string' ? data : `(${data.length} bytes)`, broadcast);
    };
    node.addEventListener('message', onMessage);
    this.unwire.push(() => node.removeEventListener('message', onMessage));
    this.ui.id.textContent = shortPeerId(node.id);
    this.ui.id.title = node.id;
    this.render();
    settle.resolve(node);
    this.dispatchEvent(new CustomEvent('tabmesh:ready', { detail: { node }, bubbles: true, composed: true }));
  }

  /** Close the node (if any); `final` also invalidates starts under way. */
  private stop(final = true): void {
    if (final) this.generation++;
    for (const off of this.unwire.splice(0)) off();
    const node = this.current;
    this.current = null;
    // The next start awaits `closing`, whatever came of it: a node already
    // closed is expected, anything else is reported.
    if (node !== null) {
      const report = (error: unknown): void => console.warn('<tabmesh-peer>: the node did not close', error);
      this.closing = node.close().catch(unlessGone(report));
    }
    this.ui.id.textContent = '…';
    this.ui.count.textContent = '0';
    this.showStatus('disconnected', final ? 'stopped' : 'restarting…');
  }

  private sendFromForm(): void {
    const node = this.current;
    const text = this.ui.input.value;
    const to = this.ui.to.value;
    this.ui.error.textContent = '';
    if (node === null || text === '') return;
    const sent = to === '' ? node.broadcast(text) : node.send(to as PeerId, text);
    sent.then(
      () => {
        this.logMessage(undefined, text, to === '');
        this.ui.input.value = '';
      },
      (failure: unknown) => {
        this.ui.error.textContent = failure instanceof Error ? failure.message : String(failure);
      },
    );
  }

  private renderView(): void {
    const expanded = this.view === 'expanded';
    this.ui.panel.hidden = !expanded;
    this.ui.status.classList.toggle('sr', !expanded);
    this.ui.toggle.setAttribute('aria-expanded', String(expanded));
    this.ui.toggle.setAttribute('aria-label', expanded ? 'Hide peers and messages' : 'Show peers and messages');
    this.ui.toggle.textContent = expanded ? '▴' : '▾';
  }

  private showStatus(state: string, text: string): void {
    this.ui.dot.dataset['state'] = state;
    this.ui.status.textContent = text;
  }

  private render(): void {
    const node = this.current;
    if (node === null) return;
    const connected = node.connections();
    this.ui.count.textContent = String(connected.length);
    const s = node.status;
    this.showStatus(
      s.signaling,
      `signaling ${s.signaling}${s.signalingUrl === undefined ? '' : ` (${s.signalingUrl})`}; ${connected.length} connected`,
    );
    this.ui.peers.replaceChildren(
      ...(connected.length === 0
        ? [el('li', { className: 'empty', textContent: 'no peers yet' })]
        : connected.map((peer) => el('li', {}, el('code', { textContent: shortPeerId(peer), title: peer })))),
    );
    const chosen = this.ui.to.value;
    this.ui.to.replaceChildren(
      el('option', { textContent: 'Everyone' }),
      ...connected.map((peer) => {
        const option = el('option', { textContent: shortPeerId(peer), title: peer });
        option.value = peer;
        return option;
      }),
    );
    const first = this.ui.to.options[0];
    if (first !== undefined) first.value = '';
    this.ui.to.value = connected.includes(chosen as PeerId) ? chosen : '';
  }

  /** Add a line to recent messages; `from` undefined is our own. */
  private logMessage(from: PeerId | undefined, text: string, broadcast: boolean): void {
    const who = from === undefined ? 'you' : shortPeerId(from);
    const body = text.length > MAX_SHOWN_MESSAGE_CHARS ? `${text.slice(0, MAX_SHOWN_MESSAGE_CHARS)}…` : text;
    const li = el('li', { textContent: `${who}${broadcast ? '' : ' (direct)'}: ${body}` });
    this.ui.messages.prepend(li);
    while (this.ui.messages.children.length > MAX_SHOWN_MESSAGES) this.ui.messages.lastElementChild?.remove();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tabmesh-peer': TabmeshPeerElement;
  }
}
