/**
 * Page open to first connection with Firefox in the mix (issue 17): a fresh
 * Firefox tab (its own profile each run, or one returning profile) dials a
 * Chromium tab that stays open, Tabmesh beside the bare simple-peer pair
 * through the bare relay, with a fresh Chromium tab dialling the same
 * listener as the reference. Firefox runs as in the tests
 * (test/helpers/firefox.ts: its own network namespace, so root).
 * `node --import tsx test/bench/firefox-connect.ts [runs]` prints medians.
 */
import type { BrowserContext as FirefoxProfile } from 'puppeteer-core';
import type { Browser, BrowserContext } from 'playwright-core';
import { newContext } from '../helpers/browser.js';
import type { Firefox } from '../helpers/firefox.js';
import { openTabs } from '../helpers/tabs.js';
import { buildPages, median, FIRST_CONNECT_HOOK, TABMESH_FIRST_CONNECT } from './browser-bench.js';
import { startCrossBrowserRig } from './cross-browser.js';
import { waitForQuiet } from './quiet.js';

const RUNS = Number(process.argv[2] ?? 7);

/** In the page: ms from navigation to the first confirmed Tabmesh connection, or the bare pair's `connect`. */
const FIRST_CONNECTION = `(() => window.bareConnected ?? ${TABMESH_FIRST_CONNECT})()`;

/** Open `url` in a Firefox tab (a fresh profile unless `returning`), time it, close it as a person would. */
async function firefoxOnce(firefox: Firefox, url: string, returning?: FirefoxProfile): Promise<number> {
  const profile = returning ?? (await firefox.browser.createBrowserContext());
  const page = await profile.newPage();
  await page.evaluateOnNewDocument(FIRST_CONNECT_HOOK);
  await waitForQuiet();
  try {
    await page.goto(url);
    return (await page.evaluate(FIRST_CONNECTION)) as number;
  } finally {
    await page.close({ runBeforeUnload: true });
    if (returning === undefined) await profile.close();
  }
}

/** The same in a fresh Chromium profile. */
async function chromiumOnce(chromium: Browser, url: string): Promise<number> {
  const context = await newContext(chromium);
  const page = await context.newPage();
  await page.addInitScript(FIRST_CONNECT_HOOK);
  await waitForQuiet();
  try {
    await page.goto(url);
    return await page.evaluate<number>(FIRST_CONNECTION);
  } finally {
    await page.close({ runBeforeUnload: true });
    await context.close();
  }
}

async function main(): Promise<void> {
  await buildPages();
  const rig = await startCrossBrowserRig();
  const { firefox, chromium, server } = rig;
  const rows: [string, number[]][] = [];
  let listeners: BrowserContext | undefined;
  try {
    listeners = await newContext(chromium);
    await openTabs(listeners, server.url, 1, 'network=bench');
    await (await listeners.newPage()).goto(rig.chromiumBareListener('listener'));
    const ffTabmesh = rig.firefoxTabmesh('bench');
    const ffBare = (run: string): string => rig.firefoxBare(`ff${run}`, 'listener');
    const crBare = (run: string): string => rig.chromiumBare(`cr${run}`, 'listener');
    const returning = await firefox.browser.createBrowserContext();
    // Returning visitors' first visits, not counted.
    await firefoxOnce(firefox, ffTabmesh, returning);
    await firefoxOnce(firefox, ffBare('warmup'), returning);
    const series = {
      ffTabmesh: [] as number[],
      ffTabmeshReturning: [] as number[],
      ffBare: [] as number[],
      ffBareReturning: [] as number[],
      crTabmesh: [] as number[],
      crBare: [] as number[],
    };
    for (let run = 0; run < RUNS; run++) {
      const order = [
        async () => series.ffTabmesh.push(await firefoxOnce(firefox, ffTabmesh)),
        async () => series.ffTabmeshReturning.push(await firefoxOnce(firefox, ffTabmesh, returning)),
        async () => series.ffBare.push(await firefoxOnce(firefox, ffBare(`first${run}`))),
        async () => series.ffBareReturning.push(await firefoxOnce(firefox, ffBare(`again${run}`), returning)),
        async () => series.crTabmesh.push(await chromiumOnce(chromium, `${server.url}/?network=bench`)),
        async () => series.crBare.push(await chromiumOnce(chromium, crBare(`${run}`))),
      ];
      // Rotate which goes first so drift hits all alike.
      for (let i = 0; i < order.length; i++) await order[(run + i) % order.length]?.();
    }
    await returning.close();
    rows.push(
      ['Firefox → Chromium, Tabmesh, first visit (fresh profile)', series.ffTabmesh],
      ['Firefox → Chromium, Tabmesh, returning (identity and peers from IndexedDB)', series.ffTabmeshReturning],
      ['Firefox → Chromium, bare simple-peer pair, first visit', series.ffBare],
      ['Firefox → Chromium, bare pair, returning', series.ffBareReturning],
      ['Chromium → Chromium, Tabmesh, first visit (reference)', series.crTabmesh],
      ['Chromium → Chromium, bare pair, first visit (reference)', series.crBare],
    );
  } finally {
    await listeners?.close();
    await rig.close();
  }
  console.log(`\n## Page open to first connection, Firefox and Chromium (median of ${RUNS} runs)`);
  console.log('| what | median ms | min ms | max ms |');
  console.log('|---|---:|---:|---:|');
  for (const [label, values] of rows) {
    const [low, high] = [Math.min(...values), Math.max(...values)];
    console.log(`| ${label} | ${median(values).toFixed(0)} | ${low.toFixed(0)} | ${high.toFixed(0)} |`);
  }
}

await main();
