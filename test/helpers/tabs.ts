/**
 * Tabs as Tabmesh peers for browser tests: open the built page from a test
 * server, and wait on the node's own events (with a bound) inside the page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import type { BrowserContext, Page } from 'playwright-core';
import { onTestFailed, onTestFinished } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { NodeStatus } from '../../web/node/options.js';
import { startServer, type TestServer } from './server.js';

export const PAGE_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** A signaling server that also serves the built page. */
export function startPageServer(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  return startServer({ staticDir: PAGE_DIR, ...options });
}

/**
 * The built page from a static server of its own (as from a CDN), so it can
 * still be loaded while a test's signaling server is down. Point it at the
 * signaling server with `?signaling=`.
 */
export async function servePage(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(sirv(PAGE_DIR, { dev: true }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Open the page `count` times in `context` and wait until each node exists. */
export async function openTabs(context: BrowserContext, url: string, count: number, query = ''): Promise<Page[]> {
  const pages = await Promise.all(Array.from({ length: count }, () => context.newPage()));
  await Promise.all(pages.map((page) => openTab(page, url, query)));
  return pages;
}

export async function openTab(page: Page, url: string, query = ''): Promise<Page> {
  await page.goto(`${url}/${query === '' ? '' : `?${query}`}`);
  await page.evaluate(async () => {
    if (window.tabmeshReady === undefined) throw new Error('the page did not start a node');
    await window.tabmeshReady;
  });
  return page;
}

export function idOf(page: Page): Promise<PeerId> {
  return page.evaluate(() => window.tabmesh?.id ?? Promise.reject(new Error('no node')));
}

/**
 * Resolves once the tab's identity is in a storage slot (the slot it names
 * in sessionStorage), so a reload brings it back: a first visit starts with
 * a fresh key and stores it meanwhile (web/local/identity.ts).
 */
export async function waitForStoredIdentity(page: Page, timeoutMs = 10_000): Promise<void> {
  await page.waitForFunction(() => sessionStorage.getItem('tabmesh:slot') !== null, undefined, {
    timeout: timeoutMs,
  });
}

/** Resolves once the tab has at least `min` confirmed connections. */
export function waitForConnections(page: Page, min: number, timeoutMs = 30_000): Promise<PeerId[]> {
  return page.evaluate(
    ([want, ms]) =>
      new Promise<PeerId[]>((resolve, reject) => {
        const node = window.tabmesh;
        if (node === undefined) return reject(new Error('no node'));
        const check = (): void => {
          if (node.connections().length >= want) {
            node.removeEventListener('peer:connect', check);
            resolve(node.connections());
          }
        };
        node.addEventListener('peer:connect', check);
        setTimeout(
          () => reject(new Error(`only ${node.connections().length} of ${want} connections after ${ms} ms`)),
          ms,
        );
        check();
      }),
    [min, timeoutMs] as const,
  );
}

/** Resolves once the tab is connected to `peer`. */
export function waitForPeer(page: Page, peer: PeerId, timeoutMs = 30_000): Promise<void> {
  return page.evaluate(
    ([id, ms]) =>
      new Promise<void>((resolve, reject) => {
        const node = window.tabmesh;
        if (node === undefined) return reject(new Error('no node'));
        const check = (): void => {
          if (node.connections().includes(id)) resolve();
        };
        node.addEventListener('peer:connect', check);
        setTimeout(() => reject(new Error(`not connected to the peer after ${ms} ms`)), ms);
        check();
      }),
    [peer, timeoutMs] as const,
  );
}

/** Resolves with the status once `predicate`-like fields match. */
export function waitForStatus(page: Page, signaling: NodeStatus['signaling'], timeoutMs = 30_000): Promise<NodeStatus> {
  return page.evaluate(
    ([want, ms]) =>
      new Promise<NodeStatus>((resolve, reject) => {
        const node = window.tabmesh;
        if (node === undefined) return reject(new Error('no node'));
        const check = (): void => {
          if (node.status.signaling === want) resolve(node.status);
        };
        node.addEventListener('status', check);
        setTimeout(() => reject(new Error(`signaling not ${want} after ${ms} ms (is ${node.status.signaling})`)), ms);
        check();
      }),
    [signaling, timeoutMs] as const,
  );
}

/** Start collecting this tab's message events; returns a reader of what arrived. */
export async function collectMessages(
  page: Page,
): Promise<() => Promise<{ from: string; data: string; broadcast: boolean }[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { collected?: { from: string; data: string; broadcast: boolean }[] };
    // Collecting again starts a new list; the one listener stays.
    if (w.collected !== undefined) {
      w.collected = [];
      return;
    }
    w.collected = [];
    window.tabmesh?.addEventListener('message', (event) => {
      const { from, data, broadcast } = event.detail;
      w.collected?.push({ from, data: typeof data === 'string' ? data : `bytes:${data.length}`, broadcast });
    });
  });
  return () =>
    page.evaluate(
      () => (window as unknown as { collected: { from: string; data: string; broadcast: boolean }[] }).collected,
    );
}

/** Resolves once the tab has collected `count` messages with `data` (collectMessages first). */
export function waitForMessages(page: Page, data: string, count: number, timeoutMs = 30_000): Promise<void> {
  return page.evaluate(
    ([text, want, ms]) =>
      new Promise<void>((resolve, reject) => {
        const w = window as unknown as { collected: { data: string }[] };
        const node = window.tabmesh;
        if (node === undefined) return reject(new Error('no node'));
        const check = (): void => {
          if (w.collected.filter((m) => m.data === text).length >= want) resolve();
        };
        node.addEventListener('message', () => queueMicrotask(check));
        setTimeout(() => reject(new Error(`message not received ${want} times after ${ms} ms`)), ms);
        check();
      }),
    [data, count, timeoutMs] as const,
  );
}

/** Events a traced tab keeps, newest last; older ones are dropped. */
const TRACE_CAP = 400;

/**
 * Record every node event of the context's tabs, across reloads, for a
 * failure report: the node is caught as the page assigns `window.tabmesh`.
 */
export async function traceNodes(context: BrowserContext): Promise<void> {
  await context.addInitScript((cap: number) => {
    const trace: string[] = [];
    const start = performance.now();
    let node: EventTarget | undefined;
    Object.defineProperty(window, '__tabmeshTrace', { value: trace });
    const note = (line: string): void => {
      trace.push(`${(performance.now() - start).toFixed(0)} ms ${line}`);
      if (trace.length > cap) trace.shift();
    };
    // Errors too: a failure inside the node's handlers shows only there.
    const error = console.error.bind(console);
    console.error = (...args: unknown[]) => {
      note(
        `console.error ${args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(' ')}`,
      );
      error(...args);
    };
    addEventListener('unhandledrejection', (event) => note(`unhandled rejection ${String(event.reason)}`));
    addEventListener('error', (event) => note(`error ${event.message}`));
    Object.defineProperty(window, 'tabmesh', {
      configurable: true,
      get: () => node,
      set: (value: EventTarget) => {
        node = value;
        for (const type of ['peer:connect', 'peer:disconnect', 'status', 'neighbours', 'warning']) {
          value.addEventListener(type, (event) => {
            note(`${type} ${JSON.stringify((event as CustomEvent<unknown>).detail)}`);
          });
        }
        // Messages in short: who from, how, and the start of the text.
        value.addEventListener('message', (event) => {
          const { from, data, broadcast } = (event as CustomEvent<{ from: string; data: unknown; broadcast: boolean }>)
            .detail;
          const text = typeof data === 'string' ? data.slice(0, 40) : 'bytes';
          note(`message ${JSON.stringify({ from, broadcast, text })}`);
        });
      },
    });
  }, TRACE_CAP);
}

/** What a tab's node did and holds now, for a failure report. */
export async function traceOf(page: Page): Promise<string> {
  try {
    return await page.evaluate(() => {
      const node = window.tabmesh;
      const trace = (window as unknown as { __tabmeshTrace?: string[] }).__tabmeshTrace ?? [];
      const now =
        node === undefined
          ? 'no node'
          : JSON.stringify({
              id: node.id,
              status: node.status,
              connections: node.connections(),
              neighbourhood: node.neighbourhood(),
              links: node.links(),
              problems: node.problems(),
              mesh: node.meshStats(),
            });
      return [...trace, `now: ${now}`].join('\n');
    });
  } catch (error) {
    return `no trace: ${String(error)}`;
  }
}

/**
 * Call inside a test: when it fails (or always, with TABMESH_TRACE=1), print
 * what the named tabs' nodes did (contexts set up with {@link traceNodes}).
 */
export function reportOnFailure(which: () => ReadonlyArray<readonly [string, Page]>): void {
  const report = async (): Promise<void> => {
    for (const [label, tab] of which()) console.error(`--- ${label} ---\n${await traceOf(tab)}`);
  };
  try {
    onTestFailed(report);
    if (process.env['TABMESH_TRACE'] === '1') onTestFinished(report);
  } catch {
    // Outside a test (a beforeAll): nothing to report on.
  }
}
