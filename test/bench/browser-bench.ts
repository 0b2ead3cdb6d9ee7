/**
 * Browser benchmarks (issue: the browser peer): time from opening the page to
 * the first authenticated connection, beside a bare simple-peer pair through
 * a bare relay; and broadcast delivery time across 6 and 12 tabs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sirv from 'sirv';
import { build } from 'vite';
import { launchChromium, newContext } from '../helpers/browser.js';
import { idOf, openTabs, waitForConnections } from '../helpers/tabs.js';
import { startServer } from '../helpers/server.js';
import { startFloorRelay } from './floor-relay.js';
import { waitForQuiet } from './quiet.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const BARE_DIR = `${root}dist/bench-bare`;
/**
 * The page as `npm start` builds it, in a directory of its own: test runs
 * rebuild dist/web, and must not swap the page under a running benchmark.
 */
export const PAGE_DIR = `${root}dist/bench-web`;

export async function buildPages(): Promise<void> {
  await build({
    configFile: `${root}vite.config.ts`,
    logLevel: 'warn',
    build: { outDir: PAGE_DIR, emptyOutDir: true },
  });
  await build({
    configFile: false,
    root: `${root}test/bench/fixtures/bare`,
    define: { global: 'globalThis' },
    logLevel: 'warn',
    build: { outDir: BARE_DIR, emptyOutDir: true, target: 'es2022' },
  });
}

/** Serve `dir` on a free port of `host` (its URL names loopback when `host` is every interface). */
export async function serveDir(dir: string, host = '127.0.0.1'): Promise<{ url: string; close(): Promise<void> }> {
  // The same caching as the Tabmesh server's static files (see server.ts).
  const server: Server = createServer(
    sirv(dir, {
      etag: true,
      dev: false,
      setHeaders: (response, pathname) => {
        if (pathname.startsWith('/assets/')) response.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      },
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A signaling server that also serves the page built by {@link buildPages}. */
export const startPageServer = (): ReturnType<typeof startServer> => startServer({ staticDir: PAGE_DIR });

export const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/**
 * An init script: records when the page's node first dispatches
 * `peer:connect` (window.__tabmeshFirstConnect). The benchmark asks the page
 * only once `goto` has returned (the load event), which can be after the
 * first connection: the listener it then adds would time when it asked,
 * not when the node connected. The bare page records its own `connect`.
 */
export const FIRST_CONNECT_HOOK = `(() => {
  const dispatch = EventTarget.prototype.dispatchEvent;
  EventTarget.prototype.dispatchEvent = function (event) {
    if (event.type === 'peer:connect' && window.__tabmeshFirstConnect === undefined)
      window.__tabmeshFirstConnect = performance.now();
    return dispatch.call(this, event);
  };
})();`;

/** In the page: ms from navigation to the first confirmed connection (FIRST_CONNECT_HOOK's, or when it comes). */
export const TABMESH_FIRST_CONNECT = `(async () => {
  if (window.__tabmeshFirstConnect !== undefined) return window.__tabmeshFirstConnect;
  const node = await window.tabmeshReady;
  if (node === undefined) throw new Error('no node');
  if (window.__tabmeshFirstConnect !== undefined) return window.__tabmeshFirstConnect;
  return new Promise((resolve) => {
    if (node.connections().length > 0) resolve(performance.now());
    node.addEventListener('peer:connect', () => resolve(performance.now()), { once: true });
  });
})()`;

/**
 * Open `url` in a new page and time it with `measure`. With `returning`, the
 * page opens in that profile (a returning visitor: cached scripts, existing
 * IndexedDB) and is closed after; otherwise in a fresh profile (first visit).
 */
async function timePageOpen(
  browser: Browser,
  url: string,
  measure: (page: Page) => Promise<number>,
  returning?: BrowserContext,
): Promise<number> {
  const context = returning ?? (await newContext(browser));
  const page = await context.newPage();
  await page.addInitScript(FIRST_CONNECT_HOOK);
  // Each run starts on a quiet machine, not amid the last one's teardown.
  await waitForQuiet();
  try {
    await page.goto(url);
    return await measure(page);
  } finally {
    // Closed the way a person closes a tab (pagehide runs, channels end at
    // once), so the listener is never left holding dead connections.
    await page.close({ runBeforeUnload: true });
    if (returning === undefined) await context.close();
  }
}

/**
 * Milliseconds from navigation to the tab's first confirmed Tabmesh
 * connection; a first visit (fresh profile) unless `returning` is given.
 */
export function tabmeshConnectOnce(
  browser: Browser,
  url: string,
  network: string,
  returning?: BrowserContext,
): Promise<number> {
  return timePageOpen(
    browser,
    `${url}/?network=${network}`,
    (page) => page.evaluate<number>(TABMESH_FIRST_CONNECT),
    returning,
  );
}

/** Milliseconds from navigation to the bare pair's simple-peer `connect`. */
function bareConnectOnce(
  browser: Browser,
  url: string,
  relay: string,
  listener: string,
  run: string,
  returning?: BrowserContext,
): Promise<number> {
  return timePageOpen(
    browser,
    `${url}/?id=dialer${run}&dial=${listener}&relay=${encodeURIComponent(relay)}`,
    (page) => page.evaluate(() => (window as unknown as { bareConnected: Promise<number> }).bareConnected),
    returning,
  );
}

export async function connectBench(log: (line: string) => void, runs: number): Promise<void> {
  await buildPages();
  const browser = await launchChromium();
  const server = await startPageServer();
  const bareSite = await serveDir(BARE_DIR);
  const relay = await startFloorRelay();
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  try {
    // A listener of each kind stays open; each run opens a fresh page (new context) that dials it.
    const listenerContext = await newContext(browser);
    const [listener] = await openTabs(listenerContext, server.url, 1, 'network=bench');
    if (listener === undefined) throw new Error('no listener');
    const bareListener = await listenerContext.newPage();
    await bareListener.goto(`${bareSite.url}/?id=listener&relay=${encodeURIComponent(relayUrl)}`);
    const tabmesh: number[] = [];
    const returning: number[] = [];
    const bare: number[] = [];
    const bareReturning: number[] = [];
    const profile = await newContext(browser);
    await (await profile.newPage()).goto('about:blank');
    // First visits in the returning profile, not counted.
    await tabmeshConnectOnce(browser, server.url, 'bench', profile);
    await bareConnectOnce(browser, bareSite.url, relayUrl, 'listener', 'warmup', profile);
    for (let run = 0; run < runs; run++) {
      // Rotate which goes first so drift hits all alike.
      const order = [
        async () => tabmesh.push(await tabmeshConnectOnce(browser, server.url, 'bench')),
        async () => returning.push(await tabmeshConnectOnce(browser, server.url, 'bench', profile)),
        async () => bare.push(await bareConnectOnce(browser, bareSite.url, relayUrl, 'listener', `first${run}`)),
        async () =>
          bareReturning.push(
            await bareConnectOnce(browser, bareSite.url, relayUrl, 'listener', `again${run}`, profile),
          ),
      ];
      for (let i = 0; i < order.length; i++) await order[(run + i) % order.length]?.();
    }
    await profile.close();
    log(`\n## Page open to first authenticated connection (median of ${runs} runs)`);
    log('| what | median ms | min ms | max ms |');
    log('|---|---:|---:|---:|');
    const row = (label: string, values: number[]): void =>
      log(
        `| ${label} | ${median(values).toFixed(0)} | ${Math.min(...values).toFixed(0)} | ${Math.max(...values).toFixed(0)} |`,
      );
    row('bare simple-peer pair through a bare relay, first visit (fresh profile)', bare);
    row('Tabmesh, first visit (fresh profile: IndexedDB and identity created)', tabmesh);
    row('bare pair, returning visitor (scripts cached)', bareReturning);
    row('Tabmesh, returning visitor (scripts cached, identity and peers from IndexedDB)', returning);
    log(
      `Tabmesh / bare: first visit ${(median(tabmesh) / median(bare)).toFixed(2)}×, ` +
        `returning ${(median(returning) / median(bareReturning)).toFixed(2)}× (goal ≤ 1.2×)`,
    );
    await listenerContext.close();
  } finally {
    await browser.close();
    await server.close();
    await bareSite.close();
    relay.close();
  }
}

export async function broadcastBench(
  log: (line: string) => void,
  tabCounts: readonly number[],
  rounds: number,
): Promise<void> {
  await buildPages();
  log(`\n## Broadcast delivery (${rounds} broadcasts from one tab; time until the last tab has it)`);
  log('| tabs | connections per tab (min-max) | median ms to all | median ms per tab |');
  log('|---:|---|---:|---:|');
  for (const count of tabCounts) {
    const browser = await launchChromium();
    const server = await startPageServer();
    try {
      const context = await newContext(browser);
      const tabs = await openTabs(context, server.url, count, `network=bcast${count}`);
      await Promise.all(tabs.map((tab) => waitForConnections(tab, Math.min(2, count - 1))));
      const degrees = await Promise.all(
        tabs.map((tab) => tab.evaluate(() => window.tabmesh?.connections().length ?? 0)),
      );
      const [origin, ...others] = tabs;
      if (origin === undefined) throw new Error('no tabs');
      await Promise.all(tabs.map(idOf));
      const toAll: number[] = [];
      const perTab: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const text = `bench ${round}`;
        const arrivals = others.map((tab) =>
          tab.evaluate(
            (wanted) =>
              new Promise<number>((resolve) => {
                const listener = (event: CustomEvent<{ data: string | Uint8Array }>): void => {
                  if (event.detail.data === wanted) resolve(performance.timeOrigin + performance.now());
                };
                window.tabmesh?.addEventListener('message', listener);
              }),
            text,
          ),
        );
        const sentAt = await origin.evaluate(async (wanted) => {
          const at = performance.timeOrigin + performance.now();
          await window.tabmesh?.broadcast(wanted);
          return at;
        }, text);
        const times = (await Promise.all(arrivals)).map((t) => t - sentAt);
        toAll.push(Math.max(...times));
        perTab.push(median(times));
      }
      log(
        `| ${count} | ${Math.min(...degrees)}-${Math.max(...degrees)} | ${median(toAll).toFixed(1)} | ${median(perTab).toFixed(1)} |`,
      );
      await context.close();
    } finally {
      await browser.close();
      await server.close();
    }
  }
}
