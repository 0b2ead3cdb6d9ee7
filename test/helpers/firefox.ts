/**
 * Real Firefox for browser tests: Debian's firefox-esr, headless, in a
 * network namespace of its own (netns.ts), driven by puppeteer-core over
 * WebDriver BiDi; the tests' Chromium stays on this machine and reaches its
 * tabs through the veth pair. In the namespace Firefox always has an
 * interface with an address and a default route, which it needs to gather
 * any ICE candidate (it never gathers loopback), whatever this machine's own
 * interfaces are.
 *
 * Firefox's remote agent listens on 127.0.0.1 inside the namespace, so a
 * small forwarder runs in there too, from the namespace's address to it.
 * Firefox keeps its default WebRTC settings: its host candidates are mDNS
 * names, and its mDNS queries (for other Firefox tabs' names) go out on the
 * veth only. Chromium reaches it through its server-reflexive candidate
 * (the signaling server's STUN responder, on the host's end of the veth).
 *
 * ```ts
 * const browser = useBrowser();
 * const firefox = useFirefox(browser);
 * it('…', async () => {
 *   const server = await firefox.pageServer();
 *   const fx = await firefox.tab(server, 'network=x');   // at server.firefoxUrl
 *   const cr = await browser.tab(server, 'network=x');   // at server.url
 * });
 * ```
 */
import { Browser as BrowserKind, createProfile } from '@puppeteer/browsers';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { beforeAll } from 'vitest';
import { withTimeout } from './events.js';
import type { BrowserFixture } from './fixture.js';
import { createNetns, type Netns } from './netns.js';
import { exited, freePort, Lines, requireBinary } from './processes.js';
import type { TestServer } from './server.js';
import { openTab, TRACE_CAP, traceInit } from './tabs.js';

/** Bound on Firefox's start (a first start makes its profile's databases) and on each step of closing it. */
const START_MS = 30_000;
const STOP_MS = 10_000;
/** Temporary profile folders are named `${PROFILE_PREFIX}${pid}-…`. */
const PROFILE_PREFIX = 'tabmesh-ff-';

/**
 * Runs inside the namespace (`node -e`): accepts on `address:port` and
 * forwards each connection to `127.0.0.1:port`, where Firefox's remote agent
 * listens. The same port, so the request's Host header names the agent's
 * own port (it refuses any other). It exits when its stdin closes, so it
 * never outlives the test process.
 */
const FORWARDER = `
const net = require('node:net');
const [address, port] = process.argv.slice(1);
const server = net.createServer((client) => {
  const agent = net.connect(Number(port), '127.0.0.1');
  client.pipe(agent);
  agent.pipe(client);
  client.on('close', () => agent.destroy());
  agent.on('close', () => client.destroy());
  client.on('error', () => agent.destroy());
  agent.on('error', () => client.destroy());
});
server.listen(Number(port), address, () => console.log('forwarding'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/** Pages load functions the test compiled; its compiler may name them through a `__name` helper pages lack. */
const NAME_HELPER = 'globalThis.__name ??= (fn) => fn;';

/** What the profile sets beyond puppeteer's own test defaults (no updates, no telemetry, no first-run pages). */
function preferences(netns: Netns): Record<string, string | number | boolean> {
  return {
    // The page comes over plain http from the host's end of the veth, where a
    // deployment serves it over https: treated as a secure context, it gets
    // Web Crypto, Web Locks and the rest as it would there. Nothing about
    // WebRTC is changed: host candidates stay mDNS names, as for any user.
    'dom.securecontext.allowlist': netns.hostAddress,
  };
}

export interface Firefox {
  readonly browser: Browser;
  readonly netns: Netns;
  close(): Promise<void>;
}

/** Profiles of runs that died before closing their Firefox. */
function removeLeftoverProfiles(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^tabmesh-ff-(\d+)-/.exec(entry)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      // ESRCH: its run is gone (EPERM would be a live process of someone else's).
      if ((error as NodeJS.ErrnoException).code === 'ESRCH')
        rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    }
  }
}

/** Stop a child: SIGTERM, then SIGKILL if it is still there after STOP_MS. */
async function stop(child: ChildProcess, what: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  try {
    await withTimeout(exited(child), STOP_MS, `${what} to exit`);
  } catch {
    child.kill('SIGKILL');
    await withTimeout(exited(child), STOP_MS, `${what} to die`);
  }
}

/** Launch Firefox in a fresh namespace and connect to it; everything made is undone if a step fails. */
export async function launchFirefox(): Promise<Firefox> {
  const executable = process.env['FIREFOX_PATH'] ?? requireBinary('firefox-esr', 'firefox-esr');
  removeLeftoverProfiles();
  const netns = createNetns();
  const profile = mkdtempSync(join(tmpdir(), `${PROFILE_PREFIX}${process.pid}-`));
  const children: ChildProcess[] = [];
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    try {
      // Over BiDi this ends the session and quits Firefox.
      if (browser?.connected === true) await withTimeout(browser.close(), STOP_MS, 'Firefox to close');
    } finally {
      for (const child of children.reverse()) await stop(child, 'a process in the Firefox namespace');
      netns.close();
      rmSync(profile, { recursive: true, force: true });
    }
  };
  try {
    await createProfile(BrowserKind.FIREFOX, { path: profile, preferences: preferences(netns) });
    const firefox = spawn(
      ...netns.exec([executable, '--headless', '--no-remote', '--remote-debugging-port=0', '--profile', profile]),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(firefox);
    const output = new Lines(firefox, firefox.stderr);
    const listening = /WebDriver BiDi listening on ws:\/\/127\.0\.0\.1:(\d+)/;
    const line = await output.wait(listening, 'Firefox to start its remote agent', START_MS).catch((error: unknown) => {
      throw new Error(`${String(error)}; Firefox printed:\n${output.last(20).join('\n')}`, { cause: error });
    });
    const port = listening.exec(line)?.[1] ?? '';
    const forwarder = spawn(...netns.exec([process.execPath, '-e', FORWARDER, netns.address, port]), {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(forwarder);
    await new Lines(forwarder).wait(/^forwarding$/, 'the forwarder to Firefox to listen');
    browser = await puppeteer.connect({
      browserWSEndpoint: `ws://${netns.address}:${port}/session`,
      protocol: 'webDriverBiDi',
      // The agent answers only requests naming the host and port it listens on.
      headers: { Host: `127.0.0.1:${port}` },
    });
    return { browser, netns, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A server that both browsers reach: Chromium at `url` (loopback), Firefox at `firefoxUrl`. */
export type SharedServer = TestServer & { readonly firefoxUrl: string };

export interface FirefoxFixture {
  /** This file's Firefox (launched in a `beforeAll`, closed after the file). */
  readonly firefox: Firefox;
  /**
   * A signaling server that also serves the built page, on every interface
   * (Firefox comes from its namespace), with the origin Firefox's pages
   * have as its public origin; Chromium's loopback pages are allowed as ever.
   */
  pageServer(): Promise<SharedServer>;
  /** A fresh Firefox profile (a WebDriver BiDi user context: its own storage), closed after the test. */
  context(): Promise<BrowserContext>;
  /** A Firefox tab of the page at `at.firefoxUrl` (default: a fresh profile), once its node has started; traced. */
  tab(at: { readonly firefoxUrl: string }, query?: string, context?: BrowserContext): Promise<Page>;
}

/** Call at the top of a browser test file, after {@link useBrowser} (whose scopes close what this opens). */
export function useFirefox(browser: BrowserFixture): FirefoxFixture {
  let launched: Firefox | undefined;
  beforeAll(async () => {
    launched = await launchFirefox();
    const firefox = launched;
    // From a beforeAll: the file's, closed after its last test.
    browser.defer(() => firefox.close());
  }, START_MS * 2);

  const fixture: FirefoxFixture = {
    get firefox() {
      if (launched === undefined) throw new Error('Firefox is not running: useFirefox() must come before the hooks');
      return launched;
    },
    async pageServer() {
      // Its public origin names the port, so the port is chosen first (a tiny race, as freePort says).
      const port = await freePort();
      const firefoxUrl = `http://${fixture.firefox.netns.hostAddress}:${port}`;
      const server = await browser.pageServer({ host: '0.0.0.0', port, publicOrigin: firefoxUrl });
      return { ...server, firefoxUrl };
    },
    async context() {
      const context = await fixture.firefox.browser.createBrowserContext();
      browser.defer(() => context.close());
      return context;
    },
    async tab(at, query = '', context) {
      const page = await (context ?? (await fixture.context())).newPage();
      await page.evaluateOnNewDocument(NAME_HELPER);
      await page.evaluateOnNewDocument(traceInit, TRACE_CAP);
      return openTab(page, at.firefoxUrl, query);
    },
  };
  return fixture;
}

/**
 * Resolves once the Firefox tab's identity is in a storage slot, as
 * tabs.ts's waitForStoredIdentity does for Chromium's (puppeteer takes the
 * options second). Polled by interval: a background tab runs no animation frames.
 */
export async function waitForFirefoxStoredIdentity(page: Page, timeoutMs = 10_000): Promise<void> {
  await page.waitForFunction(() => sessionStorage.getItem('tabmesh:slot') !== null, {
    timeout: timeoutMs,
    polling: 50,
  });
}
