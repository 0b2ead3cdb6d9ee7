/**
 * phases.ts for Firefox: where the time goes between page open and the first
 * connection in a Firefox tab (test/helpers/firefox.ts: its own network
 * namespace, so root) dialling a Chromium tab that stays open, Tabmesh and
 * the bare simple-peer pair alike, with a Chromium tab dialling the same
 * listener as the reference. The same instrumentation as phases.ts (the
 * page's WebSocket, RTCPeerConnection, IndexedDB, Web Locks and Web Crypto
 * calls, candidate types, the signaling server's frames), on one timeline
 * with the listener's (`L:`) and the server's (`S:`) events. Not a benchmark.
 * `node --import tsx test/bench/firefox-phases.ts [runs]` (default 7);
 * PHASES_NOBUILD=1 reuses the last build, PHASES_DIR=… serves another build.
 */
import { writeFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Page as FirefoxPage } from 'puppeteer-core';
import { newContext } from '../helpers/browser.js';
import type { Firefox } from '../helpers/firefox.js';
import { openTabs } from '../helpers/tabs.js';
import { buildPages, PAGE_DIR, TABMESH_FIRST_CONNECT } from './browser-bench.js';
import { startCrossBrowserRig } from './cross-browser.js';
import { INSTRUMENT, report, serverEvents } from './phases.js';
import { waitForQuiet } from './quiet.js';

/** In the page: when it is connected (a Tabmesh node's first peer, or the bare pair's `connect`). */
const CONNECTED = `(() => window.bareConnected ?? ${TABMESH_FIRST_CONNECT})()`;

/** In the page, once connected at `end`: its own marks, counts and resource timings. */
const OWN = (end: number): string => `(() => {
  const end = ${end};
  const all = window.__all;
  const before = all.filter(([, at]) => at - performance.timeOrigin <= end);
  const count = (prefix) => before.filter(([k]) => k.startsWith(prefix)).length;
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    ...window.__phases,
    'nav:responseEnd': nav ? nav.responseEnd : NaN,
    'nav:domInteractive': nav ? nav.domInteractive : NaN,
    'count:pc:new': count('pc:new'),
    'count:ws:send:signal': count('ws:send:signal'),
    'count:subtle:sign': count('subtle:sign') / 2,
    'count:subtle:verify': count('subtle:verify') / 2,
    ...Object.fromEntries(performance.getEntriesByType('mark').map((m) => ['mark:' + m.name, m.startTime])),
    ...Object.fromEntries(
      performance.getEntriesByType('resource').map((e) => ['fetched:' + e.name.replace(/.*\\//, '').slice(0, 12), e.responseEnd]),
    ),
    origin: performance.timeOrigin,
    connected: end,
  };
})()`;

/** What either browser's page offers here. */
interface AnyPage {
  evaluate(code: string): Promise<unknown>;
}

/** Open a page with `open`, wait for its connection, and return its timeline with the listener's and server's. */
async function timeline(
  open: () => Promise<AnyPage & { close(): Promise<void> }>,
  listener: Page,
): Promise<Record<string, number>> {
  await listener.evaluate(() => (window as unknown as { __all: unknown[] }).__all.splice(0));
  serverEvents.splice(0);
  const page = await open();
  try {
    const end = (await page.evaluate(CONNECTED)) as number;
    const own = (await page.evaluate(OWN(end))) as Record<string, number>;
    const origin = own['origin'] ?? 0;
    delete own['origin'];
    const listened = await listener.evaluate(() =>
      (window as unknown as { __all: [string, number][] }).__all.splice(0),
    );
    const other: Record<string, number> = {};
    for (const [k, at] of listened) if (at >= origin && !(`L:${k}` in other)) other[`L:${k}`] = at - origin;
    for (const [k, at] of serverEvents)
      for (let i = 0; ; i++)
        if (!(`${k}:${i}` in other)) {
          other[`${k}:${i}`] = at - origin;
          break;
        }
    return { ...own, ...Object.fromEntries(Object.entries(other).filter(([, at]) => at <= end + 5)) };
  } finally {
    await page.close();
  }
}

/** A fresh Firefox profile's page at `url`, instrumented. */
function firefoxPage(firefox: Firefox, url: string): () => Promise<AnyPage & { close(): Promise<void> }> {
  return async () => {
    const profile = await firefox.browser.createBrowserContext();
    const page: FirefoxPage = await profile.newPage();
    await page.evaluateOnNewDocument(INSTRUMENT);
    await waitForQuiet();
    await page.goto(url);
    return {
      evaluate: (code) => page.evaluate(code),
      close: async () => {
        await page.close({ runBeforeUnload: true });
        await profile.close();
      },
    };
  };
}

/** A fresh Chromium profile's page at `url`, instrumented. */
function chromiumPage(chromium: Browser, url: string): () => Promise<AnyPage & { close(): Promise<void> }> {
  return async () => {
    const context: BrowserContext = await newContext(chromium);
    await context.addInitScript(INSTRUMENT);
    const page = await context.newPage();
    await waitForQuiet();
    await page.goto(url);
    return {
      evaluate: (code) => page.evaluate(code),
      close: async () => {
        await page.close({ runBeforeUnload: true });
        await context.close();
      },
    };
  };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 7);
  if (process.env['PHASES_NOBUILD'] === undefined) await buildPages();
  const rig = await startCrossBrowserRig(process.env['PHASES_DIR'] ?? PAGE_DIR);
  const { firefox, chromium, server } = rig;
  try {
    const listeners = await newContext(chromium);
    await listeners.addInitScript(INSTRUMENT);
    const [listener] = await openTabs(listeners, server.url, 1, 'network=bench');
    if (listener === undefined) throw new Error('no listener');
    const bareListener = await listeners.newPage();
    await bareListener.goto(rig.chromiumBareListener('listener'));
    const ffTabmesh = rig.firefoxTabmesh('bench');
    const ffBare = (id: string): string => rig.firefoxBare(id, 'listener');
    const crBare = (id: string): string => rig.chromiumBare(id, 'listener');
    // A freshly launched browser's first pages are slow: one of each, not counted.
    // A freshly launched Firefox's first page: shown (a user's first page after starting Firefox is one).
    report('Firefox → Chromium, Tabmesh, the first page of a freshly launched Firefox', [
      await timeline(firefoxPage(firefox, ffTabmesh), listener),
    ]);
    await timeline(firefoxPage(firefox, ffBare('warm')), bareListener);
    await timeline(chromiumPage(chromium, `${server.url}/?network=bench`), listener);
    const results: Record<string, Record<string, number>[]> = { ft: [], fb: [], ct: [], cb: [] };
    for (let run = 0; run < runs; run++) {
      const order = [
        async () => results['ft']?.push(await timeline(firefoxPage(firefox, ffTabmesh), listener)),
        async () => results['fb']?.push(await timeline(firefoxPage(firefox, ffBare(`f${run}`)), bareListener)),
        async () =>
          results['ct']?.push(await timeline(chromiumPage(chromium, `${server.url}/?network=bench`), listener)),
        async () => results['cb']?.push(await timeline(chromiumPage(chromium, crBare(`c${run}`)), bareListener)),
      ];
      for (let i = 0; i < order.length; i++) await order[(run + i) % order.length]?.();
    }
    // PHASES_JSON=file: every run's timeline, for a closer look.
    const json = process.env['PHASES_JSON'];
    if (json !== undefined) writeFileSync(json, JSON.stringify(results));
    report('Firefox → Chromium, Tabmesh, first visit', results['ft'] ?? []);
    report('Firefox → Chromium, bare, first visit', results['fb'] ?? []);
    report('Chromium → Chromium, Tabmesh, first visit', results['ct'] ?? []);
    report('Chromium → Chromium, bare, first visit', results['cb'] ?? []);
  } finally {
    await rig.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`firefox phases failed: ${String(error)}\n`);
    process.exit(1);
  },
);
