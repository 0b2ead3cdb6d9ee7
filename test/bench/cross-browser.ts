/**
 * The rig both Firefox benches stand on (firefox-connect.ts, firefox-phases.ts):
 * Firefox in a network namespace of its own (it never uses 127.0.0.1) and
 * Chromium on the host; the page's server and the bare pair's page and relay
 * listening on every address, so Firefox reaches them at the host's address
 * in its namespace; and the URLs each browser dials them by.
 */
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { launchFirefox, type Firefox } from '../helpers/firefox.js';
import { freePort } from '../helpers/processes.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { serveDir, BARE_DIR, PAGE_DIR } from './browser-bench.js';
import { startFloorRelay } from './floor-relay.js';

export interface CrossBrowserRig {
  readonly firefox: Firefox;
  readonly chromium: Browser;
  /** Tabmesh's server, serving the built page (its `url` is Chromium's way to it). */
  readonly server: TestServer;
  /** The bare pair's page, as Chromium reaches it. */
  readonly bareUrl: string;
  /** The bare pair's relay, as Chromium reaches it. */
  readonly relayUrl: string;
  /** Tabmesh's page in `network`, as Firefox reaches it. */
  firefoxTabmesh(network: string): string;
  /** The bare page dialling `dial` as `id`, as Firefox reaches it (page and relay at the host's address). */
  firefoxBare(id: string, dial: string): string;
  /** The bare page dialling `dial` as `id`, from Chromium. */
  chromiumBare(id: string, dial: string): string;
  /** The bare page listening as `id`, from Chromium. */
  chromiumBareListener(id: string): string;
  close(): Promise<void>;
}

/** Both browsers, the page's server (from `staticDir`, default the built page), the bare page and its relay. */
export async function startCrossBrowserRig(staticDir: string = PAGE_DIR): Promise<CrossBrowserRig> {
  const firefox = await launchFirefox();
  const chromium = await launchChromium();
  const host = firefox.netns?.hostAddress;
  if (host === undefined) throw new Error('Firefox has no namespace of its own');
  const port = await freePort();
  const server = await startServer({
    staticDir,
    host: '0.0.0.0',
    port,
    publicOrigin: `http://${host}:${port}`,
    // Every visit of a run comes from one address.
    maxSocketsPerIp: 1000,
  });
  const bare = await serveDir(BARE_DIR, '0.0.0.0');
  const relay = await startFloorRelay({ host: '0.0.0.0' });
  const barePort = new URL(bare.url).port;
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  return {
    firefox,
    chromium,
    server,
    bareUrl: bare.url,
    relayUrl,
    firefoxTabmesh: (network) => `http://${host}:${port}/?network=${network}`,
    firefoxBare: (id, dial) => `http://${host}:${barePort}/?id=${id}&dial=${dial}&relay=ws://${host}:${relay.port}`,
    chromiumBare: (id, dial) => `${bare.url}/?id=${id}&dial=${dial}&relay=${relayUrl}`,
    chromiumBareListener: (id) => `${bare.url}/?id=${id}&relay=${relayUrl}`,
    async close() {
      await chromium.close();
      await firefox.close();
      await server.close();
      await bare.close();
      relay.close();
    },
  };
}
