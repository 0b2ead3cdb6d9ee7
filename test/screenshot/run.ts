/**
 * `npm run screenshot`: the page from a real run, for the README. Builds the
 * page, starts the signaling server on port 0 serving it, opens six tabs in
 * Chromium (each in a context of its own, so they meet as separate browsers
 * do), waits for one mesh, exchanges a few messages, and saves one tab at
 * 1280 × 900 in the light theme to docs/screenshot.png and in the dark theme
 * to docs/screenshot-dark.png.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import buildPage from '../helpers/build-page.js';
import { launchChromium, newContext } from '../helpers/browser.js';
import { isOneMesh, waitForMesh } from '../helpers/mesh.js';
import {
  collectMessages,
  idOf,
  openTab,
  startPageServer,
  waitForConnections,
  waitForMessages,
} from '../helpers/tabs.js';

const NAMES = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'donald'] as const;
const VIEWPORT = { width: 1280, height: 900 };
/** The README's image must stay small. */
const MAX_BYTES = 300 * 1024;
const docs = (file: string): string => fileURLToPath(new URL(`../../docs/${file}`, import.meta.url));

/** Resolves once the page's animations and transitions have finished. */
function settled(page: Page): Promise<void> {
  return page.evaluate(async () => {
    const finite = document.getAnimations().filter((a) => a.effect?.getComputedTiming().endTime !== Infinity);
    await Promise.all(finite.map((a) => a.finished.catch(() => undefined)));
  });
}

async function shoot(page: Page, colorScheme: 'light' | 'dark', file: string): Promise<void> {
  await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
  await settled(page);
  const path = docs(file);
  await page.screenshot({ path, animations: 'disabled' });
  const { size } = await stat(path);
  console.log(`${path}: ${Math.round(size / 1024)} KB`);
  if (size > MAX_BYTES) throw new Error(`${file} is ${size} bytes, over ${MAX_BYTES}`);
}

async function main(): Promise<void> {
  await buildPage();
  const server = await startPageServer();
  const browser = await launchChromium();
  try {
    const tabs = await Promise.all(
      NAMES.map(async (name) => {
        const context = await newContext(browser);
        const page = await context.newPage();
        await page.setViewportSize(VIEWPORT);
        await page.emulateMedia({ colorScheme: 'light' });
        return openTab(page, server.url, `network=demo&name=${name}`);
      }),
    );
    await Promise.all(tabs.map((tab) => waitForConnections(tab, 1)));
    await waitForMesh(tabs, isOneMesh);
    const [shot, ...others] = tabs;
    if (shot === undefined) throw new Error('no tabs');
    const read = await collectMessages(shot);
    const lines = ['morning, everyone', 'anyone up for a game of go?', 'the mesh carries on without the server'];
    for (const [i, text] of lines.entries()) {
      const from = others[i];
      await from?.evaluate((t) => window.tabmesh?.broadcast(t), text);
      await waitForMessages(shot, text, 1);
    }
    const direct = others[others.length - 1];
    await direct?.evaluate((to) => window.tabmesh?.send(to, 'just to you: hi!'), await idOf(shot));
    await waitForMessages(shot, 'just to you: hi!', 1);
    console.log(`${(await read()).length} messages in the shot tab`);
    // And one from the shot tab, through its own form.
    await shot.fill('#message', 'hi all, ada here');
    await shot.click('#compose button[type="submit"]');
    await shot.waitForSelector('#messages li[data-kind="sent"]');
    // Every open channel measured, and the table showing it.
    await shot.waitForFunction(
      () => {
        const links = window.tabmesh?.links().filter((l) => l.state === 'connected') ?? [];
        return (
          links.length > 0 &&
          links.every((l) => l.rttMs !== undefined) &&
          links.every((l) => document.querySelector(`tr[data-link-row="${l.peer}"] td[data-col="rtt"][data-ms]`))
        );
      },
      undefined,
      { timeout: 20_000 },
    );
    // Links up for a few seconds, so the table's uptimes and byte counts read like a real session.
    await shot.waitForFunction(
      () => window.tabmesh?.links().every((l) => l.connectedAt !== undefined && Date.now() - l.connectedAt > 5_000),
      undefined,
      { timeout: 30_000, polling: 500 },
    );
    // Show a neighbour's details, as a visitor clicking it would.
    const neighbour = await shot.evaluate(() => window.tabmesh?.connections()[0]);
    if (neighbour !== undefined) await shot.click(`#graph [data-peer="${neighbour}"] .dot`);
    await shot.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await shoot(shot, 'light', 'screenshot.png');
    await shoot(shot, 'dark', 'screenshot-dark.png');
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
