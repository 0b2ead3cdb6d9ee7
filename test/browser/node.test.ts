import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext } from '../helpers/browser.js';
import { isOneMesh, waitForMesh } from '../helpers/mesh.js';
import type { TestServer } from '../helpers/server.js';
import {
  collectMessages,
  idOf,
  openTab,
  openTabs,
  startPageServer,
  waitForConnections,
  waitForMessages,
  waitForPeer,
} from '../helpers/tabs.js';

let browser: Browser;
let server: TestServer;
let context: BrowserContext;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser.close();
});
afterEach(async () => {
  await context.close();
  await server.close();
});

describe('tabs as peers', () => {
  it('six tabs join, each gets authenticated connections, and a broadcast reaches every other tab exactly once', async () => {
    server = await startPageServer();
    context = await newContext(browser);
    const tabs = await openTabs(context, server.url, 6, 'network=six');
    const ids = await Promise.all(tabs.map(idOf));
    expect(new Set(ids).size).toBe(6);
    await Promise.all(tabs.map((tab) => waitForConnections(tab, 1)));
    // One mesh before the broadcast: six tabs joining at once may pair off first.
    await waitForMesh(tabs, isOneMesh);
    for (const [i, tab] of tabs.entries()) {
      const connected = await tab.evaluate(() => window.tabmesh?.connections() ?? []);
      for (const peer of connected) expect(ids.filter((_, j) => j !== i)).toContain(peer);
    }
    const readers = await Promise.all(tabs.map(collectMessages));
    const [origin, ...others] = tabs;
    if (origin === undefined) throw new Error('no tabs');
    await origin.evaluate(() => window.tabmesh?.broadcast('hello, six'));
    await Promise.all(others.map((tab) => waitForMessages(tab, 'hello, six', 1)));
    // A second round from every tab: once all of it has arrived, any duplicate
    // of the first broadcast would have had all that time to arrive as well.
    await Promise.all(tabs.map((tab, i) => tab.evaluate((n) => window.tabmesh?.broadcast(`round two from ${n}`), i)));
    await Promise.all(
      tabs.flatMap((tab, i) =>
        tabs.map((_, j) => (i === j ? Promise.resolve() : waitForMessages(tab, `round two from ${j}`, 1))),
      ),
    );
    for (const [i, read] of readers.entries()) {
      const messages = await read();
      const first = messages.filter((m) => m.data === 'hello, six');
      expect(first).toHaveLength(i === 0 ? 0 : 1);
      if (i > 0) expect(first[0]).toEqual({ from: ids[0], data: 'hello, six', broadcast: true });
      for (let j = 0; j < tabs.length; j++) {
        expect(messages.filter((m) => m.data === `round two from ${j}`)).toHaveLength(i === j ? 0 : 1);
      }
    }
  });

  it('sends 10 MiB to a peer intact, and refuses more than 16 MiB with a clear error', async () => {
    server = await startPageServer();
    context = await newContext(browser);
    const [a, b] = await openTabs(context, server.url, 2, 'network=bulk');
    if (a === undefined || b === undefined) throw new Error('no tabs');
    const idB = await idOf(b);
    await waitForPeer(a, idB);
    const received = b.evaluate(
      () =>
        new Promise<{ length: number; digest: string }>((resolve) => {
          window.tabmesh?.addEventListener('message', (event) => {
            const { data } = event.detail;
            if (typeof data === 'string') return;
            void crypto.subtle.digest('SHA-256', new Uint8Array(data)).then((d) =>
              resolve({
                length: data.length,
                digest: [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join(''),
              }),
            );
          });
        }),
    );
    const sent = await a.evaluate(async (to) => {
      const payload = new Uint8Array(10 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 65536) crypto.getRandomValues(payload.subarray(i, i + 65536));
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', payload));
      await window.tabmesh?.send(to, payload);
      return { length: payload.length, digest: [...digest].map((x) => x.toString(16).padStart(2, '0')).join('') };
    }, idB);
    expect(await received).toEqual(sent);
    const refusal = await a.evaluate(async (to) => {
      try {
        await window.tabmesh?.send(to, new Uint8Array(16 * 1024 * 1024 + 1));
        return 'sent';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    }, idB);
    expect(refusal).toBe('PAYLOAD_TOO_LARGE');
  });

  it('gives a reloaded tab its own ID back, and it reconnects', async () => {
    server = await startPageServer();
    context = await newContext(browser);
    const [a, b] = await openTabs(context, server.url, 2, 'network=reload');
    if (a === undefined || b === undefined) throw new Error('no tabs');
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    await waitForPeer(a, idB);
    await b.reload();
    await b.evaluate(() => window.tabmeshReady);
    expect(await idOf(b)).toBe(idB);
    await waitForPeer(b, idA);
    await waitForPeer(a, idB);
  });

  it('never gives two tabs open together the same ID', async () => {
    server = await startPageServer();
    context = await newContext(browser);
    const tabs = await openTabs(context, server.url, 4, 'network=slots');
    const ids = await Promise.all(tabs.map(idOf));
    expect(new Set(ids).size).toBe(4);
    // A tab opened after another closed may take the freed slot, never a held one.
    await tabs[1]?.close();
    const late = await openTab(await context.newPage(), server.url, 'network=slots');
    const lateId = await idOf(late);
    expect([ids[0], ids[2], ids[3]]).not.toContain(lateId);
  });
});
