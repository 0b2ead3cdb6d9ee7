/**
 * Real Chromium for browser tests: Debian's package driven by playwright-core,
 * headless, with the flags this machine needs. `test/ensure-chromium.mjs` has
 * made sure a binary exists before Vitest starts.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { createServer as createViteServer, type ViteDevServer } from 'vite';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebRTC between tabs of this one browser: gather the machine's own
  // addresses as host candidates instead of mDNS names, so resolving them
  // sends no multicast onto the network, and allow loopback candidates.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
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

/**
 * Serve the repository through Vite (TypeScript compiled on the fly) on a free
 * loopback port, so test pages can import shared/ and web/ modules directly.
 */
export async function serveSources(): Promise<{ url: string; close(): Promise<void> }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const vite: ViteDevServer = await createViteServer({
    root,
    configFile: false,
    logLevel: 'error',
    appType: 'mpa',
    define: { global: 'globalThis' },
    server: { middlewareMode: true, hmr: false, watch: null },
  });
  const http: Server = createHttpServer(vite.middlewares);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await vite.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
