/**
 * The page as a product: its graph, links table and log show exactly what
 * the node knows; the theme toggle and the settings form work; controls are
 * named and the graph is usable from the keyboard.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { useBrowser } from '../helpers/fixture.js';
import { isOneMesh, waitForMesh } from '../helpers/mesh.js';
import { idOf, reloadTab, waitForConnections, waitForNode, waitForStatus } from '../helpers/tabs.js';

const browser = useBrowser();

/**
 * What the node knows and what the page draws of it, each as a sorted list
 * of peer IDs. With `settledOnly`, false unless every drawing matches the
 * node (one self-contained function: it runs in the page).
 */
function pageAndNode(settledOnly: boolean): Record<string, string[]> | false {
  const node = window.tabmesh;
  if (node === undefined) throw new Error('no node');
  const sorted = (ids: Iterable<string>): string[] => [...ids].sort();
  const drawn = (selector: string, attribute: string): string[] =>
    sorted([...document.querySelectorAll(selector)].map((e) => e.getAttribute(attribute) ?? ''));
  const connections = node.connections();
  const seen: Record<string, string[]> = {
    connections: sorted(connections),
    linkElements: drawn('#graph [data-link]', 'data-link'),
    activeNodes: drawn('#graph [data-kind="active"]', 'data-peer'),
    // A peer with a channel is drawn as connected even while also in the passive view.
    passive: sorted(node.neighbourhood().passive.filter((p) => !connections.includes(p))),
    passiveNodes: drawn('#graph [data-kind="passive"]', 'data-peer'),
    self: [node.id],
    selfNodes: drawn('#graph [data-kind="self"]', 'data-peer'),
    links: sorted(node.links().map((l) => l.peer)),
    linkRows: drawn('#links-body tr[data-link-row]', 'data-link-row'),
  };
  if (!settledOnly) return seen;
  const same = (a: string, b: string): boolean => JSON.stringify(seen[a]) === JSON.stringify(seen[b]);
  const settled =
    same('connections', 'linkElements') &&
    same('connections', 'activeNodes') &&
    same('passive', 'passiveNodes') &&
    same('self', 'selfNodes') &&
    same('links', 'linkRows');
  return settled ? seen : false;
}

/**
 * Waits (bounded) until the page shows the node's state, and returns the
 * snapshot in which it did: the mesh may change again right after.
 */
async function settledView(page: Page): Promise<Record<string, string[]>> {
  const handle = await page
    .waitForFunction(pageAndNode, true, { polling: 100, timeout: 10_000 })
    .catch(() => undefined);
  const settled = await handle?.jsonValue();
  if (settled !== undefined && settled !== false) return settled;
  // Not settled in time: the latest, so the assertions say what differs.
  return (await page.evaluate(pageAndNode, false)) as Record<string, string[]>;
}

describe('the page', () => {
  it("draws exactly the node's connections and passive view, and lists exactly its links with round-trip times", async () => {
    const server = await browser.pageServer();
    const tabs = await browser.tabs(server, 5, 'network=page-graph');
    await Promise.all(tabs.map((tab) => waitForConnections(tab, 1)));
    await waitForMesh(tabs, isOneMesh);
    for (const tab of tabs) {
      const seen = await settledView(tab);
      expect(seen['connections']?.length).toBeGreaterThan(0);
      expect(seen['linkElements']).toEqual(seen['connections']);
      expect(seen['activeNodes']).toEqual(seen['connections']);
      expect(seen['passiveNodes']).toEqual(seen['passive']);
      expect(seen['selfNodes']).toEqual(seen['self']);
      expect(seen['linkRows']).toEqual(seen['links']);
    }

    // Every open channel gets a round-trip time, and the table shows it with the bytes.
    const [first] = tabs;
    if (first === undefined) throw new Error('no tabs');
    await first.waitForFunction(
      () => {
        const open = window.tabmesh?.links().filter((l) => l.state === 'connected') ?? [];
        return open.length > 0 && open.every((l) => l.rttMs !== undefined);
      },
      undefined,
      { timeout: 15_000 },
    );
    const links = await first.evaluate(() => window.tabmesh?.links().filter((l) => l.state === 'connected') ?? []);
    for (const link of links) {
      expect(link.rttMs).toBeGreaterThanOrEqual(0);
      expect(link.rttMs).toBeLessThan(1_000);
      expect(link.bytesSent).toBeGreaterThan(0);
      expect(link.bytesReceived).toBeGreaterThan(0);
      expect(['server', 'local', 'mesh']).toContain(link.via);
    }
    await first.waitForFunction(
      (peers) => peers.every((p) => document.querySelector(`tr[data-link-row="${p}"] td[data-col="rtt"][data-ms]`)),
      links.map((l) => l.peer),
      { timeout: 5_000 },
    );
    const rows = await first.$$eval('#links-body tr[data-state="connected"]', (trs) =>
      trs.map((tr) => ({
        rtt: tr.querySelector('[data-col="rtt"]')?.textContent ?? '',
        sent: tr.querySelector('[data-col="sent"]')?.textContent ?? '',
        received: tr.querySelector('[data-col="received"]')?.textContent ?? '',
        via: tr.querySelector('[data-col="via"]')?.textContent ?? '',
      })),
    );
    expect(rows).toHaveLength(links.length);
    for (const row of rows) {
      expect(row.rtt).toMatch(/ms$/);
      expect(row.sent).toMatch(/^\d+(\.\d)? (B|KB|MB)$/);
      expect(row.received).toMatch(/^\d+(\.\d)? (B|KB|MB)$/);
      expect(row.via).not.toBe('—');
    }

    // A neighbour leaving takes its link element with it.
    const ids = await Promise.all(tabs.map(idOf));
    const gone = links[0]?.peer;
    const goneTab = tabs[ids.indexOf(gone as PeerId)];
    if (gone === undefined || goneTab === undefined) throw new Error('no neighbour among the tabs');
    const disconnected = waitForNode(first, 'peer:disconnect', (detail, _, peer) => detail?.peer === peer, {
      arg: gone,
      timeoutMs: 20_000,
      what: `the leaving neighbour ${gone}`,
    });
    await goneTab.close({ runBeforeUnload: true });
    await disconnected;
    await first.waitForFunction((peer) => document.querySelector(`#graph [data-link="${peer}"]`) === null, gone, {
      timeout: 5_000,
    });
    const after = await settledView(first);
    expect(after['linkElements']).not.toContain(gone);
    expect(after['linkElements']).toEqual(after['connections']);
  });

  it('lays nothing out until the first connection, and a tab alone or without its scripts still shows', async () => {
    const server = await browser.pageServer();
    const shown = (page: Page): Promise<boolean> =>
      page.evaluate(() => !document.documentElement.classList.contains('starting'));
    const visible = (page: Page): Promise<boolean> => page.locator('#own-id').isVisible();
    // Alone on its network: nobody to connect to, so the deadline shows the page.
    const alone = await browser.tab(server, 'network=first-draw');
    await alone.waitForFunction(() => !document.documentElement.classList.contains('starting'));
    expect(await visible(alone)).toBe(true);
    expect(await alone.evaluate(() => window.tabmesh?.connections().length)).toBe(0);
    // A second tab: hidden while it connects, shown at its first connection.
    const second = await browser.newPage();
    // Parsed, scripts run, the node not yet started (main.js is imported after).
    await second.addInitScript(() =>
      addEventListener('DOMContentLoaded', () => {
        (window as unknown as { startingAtParsed: boolean }).startingAtParsed =
          document.documentElement.classList.contains('starting');
      }),
    );
    await second.goto(`${server.url}/?network=first-draw`);
    const hiddenAtStart = await second.evaluate(
      () => (window as unknown as { startingAtParsed: boolean }).startingAtParsed,
    );
    // Read in the first connection's event: the page's own handler runs before the wait's (it was added first).
    const atConnect = await waitForNode(
      second,
      'peer:connect',
      (detail, node) =>
        (detail !== undefined || node.connections().length > 0) && {
          shownAtConnect: !document.documentElement.classList.contains('starting'),
        },
      { what: 'the first connection' },
    );
    expect({ hiddenAtStart, ...atConnect }).toEqual({ hiddenAtStart: true, shownAtConnect: true });
    expect(await visible(second)).toBe(true);
    // Without its main script (a failed download), the page still shows, saying it is starting.
    const broken = await browser.newPage();
    await broken.route('**/assets/main-*.js', (route) => route.abort());
    await broken.goto(`${server.url}/?network=first-draw`);
    expect(await shown(broken)).toBe(false);
    await broken.waitForFunction(() => !document.documentElement.classList.contains('starting'));
    expect(await visible(broken)).toBe(true);
    expect(await broken.locator('#own-id').textContent()).toBe('starting…');
  });

  it('asks for the rest of its script while its first script is still on its way', async () => {
    const server = await browser.pageServer();
    const page = await browser.newPage();
    let mainAsked: () => void = () => undefined;
    const mainRequested = new Promise<void>((resolve) => (mainAsked = resolve));
    await page.route('**/assets/main-*.js', async (route) => {
      mainAsked();
      await route.continue();
    });
    // The first script is held back until the rest has been asked for (at most 10 s).
    let askedFirst: boolean | undefined;
    await page.route('**/assets/index-*.js', async (route) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      askedFirst = await Promise.race([
        mainRequested.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 10_000))),
      ]);
      clearTimeout(timer);
      await route.continue();
    });
    await page.goto(`${server.url}/?network=preload`);
    const id = await page.evaluate(async () => (await window.tabmeshReady)?.id);
    expect(askedFirst).toBe(true);
    expect(id).toMatch(/^tm1/);
  });

  it('opens its signaling socket from its head, and the node registers on that socket (unless ?signaling= names one)', async () => {
    const server = await browser.pageServer();
    // Every WebSocket the page makes, with the document's state when it was made.
    const context = await browser.context();
    await context.addInitScript(() => {
      const made: [string, DocumentReadyState][] = [];
      Object.assign(window, { socketsMade: made });
      const Native = WebSocket;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          made.push([String(url), document.readyState]);
        }
      };
    });
    const socketsOnceRegistered = async (query: string): Promise<[string, DocumentReadyState][]> => {
      const page = await browser.tab(server, query);
      await waitForStatus(page, 'connected');
      return page.evaluate(() => (window as unknown as { socketsMade: [string, DocumentReadyState][] }).socketsMade);
    };
    const endpoint = `${server.url.replace(/^http/, 'ws')}/ws`;
    // The head's socket, made while the document was still being parsed, is the only one.
    expect(await socketsOnceRegistered('network=head-socket')).toEqual([
      [`${endpoint}?network=head-socket`, 'loading'],
    ]);
    // With ?signaling= (here naming the same server), the node opens its own, once the modules run.
    const own = await socketsOnceRegistered(`network=own-socket&signaling=${encodeURIComponent(endpoint)}`);
    expect(own).toHaveLength(1);
    expect(own[0]?.[0]).toBe(`${endpoint}?network=own-socket`);
    expect(own[0]?.[1]).not.toBe('loading');
  });

  it('switches theme with the toggle and keeps the choice across a reload', async () => {
    const server = await browser.pageServer();
    const page = await browser.tab(server, 'network=page-theme');
    await page.emulateMedia({ colorScheme: 'light' });
    const look = (): Promise<{ theme: string | undefined; pressed: string | null; background: string }> =>
      page.evaluate(() => ({
        theme: document.documentElement.dataset['theme'],
        pressed: document.querySelector('#theme-toggle')?.getAttribute('aria-pressed') ?? null,
        background: getComputedStyle(document.documentElement).backgroundColor,
      }));
    const light = await look();
    expect(light).toMatchObject({ theme: 'light', pressed: 'false' });
    await page.click('#theme-toggle');
    const dark = await look();
    expect(dark).toMatchObject({ theme: 'dark', pressed: 'true' });
    expect(dark.background).not.toBe(light.background);
    await reloadTab(page);
    // The system still prefers light: the stored choice wins.
    expect(await look()).toEqual(dark);
    await page.click('#theme-toggle');
    await reloadTab(page);
    expect(await look()).toEqual(light);
  });

  it('applies settings by loading the page with them in its URL', async () => {
    const server = await browser.pageServer();
    const page = await browser.tab(server, 'network=page-settings');
    await page.click('#open-settings');
    expect(await page.$eval('#settings', (d) => (d as HTMLDialogElement).open)).toBe(true);
    expect(await page.inputValue('#set-network')).toBe('page-settings');
    await page.fill('#set-network', 'elsewhere');
    await page.fill('#set-signaling', `${server.wsUrl}\n${server.wsUrl.replace('127.0.0.1', 'localhost')}`);
    await page.fill('#set-max', '3');
    await page.fill('#set-name', 'tester');
    await Promise.all([page.waitForURL(/network=elsewhere/), page.click('#settings-form button[type="submit"]')]);
    const params = Object.fromEntries(new URL(page.url()).searchParams);
    expect(params).toEqual({
      network: 'elsewhere',
      signaling: `${server.wsUrl},${server.wsUrl.replace('127.0.0.1', 'localhost')}`,
      maxConnections: '3',
      name: 'tester',
    });
    const network = await page.evaluate(async () => (await window.tabmeshReady)?.network);
    expect(network).toBe('elsewhere');
    expect(await page.textContent('#own-id')).toMatch(/^tester · tm1/);
  });

  it('names every control, reaches graph nodes from the keyboard, and marks routed messages in the log', async () => {
    const server = await browser.pageServer();
    const [a, b] = await browser.tabs(server, 2, 'network=page-a11y');
    if (a === undefined || b === undefined) throw new Error('no tabs');
    const idB = await idOf(b);
    await waitForConnections(a, 1);
    await a.waitForSelector(`#graph [data-peer="${idB}"][data-kind="active"]`);

    const unnamed = await a.evaluate(() =>
      [...document.querySelectorAll('button, input, select, textarea, [role="option"]')]
        .filter((element) => {
          // SVG options have no `labels`; form controls do.
          const labels = 'labels' in element ? (element.labels as NodeListOf<HTMLLabelElement> | null) : null;
          const labelledBy = element.getAttribute('aria-labelledby') ?? '';
          const text = (id: string): string => document.getElementById(id)?.textContent.trim() ?? '';
          return !(
            (labels !== null && labels.length > 0) ||
            (element.getAttribute('aria-label') ?? '').trim() !== '' ||
            labelledBy.split(' ').some((id) => text(id) !== '') ||
            (element.tagName === 'BUTTON' && element.textContent.trim() !== '')
          );
        })
        .map((element) => element.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);

    // One tab stop in the graph; arrow keys move between peers and the panel follows.
    const stops = await a.$$eval('#graph [data-peer]', (nodes) => nodes.map((n) => n.getAttribute('tabindex')));
    expect(stops.filter((t) => t === '0')).toHaveLength(1);
    expect(stops.every((t) => t === '0' || t === '-1')).toBe(true);
    await a.focus('#graph [data-kind="self"]');
    expect(await a.textContent('#detail-heading')).toBe('This tab');
    await a.keyboard.press('ArrowRight');
    expect(await a.evaluate(() => document.activeElement?.getAttribute('data-peer'))).toBe(idB);
    await a.waitForFunction(() => document.querySelector('#detail-kind')?.textContent === 'Connected');
    await a.keyboard.press('Home');
    expect(await a.evaluate(() => document.activeElement?.getAttribute('data-kind'))).toBe('self');

    // A message that came sealed through the mesh is marked as such; a direct one is not.
    await a.evaluate(
      (from) =>
        window.tabmesh?.dispatchEvent(
          new CustomEvent('message', { detail: { from, data: 'sealed hello', broadcast: false, routed: true } }),
        ),
      idB,
    );
    await b.evaluate((to) => window.tabmesh?.send(to, 'plain hello'), await idOf(a));
    await a.waitForSelector('#messages li[data-kind="direct"]');
    const log = await a.$$eval('#messages li', (items) =>
      items.map((li) => ({ kind: li.getAttribute('data-kind'), text: li.querySelector('.text')?.textContent })),
    );
    expect(log).toContainEqual({ kind: 'routed', text: 'sealed hello' });
    expect(log).toContainEqual({ kind: 'direct', text: 'plain hello' });
  });
});
