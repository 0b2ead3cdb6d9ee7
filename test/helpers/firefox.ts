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
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { exited, freePort, Lines, processAlive, requireBinary } from './processes.js';
import type { TestServer } from './server.js';
import { openTab, TRACE_CAP, traceInit } from './tabs.js';

/** Bound on Firefox's start (a first start makes its profile's databases) and on each step of closing it. */
const START_MS = 30_000;
const STOP_MS = 10_000;
/** Temporary profile folders are named `${PROFILE_PREFIX}${pid}-…`. */
const PROFILE_PREFIX = 'tabmesh-ff-';

/**
 * Runs inside the namespace (`node -e`): accepts on a Unix socket (a file,
 * which every namespace shares, so it works for a namespace this machine
 * has no route into, such as a NAT lab's home) and forwards each connection
 * to `127.0.0.1:port`, where Firefox's remote agent listens. It exits when
 * its stdin closes, so it never outlives the test process.
 */
const FORWARDER = `
const net = require('node:net');
const [path, port] = process.argv.slice(1);
const server = net.createServer((client) => {
  const agent = net.connect(Number(port), '127.0.0.1');
  client.pipe(agent);
  agent.pipe(client);
  client.on('close', () => agent.destroy());
  agent.on('close', () => client.destroy());
  client.on('error', () => agent.destroy());
  agent.on('error', () => client.destroy());
});
server.listen(path, () => console.log('forwarding'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/** Pages load functions the test compiled; its compiler may name them through a `__name` helper pages lack. */
const NAME_HELPER = 'globalThis.__name ??= (fn) => fn;';

/** What the profile sets beyond puppeteer's own test defaults (no updates, no telemetry, no first-run pages). */
function preferences(secureHost: string): Record<string, string | number | boolean> {
  return {
    // The page comes over plain http from the host's end of the veth, where a
    // deployment serves it over https: treated as a secure context, it gets
    // Web Crypto, Web Locks and the rest as it would there. Nothing about
    // WebRTC is changed: host candidates stay mDNS names, as for any user.
    'dom.securecontext.allowlist': secureHost,
  };
}

export interface Firefox {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Where a Firefox runs: how to run a command in its namespace, and the host its pages come from. */
export interface FirefoxPlace {
  /** The program and arguments that run `command` inside the namespace (ip netns exec). */
  exec(command: readonly string[]): [file: string, args: string[]];
  /** The host (no scheme, no port) whose plain-http pages count as a secure context, as over https. */
  readonly secureHost: string;
}

/** On this machine: a TCP port on loopback for puppeteer, piped to the forwarder's Unix socket. */
function bridgeTo(path: string): Promise<Server> {
  const bridge = createServer((client) => {
    const inside = connect(path);
    client.pipe(inside);
    inside.pipe(client);
    client.on('close', () => inside.destroy());
    inside.on('close', () => client.destroy());
    client.on('error', () => inside.destroy());
    inside.on('error', () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    bridge.once('error', reject);
    bridge.listen(0, '127.0.0.1', () => resolve(bridge));
  });
}

/** Profiles of runs that died before closing their Firefox. */
function removeLeftoverProfiles(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^tabmesh-ff-(\d+)-/.exec(entry)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    rmSync(join(tmpdir(), entry), { recursive: true, force: true });
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

/** A namespace of netns.ts as a place for Firefox: its pages come from the host's end of the veth. */
function netnsPlace(netns: Netns): FirefoxPlace {
  return { exec: (command) => netns.exec(command), secureHost: netns.hostAddress };
}

/**
 * Launch Firefox in a namespace and connect to it; everything made is undone
 * if a step fails. `place` defaults to a fresh namespace of its own
 * (netns.ts), closed with the browser.
 */
export async function launchFirefox(place?: FirefoxPlace): Promise<Firefox & { readonly netns?: Netns }> {
  const executable = process.env['FIREFOX_PATH'] ?? requireBinary('firefox-esr', 'firefox-esr');
  removeLeftoverProfiles();
  let netns: Netns | undefined;
  let where: FirefoxPlace;
  if (place === undefined) {
    netns = createNetns();
    where = netnsPlace(netns);
  } else {
    where = place;
  }
  const profile = mkdtempSync(join(tmpdir(), `${PROFILE_PREFIX}${process.pid}-`));
  const children: ChildProcess[] = [];
  let bridge: Server | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    try {
      // Over BiDi this ends the session and quits Firefox.
      if (browser?.connected === true) await withTimeout(browser.close(), STOP_MS, 'Firefox to close');
    } finally {
      bridge?.close();
      for (const child of children.reverse()) await stop(child, 'a process in the Firefox namespace');
      netns?.close();
      rmSync(profile, { recursive: true, force: true });
    }
  };
  try {
    await createProfile(BrowserKind.FIREFOX, { path: profile, preferences: preferences(where.secureHost) });
    const firefox = spawn(
      ...where.exec([executable, '--headless', '--no-remote', '--remote-debugging-port=0', '--profile', profile]),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(firefox);
    const output = new Lines(firefox, firefox.stderr);
    const listening = /WebDriver BiDi listening on ws:\/\/127\.0\.0\.1:(\d+)/;
    const line = await output.wait(listening, 'Firefox to start its remote agent', START_MS).catch((error: unknown) => {
      throw new Error(`${String(error)}; Firefox printed:\n${output.last(20).join('\n')}`, { cause: error });
    });
    const port = listening.exec(line)?.[1] ?? '';
    const socket = join(profile, 'agent.sock');
    const forwarder = spawn(...where.exec([process.execPath, '-e', FORWARDER, socket, port]), {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(forwarder);
    await new Lines(forwarder).wait(/^forwarding$/, 'the forwarder to Firefox to listen');
    bridge = await bridgeTo(socket);
    browser = await puppeteer.connect({
      browserWSEndpoint: `ws://127.0.0.1:${(bridge.address() as AddressInfo).port}/session`,
      protocol: 'webDriverBiDi',
      // The agent answers only requests naming the host and port it listens on.
      headers: { Host: `127.0.0.1:${port}` },
    });
    return { browser, close, ...(netns === undefined ? {} : { netns }) };
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
  let launched: (Firefox & { readonly netns?: Netns }) | undefined;
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
      const firefoxUrl = `http://${launched?.netns?.hostAddress ?? ''}:${port}`;
      const server = await browser.pageServer({ host: '0.0.0.0', port, publicOrigin: firefoxUrl });
      return { ...server, firefoxUrl };
    },
    async context() {
      const context = await fixture.firefox.browser.createBrowserContext();
      browser.defer(() => context.close());
      return context;
    },
    async tab(at, query = '', context) {
      return firefoxTab(context ?? (await fixture.context()), at.firefoxUrl, query);
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

/** A Firefox tab of the page at `url` in `context`, once its node has started; traced for failure reports. */
export async function firefoxTab(context: BrowserContext, url: string, query = ''): Promise<Page> {
  const page = await context.newPage();
  await page.evaluateOnNewDocument(NAME_HELPER);
  await page.evaluateOnNewDocument(traceInit, TRACE_CAP);
  return openTab(page, url, query);
}
