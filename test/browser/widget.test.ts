/**
 * `<tabmesh-peer>` embedded by a site of another origin: the widget is loaded
 * from the signaling server (`/widget.js`, as built for `npm start`), the
 * host page from a static server of its own on another port.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { TabmeshPeerElement } from '../../web/widget/element.js';
import { serveHttp, type Site } from '../helpers/browser.js';
import { useBrowser } from '../helpers/fixture.js';
import type { TestServer } from '../helpers/server.js';
import { collectMessages, idOf, waitForMessages, waitForPeer } from '../helpers/tabs.js';

/** A host page that would wreck any widget without its own style scope. */
const AGGRESSIVE_CSS =
  '* { color: red !important; font-size: 40px !important; font-family: serif !important; line-height: 3 !important;' +
  ' display: block; padding: 9px; margin: 7px; border: 3px dotted green; background: yellow; }';
const HOST_BODY =
  '<h2>Host heading</h2><p id="host-text">host text <code>code</code></p>' +
  '<button type="button">host button</button><input value="host input" /><ul><li>one</li></ul>';
const WAIT_MS = 20_000;

const browser = useBrowser();

/** A tiny static host site, closed with the test (or the file): `/` is whatever `page()` returns at the time. */
async function hostSite(page: (query: URLSearchParams) => string): Promise<Site> {
  const site = await serveHttp((request, response) => {
    const url = new URL(request.url ?? '/', 'http://host');
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(page(url.searchParams));
  });
  browser.defer(() => site.close());
  return site;
}

function hostHtml(widgetSrc: string | undefined, query: URLSearchParams): string {
  const attributes = query.get('attrs') ?? 'network="widget-net" storage="memory"';
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8" /><title>host</title>' +
    (query.has('aggressive') ? `<style>${AGGRESSIVE_CSS}</style>` : '') +
    `</head><body>${HOST_BODY}<tabmesh-peer id="widget" ${attributes}></tabmesh-peer>` +
    (widgetSrc === undefined ? '' : `<script type="module" src="${widgetSrc}"></script>`) +
    '</body></html>'
  );
}

/** A tab of the host site at `/?query`, once its widget's node is ready, and that node's ID. */
async function hostTab(site: Site, query = ''): Promise<{ host: Page; widgetId: PeerId }> {
  const host = await browser.newPage();
  await host.goto(`${site.url}/${query === '' ? '' : `?${query}`}`);
  return { host, widgetId: await widgetReady(host) };
}

/** Resolves with the widget's node ID once its node is ready. */
function widgetReady(page: Page): Promise<PeerId> {
  return page.evaluate(async (ms) => {
    await customElements.whenDefined('tabmesh-peer');
    const element = document.querySelector('tabmesh-peer') as TabmeshPeerElement;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`widget not ready after ${ms} ms`)), ms),
    );
    return (await Promise.race([element.ready, timeout])).id;
  }, WAIT_MS);
}

/** Computed styles of the widget's parts (inside its shadow root) or of the host's elements. */
function styles(page: Page, inShadow: boolean): Promise<Record<string, Record<string, string>>> {
  return page.evaluate((shadow) => {
    const properties = [
      'color',
      'font-size',
      'font-family',
      'line-height',
      'display',
      'padding',
      'margin',
      'border',
      'background-color',
      'border-radius',
    ];
    const root: ParentNode | null = shadow ? (document.querySelector('tabmesh-peer')?.shadowRoot ?? null) : document;
    if (root === null) throw new Error('no shadow root');
    const selectors = shadow
      ? ['.root', '.pill', 'code.id', '.count', 'button.toggle']
      : ['h2', '#host-text', 'code', 'button', 'input', 'ul', 'li'];
    const out: Record<string, Record<string, string>> = {};
    for (const selector of selectors) {
      const element = root.querySelector(selector);
      if (element === null) throw new Error(`missing ${selector}`);
      const computed = getComputedStyle(element);
      const box = element.getBoundingClientRect();
      const entries: [string, string][] = properties.map((p) => [p, computed.getPropertyValue(p)]);
      entries.push(['size', `${Math.round(box.width)}x${Math.round(box.height)}`]);
      out[selector] = Object.fromEntries(entries);
    }
    return out;
  }, inShadow);
}

let server: TestServer;
let allowed: Site;
let widgetSrc: string;

beforeAll(async () => {
  allowed = await hostSite((query) => hostHtml(query.has('bare') ? undefined : widgetSrc, query));
  server = await browser.pageServer({ origins: ['self', allowed.url] });
  widgetSrc = `${server.url}/widget.js`;
});

describe('<tabmesh-peer> on a site of another origin', () => {
  it('connects to a tab of the main page, exchanges messages both ways, and re-dispatches the node events', async () => {
    const main = await browser.tab(server, 'network=widget-net');
    const mainId = await idOf(main);
    const { host, widgetId } = await hostTab(allowed);
    // element.node is the node createNode returns.
    expect(
      await host.evaluate(() => {
        const element = document.querySelector('tabmesh-peer') as TabmeshPeerElement;
        return { network: element.node?.network, id: element.node?.id, view: element.view };
      }),
    ).toEqual({ network: 'widget-net', id: widgetId, view: 'compact' });
    // The node's events arrive on the document too: bubbles and composed.
    const connected = host.evaluate(
      ([peer, ms]) =>
        new Promise<string>((resolve, reject) => {
          const element = document.querySelector('tabmesh-peer') as TabmeshPeerElement;
          if (element.node?.connections().includes(peer) === true) return resolve(peer);
          document.addEventListener('peer:connect', (event) => {
            const detail = (event as CustomEvent<{ peer: string }>).detail;
            if (detail.peer === peer && event.target === element) resolve(detail.peer);
          });
          setTimeout(() => reject(new Error(`no peer:connect after ${ms} ms`)), ms);
        }),
      [mainId, WAIT_MS] as const,
    );
    expect(await connected).toBe(mainId);
    await waitForPeer(main, widgetId);
    // The pill shows the count.
    await host.locator('tabmesh-peer .count').filter({ hasText: '1' }).waitFor({ timeout: WAIT_MS });

    // Main tab to widget: a `message` event on the element, with the node's detail.
    const received = host.evaluate(
      (ms) =>
        new Promise<{ from: string; data: unknown; broadcast: boolean }>((resolve, reject) => {
          document.querySelector('tabmesh-peer')?.addEventListener('message', (event) => {
            const { from, data, broadcast } = (
              event as CustomEvent<{ from: string; data: unknown; broadcast: boolean }>
            ).detail;
            resolve({ from, data, broadcast });
          });
          setTimeout(() => reject(new Error(`no message after ${ms} ms`)), ms);
        }),
      WAIT_MS,
    );
    await main.evaluate((to) => window.tabmesh?.send(to, 'hello, widget'), widgetId);
    expect(await received).toEqual({ from: mainId, data: 'hello, widget', broadcast: false });

    // Widget to main tab, through its own UI: expand, type, send (keyboard only).
    const readMain = await collectMessages(main);
    await host.locator('tabmesh-peer button.toggle').press('Enter');
    expect(await host.getAttribute('tabmesh-peer', 'view')).toBe('expanded');
    expect(await host.locator('tabmesh-peer button.toggle').getAttribute('aria-expanded')).toBe('true');
    await host.locator('tabmesh-peer #message').fill('hello, main page');
    await host.locator('tabmesh-peer #message').press('Enter');
    await waitForMessages(main, 'hello, main page', 1);
    expect((await readMain()).find((m) => m.data === 'hello, main page')).toEqual({
      from: widgetId,
      data: 'hello, main page',
      broadcast: true,
    });
    await host.locator('tabmesh-peer .messages li').filter({ hasText: 'hello, widget' }).waitFor({ timeout: WAIT_MS });
    // Escape collapses the panel and gives focus back to the toggle.
    await host.locator('tabmesh-peer #message').press('Escape');
    expect(await host.getAttribute('tabmesh-peer', 'view')).toBe('compact');
    expect(await host.locator('tabmesh-peer .panel').isHidden()).toBe(true);
  });

  it('restarts on a new network, refuses a bad max-connections with tabmesh:error, and closes its node when removed', async () => {
    const { host } = await hostTab(
      allowed,
      `attrs=${encodeURIComponent('network="first" max-connections="2" storage="memory"')}`,
    );
    const result = await host.evaluate(async (ms) => {
      const element = document.querySelector('tabmesh-peer') as TabmeshPeerElement;
      const bounded = <T>(promise: Promise<T>, what: string): Promise<T> =>
        Promise.race([
          promise,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms)),
        ]);
      const first = element.node;
      if (first === null) throw new Error('no node');
      const restarted = new Promise<string>((resolve) =>
        element.addEventListener(
          'tabmesh:ready',
          (e) => resolve((e as CustomEvent<{ node: { network: string } }>).detail.node.network),
          {
            once: true,
          },
        ),
      );
      element.setAttribute('network', 'second');
      const network = await bounded(restarted, 'no restart');
      const failed = new Promise<string>((resolve) =>
        element.addEventListener(
          'tabmesh:error',
          (e) => resolve((e as CustomEvent<{ error: Error }>).detail.error.message),
          {
            once: true,
          },
        ),
      );
      element.setAttribute('max-connections', 'lots');
      const error = await bounded(failed, 'no tabmesh:error');
      const second = element.node;
      const status = element.shadowRoot?.querySelector('.status')?.textContent;
      element.setAttribute('max-connections', '3');
      const third = await bounded(element.ready, 'no start with max-connections=3');
      element.remove();
      await bounded(
        new Promise<void>((resolve) => {
          if (third.status.closed) resolve();
          third.addEventListener('status', () => {
            if (third.status.closed) resolve();
          });
        }),
        'the node not closed on removal',
      );
      return {
        network,
        firstClosed: first.status.closed,
        error,
        nodeAfterError: second,
        status,
        thirdNetwork: third.network,
        nodeAfterRemoval: element.node,
      };
    }, WAIT_MS);
    expect(result).toEqual({
      network: 'second',
      firstClosed: true,
      error: 'max-connections must be a positive integer, not "lots"',
      nodeAfterError: null,
      status: 'could not start: max-connections must be a positive integer, not "lots"',
      thirdNetwork: 'second',
      nodeAfterRemoval: null,
    });
  });

  it('is refused by a server that does not allow the site, and says so; no connection forms', async () => {
    const refusedSite = await hostSite((query) => hostHtml(widgetSrc, query));
    const main = await browser.tab(server, 'network=widget-net');
    const { host } = await hostTab(refusedSite);
    // The WebSocket is refused at the upgrade (403): the widget's node reports signaling down, and
    // the widget draws it. The node retries at once (full jitter may pick 0 ms), so the drawn dot
    // and its text are read together, in the mutation that draws the node's state.
    const drawn = await host.evaluate(
      (ms) =>
        new Promise<{ state: string | undefined; text: string | null }>((resolve, reject) => {
          const root = document.querySelector('tabmesh-peer')?.shadowRoot ?? null;
          if (root === null) return reject(new Error('widget has no open shadow root'));
          const dot = root.querySelector<HTMLElement>('.dot');
          const status = root.querySelector('.status');
          if (dot === null || status === null) return reject(new Error('widget has no status dot and text'));
          const check = (): void => {
            // render() draws the node's state as "signaling <state> …"; "starting…" is not it.
            if (dot.dataset['state'] !== 'disconnected' || !status.textContent.startsWith('signaling ')) return;
            observer.disconnect();
            resolve({ state: dot.dataset['state'], text: status.textContent });
          };
          const observer = new MutationObserver(check);
          observer.observe(root, { subtree: true, attributes: true, childList: true, characterData: true });
          check();
          setTimeout(() => reject(new Error(`signaling not drawn as down after ${ms} ms`)), ms);
        }),
      WAIT_MS,
    );
    expect(drawn).toEqual({
      state: 'disconnected',
      text: `signaling disconnected (${server.url.replace(/^http/, 'ws')}/ws); 0 connected`,
    });
    expect(await server.server.metrics.text()).toMatch(/tabmesh_refusals_total\{reason="ORIGIN_REFUSED"\} [1-9]/);
    expect(await host.evaluate(() => document.querySelector('tabmesh-peer')?.node?.connections().length)).toBe(0);
    expect(await main.evaluate(() => window.tabmesh?.connections().length)).toBe(0);
  });

  it("keeps the host's styles out and its own in", async () => {
    const { host: plain } = await hostTab(allowed);
    const { host: aggressive } = await hostTab(allowed, 'aggressive');
    // The host's global CSS changes nothing inside the widget.
    expect(await styles(aggressive, true)).toEqual(await styles(plain, true));
    // And the widget changes nothing of the host's: measured before it loads and after.
    for (const query of ['bare', 'bare&aggressive']) {
      const page = await browser.newPage();
      await page.goto(`${allowed.url}/?${query}`);
      const before = await styles(page, false);
      await page.addScriptTag({ type: 'module', url: widgetSrc });
      await widgetReady(page);
      expect(await styles(page, false)).toEqual(before);
    }
  });
});
