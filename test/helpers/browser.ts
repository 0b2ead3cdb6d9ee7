/**
 * Real Chromium for browser tests: Debian's package driven by playwright-core,
 * headless, with the flags this machine needs. `test/ensure-tools.mjs` has
 * made sure a binary exists before Vitest starts.
 */
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { createServer as createViteServer, type ViteDevServer } from 'vite';
import { simplePeerShims } from '../../vite.config.js';

/** Flags of every test Chromium: headless on a machine without a GPU or a network of its own. */
const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_FLAGS = [
  ...BASE_FLAGS,
  // WebRTC between tabs of this one browser: gather the machine's own
  // addresses as host candidates instead of mDNS names, so resolving them
  // sends no multicast onto the network, and allow loopback candidates.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
];

/**
 * Flags of a Chromium in a NAT lab's home (test/helpers/lab.ts): WebRTC as in
 * a user's browser (host candidates hidden behind mDNS names, no loopback),
 * and `origins` (the lab's servers, plain http on a public address) taken for
 * secure contexts, as https pages would be: the page needs one.
 */
export function labChromiumFlags(origins: readonly string[]): string[] {
  return [...BASE_FLAGS, `--unsafely-treat-insecure-origin-as-secure=${origins.join(',')}`];
}

/** Debian's Chromium (or CHROMIUM_PATH), headless; a lab gives its own executable and flags. */
export function launchChromium(options: { executablePath?: string; args?: readonly string[] } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: options.executablePath ?? process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    headless: true,
    args: [...(options.args ?? CHROMIUM_FLAGS)],
  });
}

/**
 * A browser context (a fresh profile) ready for page.evaluate from any
 * runner: tsx, which runs the benchmarks, compiles with esbuild's keepNames,
 * so functions sent to a page may call a `__name` helper that pages lack.
 */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.addInitScript('globalThis.__name ??= (fn) => fn;');
  return context;
}

/** A server of test pages on a loopback port. */
export interface Site {
  readonly url: string;
  close(): Promise<void>;
}

/** Serve `listener` on a free loopback port; `close()` drops open connections too. */
export async function serveHttp(listener: RequestListener): Promise<Site> {
  const server: Server = createHttpServer(listener);
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

/** Where a fixture page lives: `/fixture/<name>` runs test/browser/fixtures/<name>.ts (see {@link fixtureShell}). */
export function fixturePath(name: string): string {
  return `/fixture/${name}`;
}

const FIXTURE_PATH = /^\/fixture\/([a-z][a-z-]*)$/;

/** The page of a fixture script: nothing but the script, so every fixture needs only its .ts file. */
function fixtureShell(name: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8" /><title>${name}</title></head>` +
    `<body><script type="module" src="/test/browser/fixtures/${name}.ts"></script></body></html>`
  );
}

/**
 * Serve the repository through Vite (TypeScript compiled on the fly) on a free
 * loopback port, so test pages can import shared/ and web/ modules directly,
 * and fixture scripts run at {@link fixturePath}.
 */
export async function serveSources(): Promise<Site> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const vite: ViteDevServer = await createViteServer({
    root,
    configFile: false,
    logLevel: 'error',
    appType: 'mpa',
    // The browser builds' stand-ins for simple-peer's Node dependencies, as the page and widget have them.
    resolve: { alias: { ...simplePeerShims } },
    define: { global: 'globalThis' },
    server: { middlewareMode: true, hmr: false, watch: null },
  });
  const site = await serveHttp((request, response) => {
    const name = FIXTURE_PATH.exec(new URL(request.url ?? '/', 'http://sources').pathname)?.[1];
    if (name === undefined) return vite.middlewares(request, response);
    // Through Vite's own HTML pipeline, as an .html file of the repository would be.
    vite.transformIndexHtml(request.url ?? '/', fixtureShell(name)).then(
      (html) => response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  return {
    url: site.url,
    async close() {
      await vite.close();
      await site.close();
    },
  };
}
