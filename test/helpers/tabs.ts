/**
 * Tabs as Tabmesh peers for browser tests: open the built page from a test
 * server, and wait on the node's own events (with a bound) inside the page.
 * The helpers take any {@link Tab}: a Chromium page (playwright-core) or a
 * Firefox one (puppeteer-core, firefox.ts).
 */
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import type { BrowserContext, Page } from 'playwright-core';
import { onTestFailed, onTestFinished } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { NodeEvents, NodeStatus, TabmeshNode } from '../../web/tabmesh.js';
import { serveHttp, type Site } from './browser.js';
import { startServer, type TestServer } from './server.js';

export const PAGE_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/**
 * What the helpers use of a tab: evaluating a function (with one argument) or
 * an expression in the page. playwright-core's and puppeteer-core's pages
 * both have it.
 */
export interface Tab {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  evaluate<R>(fn: string | (() => R | Promise<R>)): Promise<R>;
}

/**
 * A signaling server that also serves the built page. Every browser context
 * of a test is a user of its own with its own HTTP connections (up to 6 while
 * a page loads), all from one address: the cap on TCP connections per
 * address is raised so a dozen of them are not taken for one client.
 */
export function startPageServer(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  return startServer({ staticDir: PAGE_DIR, maxSocketsPerIp: 1000, ...options });
}

/**
 * The built page from a static server of its own (as from a CDN), so it can
 * still be loaded while a test's signaling server is down. Point it at the
 * signaling server with `?signaling=`.
 */
export function servePage(): Promise<Site> {
  return serveHttp(sirv(PAGE_DIR, { dev: true }));
}

/** Open the page `count` times in `context` and wait until each node exists. */
export async function openTabs(context: BrowserContext, url: string, count: number, query = ''): Promise<Page[]> {
  const pages = await Promise.all(Array.from({ length: count }, () => context.newPage()));
  await Promise.all(pages.map((page) => openTab(page, url, query)));
  return pages;
}

export async function openTab<T extends Tab & { goto(url: string): Promise<unknown> }>(
  page: T,
  url: string,
  query = '',
): Promise<T> {
  await page.goto(`${url}/${query === '' ? '' : `?${query}`}`);
  await nodeStarted(page);
  return page;
}

/** Reload the tab and wait until its new node has started. */
export async function reloadTab(page: Tab & { reload(): Promise<unknown> }): Promise<void> {
  await page.reload();
  await nodeStarted(page);
}

async function nodeStarted(page: Tab): Promise<void> {
  await page.evaluate(async () => {
    if (window.tabmeshReady === undefined) throw new Error('the page did not start a node');
    await window.tabmeshReady;
  });
}

export function idOf(page: Tab): Promise<PeerId> {
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

type Detail<K extends keyof NodeEvents> = NodeEvents[K]['detail'];

/**
 * What {@link waitForNode} waits for: given an event's detail (or, once at
 * the start, `undefined`) and the node, `false` or `undefined` to go on
 * waiting, anything else to end the wait with it. It runs in the page, so it
 * must be self-contained: what it needs from the test comes as `arg`.
 */
export type NodeCheck<K extends keyof NodeEvents, A, R> = (
  detail: Detail<K> | undefined,
  node: TabmeshNode,
  arg: A,
) => R | false | undefined;

export interface NodeWait<A> {
  /** Handed to the check (serialisable). */
  readonly arg?: A;
  /** Bound on the wait; default 30 s. */
  readonly timeoutMs?: number;
  /** What the check is for, for the timeout's message ("a connection to tm1…"). */
  readonly what?: string;
  /** The tab's name in the timeout's message; default its node's ID and its URL. */
  readonly tab?: string;
}

/** Runs in the page (through its source text): the check, the listener, the bound. */
async function waitInPage(
  check: (detail: unknown, node: TabmeshNode, arg: unknown) => unknown,
  wait: { event: keyof NodeEvents; arg: unknown; ms: number; what: string; tab: string | undefined },
): Promise<unknown> {
  const node = window.tabmesh ?? (await window.tabmeshReady);
  const at = `${location.pathname}${location.search}`;
  if (node === undefined)
    throw new Error(`the tab at ${at} has no node (window.tabmesh) to wait on for '${wait.event}'`);
  const tab = wait.tab ?? `tab ${node.id} at ${at}`;
  return new Promise((resolve, reject) => {
    let seen = 0;
    let last: unknown;
    const stop = (): void => {
      clearTimeout(timer);
      node.removeEventListener(wait.event, listener);
    };
    const run = (detail: unknown): void => {
      try {
        const result = check(detail, node, wait.arg);
        if (result === undefined || result === false) return;
        stop();
        resolve(result);
      } catch (error) {
        stop();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const listener = (event: Event): void => {
      seen++;
      last = (event as CustomEvent<unknown>).detail;
      run(last);
    };
    const timer = setTimeout(() => {
      stop();
      const bytes = (_: string, v: unknown): unknown => (v instanceof Uint8Array ? `(${v.length} bytes)` : v);
      // JSON.stringify gives undefined for an event without a detail.
      const brief = (value: unknown): string =>
        ((JSON.stringify(value, bytes) as string | undefined) ?? 'no detail').slice(0, 300);
      const now =
        `${node.connections().length} connections, signaling ${node.status.signaling}, ` +
        `problems ${JSON.stringify(node.problems())}, ` +
        `limits ${JSON.stringify(Object.fromEntries(Object.entries(node.limitStats()).filter(([, n]) => n !== 0)))}`;
      reject(
        new Error(
          `${tab}: no '${wait.event}' event${wait.what === '' ? '' : ` with ${wait.what}`} within ${wait.ms} ms ` +
            `(${seen} seen${seen === 0 ? '' : `, the last ${brief(last)}`}; now ${now})`,
        ),
      );
    }, wait.ms);
    node.addEventListener(wait.event, listener);
    run(undefined);
  });
}

/**
 * Wait, inside the tab, until its node (`window.tabmesh`, or what
 * `window.tabmeshReady` resolves with) dispatches `event` with a detail that
 * passes `check`, or until the node already is as wanted; resolves with what
 * `check` returned. Fails after `timeoutMs` naming the event and the tab.
 */
export async function waitForNode<K extends keyof NodeEvents, R, A = undefined>(
  page: Tab,
  event: K,
  check: NodeCheck<K, A, R>,
  options: NodeWait<A> = {},
): Promise<Exclude<R, false | undefined>> {
  const wait = {
    event,
    arg: options.arg,
    ms: options.timeoutMs ?? 30_000,
    what: options.what ?? '',
    tab: options.tab,
  };
  // As source text, as page.evaluate sends a function: the check goes along with its wait.
  const result: unknown = await page.evaluate(
    `(${waitInPage.toString()})(${check.toString()}, ${JSON.stringify(wait)})`,
  );
  return result as Exclude<R, false | undefined>;
}

/** Resolves once the tab has at least `min` confirmed connections, with them. */
export function waitForConnections(page: Tab, min: number, timeoutMs = 30_000): Promise<PeerId[]> {
  return waitForNode(page, 'peer:connect', (_, node, want) => node.connections().length >= want && node.connections(), {
    arg: min,
    timeoutMs,
    what: `at least ${min} connections`,
  });
}

/** Resolves once the tab is connected to `peer`. */
export async function waitForPeer(page: Tab, peer: PeerId, timeoutMs = 30_000): Promise<void> {
  await waitForNode(page, 'peer:connect', (_, node, id) => node.connections().includes(id), {
    arg: peer,
    timeoutMs,
    what: `a connection to ${peer}`,
  });
}

/** Resolves with the status once signaling is `signaling`. */
export function waitForStatus(page: Tab, signaling: NodeStatus['signaling'], timeoutMs = 30_000): Promise<NodeStatus> {
  return waitForNode(page, 'status', (_, node, want) => node.status.signaling === want && node.status, {
    arg: signaling,
    timeoutMs,
    what: `signaling ${signaling}`,
  });
}

/** Start collecting this tab's message events; returns a reader of what arrived. */
export async function collectMessages(
  page: Tab,
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
export async function waitForMessages(page: Tab, data: string, count: number, timeoutMs = 30_000): Promise<void> {
  // The collecting listener was added first, so it has the event's message by the time the check runs.
  await waitForNode(
    page,
    'message',
    (_, __, [text, want]) =>
      (window as unknown as { collected: { data: string }[] }).collected.filter((m) => m.data === text).length >= want,
    { arg: [data, count] as const, timeoutMs, what: `message "${data}" collected ${count} times` },
  );
}

/** Events a traced tab keeps, newest last; older ones are dropped. */
export const TRACE_CAP = 400;

/**
 * Runs in a page before its scripts (an init script, given {@link TRACE_CAP}):
 * records every node event of the page, across reloads, for a failure
 * report; the node is caught as the page assigns `window.tabmesh`.
 */
export function traceInit(cap: number): void {
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
}

/** Record every node event of the context's tabs ({@link traceInit}). */
export async function traceNodes(context: BrowserContext): Promise<void> {
  await context.addInitScript(traceInit, TRACE_CAP);
}

/** What a tab's node did and holds now, for a failure report. */
export async function traceOf(page: Tab): Promise<string> {
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
export function reportOnFailure(which: () => ReadonlyArray<readonly [string, Tab]>): void {
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
