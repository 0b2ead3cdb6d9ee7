/**
 * The browser tests' fixture: one Chromium for the test file, and whatever a
 * test opens through it (signaling servers, browser profiles, tabs, anything
 * handed to `defer`) closed after that test; what a `beforeAll` opens is the
 * file's, closed after its last test. A failed test's tabs stay open until
 * its failure reports (`reportOnFailure`) have read them.
 *
 * ```ts
 * const browser = useBrowser();
 * it('…', async () => {
 *   const server = await browser.pageServer();
 *   const [a, b] = await browser.tabs(server, 2, 'network=x');
 * });
 * ```
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { fixturePath, launchChromium, newContext, serveSources, type Site } from './browser.js';
import { startServer, type TestServer } from './server.js';
import { openTab, servePage, startPageServer, traceNodes } from './tabs.js';

type ServerOptions = Parameters<typeof startServer>[0];

/** A page's query: as written after `?`, or as fields (encoded here). */
export type Query = string | Readonly<Record<string, string>>;

/** Bound on a fixture page's start (its script compiled on first request, then its node). */
const FIXTURE_START_MS = 30_000;

export interface BrowserFixture {
  /** This file's Chromium (launched before its first `beforeAll` of its own). */
  readonly chromium: Browser;
  /** A signaling server that also serves the built page. */
  pageServer(options?: ServerOptions): Promise<TestServer>;
  /** A signaling server only. */
  signalingServer(options?: ServerOptions): Promise<TestServer>;
  /** The built page from a static server of its own, so it loads while signaling is down. */
  builtPage(): Promise<Site>;
  /** The test's browser profile, made on first use (in a `beforeAll`, the file's). */
  context(): Promise<BrowserContext>;
  /** Another browser profile; `trace` records its tabs' node events for failure reports. */
  newContext(options?: { trace?: boolean }): Promise<BrowserContext>;
  /** A blank tab in `context` (default: the test's profile). */
  newPage(context?: BrowserContext): Promise<Page>;
  /** `count` tabs of the page `at` serves, each once its node has started. */
  tabs(at: { readonly url: string }, count: number, query?: Query, context?: BrowserContext): Promise<Page[]>;
  tab(at: { readonly url: string }, query?: Query, context?: BrowserContext): Promise<Page>;
  /**
   * A tab running test/browser/fixtures/`name`.ts (served from the sources),
   * once the script has set `window[global]`, the fixture's handle.
   */
  fixtureTab(name: string, query: Query, global: string, context?: BrowserContext): Promise<Page>;
  /** Run `close` after the test (after the file when called outside a test), latest first. */
  defer(close: () => unknown): void;
}

/** What one test (or the file) opened, to close in reverse order. */
export class Scope {
  private readonly closers: (() => unknown)[] = [];
  context: Promise<BrowserContext> | undefined;

  add(close: () => unknown): void {
    this.closers.push(close);
  }

  /** Close everything, each even if another fails; throws the first failure. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}

/**
 * Per-test scopes for a fixture: each test gets a scope of its own, closed
 * after it (a failed test's after its failure reports have read its tabs);
 * outside a test, `current()` is the file's. Call at the top of a fixture,
 * before its own hooks; its `afterAll` calls `closeFile()`.
 */
export function useScopes(): { readonly file: Scope; current(): Scope; closeFile(): Promise<void> } {
  const file = new Scope();
  let test: Scope | undefined;
  /** Scopes of failed tests, closed once their reports have run (or at the end of the file). */
  const failed = new Set<Scope>();
  beforeEach(({ onTestFailed }) => {
    const current = new Scope();
    test = current;
    // onTestFailed handlers run after afterEach, latest registered first: this
    // one, registered before the test's own, closes the tabs after the reports.
    onTestFailed(async () => {
      if (failed.delete(current)) await current.close();
    });
  });
  afterEach(async ({ task }) => {
    const current = test;
    test = undefined;
    if (current === undefined) return;
    if (task.result?.state === 'fail') failed.add(current);
    else await current.close();
  });
  return {
    file,
    current: () => test ?? file,
    async closeFile() {
      for (const current of failed) await current.close();
      await file.close();
    },
  };
}

function queryString(query: Query): string {
  return typeof query === 'string' ? query : new URLSearchParams(query).toString();
}

/** Call at the top of a browser test file, before its own hooks. */
export function useBrowser(): BrowserFixture {
  let chromium: Browser | undefined;
  let sources: Promise<Site> | undefined;
  const scopes = useScopes();
  const scope = (): Scope => scopes.current();

  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterAll(async () => {
    try {
      await scopes.closeFile();
    } finally {
      await chromium?.close();
    }
  });

  /** What `opening` opens, closed with the test (or the file). */
  const kept = async <T extends { close(): unknown }>(opening: Promise<T>): Promise<T> => {
    const opened = await opening;
    scope().add(() => opened.close());
    return opened;
  };

  const fixture: BrowserFixture = {
    get chromium() {
      if (chromium === undefined) throw new Error('Chromium is not running: useBrowser() must come before the hooks');
      return chromium;
    },
    pageServer: (options) => kept(startPageServer(options)),
    signalingServer: (options) => kept(startServer(options)),
    builtPage: () => kept(servePage()),
    context() {
      const current = scope();
      current.context ??= fixture.newContext();
      return current.context;
    },
    async newContext(options = {}) {
      const context = await kept(newContext(fixture.chromium));
      if (options.trace === true) await traceNodes(context);
      return context;
    },
    async newPage(context) {
      return (context ?? (await fixture.context())).newPage();
    },
    async tabs(at, count, query = '', context) {
      const profile = context ?? (await fixture.context());
      return Promise.all(Array.from({ length: count }, () => fixture.tab(at, query, profile)));
    },
    async tab(at, query = '', context) {
      return openTab(await fixture.newPage(context), at.url, queryString(query));
    },
    async fixtureTab(name, query, global, context) {
      // The sources' server is the file's, whoever asks first: Vite compiles each module once.
      sources ??= serveSources().then((site) => {
        scopes.file.add(() => site.close());
        return site;
      });
      const page = await fixture.newPage(context);
      const search = queryString(query);
      await page.goto(`${(await sources).url}${fixturePath(name)}${search === '' ? '' : `?${search}`}`);
      await page.waitForFunction((name) => (window as unknown as Record<string, unknown>)[name] !== undefined, global, {
        timeout: FIXTURE_START_MS,
      });
      return page;
    },
    defer(close) {
      scope().add(close);
    },
  };
  return fixture;
}
