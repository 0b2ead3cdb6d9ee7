/**
 * Page open to first connection in the NAT lab (issue 17): homes behind NAT
 * routers around a public network (test/helpers/lab.ts) where the built
 * `tabmesh-signal` (its STUN responder on the same port), coturn and the bare
 * baseline's site (bare-site.ts: the bare page and the floor relay) run. A
 * listener tab of each kind (Tabmesh, bare simple-peer pair) stays open in a
 * Chromium of one home; each run opens a fresh page (a new profile) in a
 * browser of the dialling home and times navigation to the first
 * authenticated connection (Tabmesh's `peer:connect`) or simple-peer's
 * `connect`, alternating Tabmesh and bare. Three pairs:
 *
 *  - host: both tabs in home p1 (one LAN);
 *  - srflx: p1 dials p2, both behind port-preserving NATs, the server's
 *    defaults (STUN only);
 *  - relay: s2 dials s1, both behind symmetric NATs, the server minting
 *    credentials for coturn (--turn-urls, --turn-secret);
 *
 * each with a fresh Chromium page and a fresh Firefox page dialling the
 * Chromium listener. The bare pair gets the ICE servers a Tabmesh tab gets
 * there: the server's STUN URL, and for relay coturn's URL with credentials
 * minted as the server mints them. Each Tabmesh run also reads the selected
 * pair's candidate types (`measureLinks()`), so each row shows which kind of
 * pair it timed.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Browser as Chromium } from 'playwright-core';
import { DEFAULTS } from '../../signaling-server/defaults.js';
import { turnCredentialsUntil } from '../../signaling-server/turn.js';
import { labChromiumFlags, launchChromium, newContext } from '../helpers/browser.js';
import { buildServer } from '../helpers/build-page.js';
import { withTimeout } from '../helpers/events.js';
import { launchFirefox, type Firefox, type FirefoxPlace } from '../helpers/firefox.js';
import { Lab } from '../helpers/lab.js';
import { SIGNAL_PORT, TURN_PORT } from '../helpers/lab/topology.js';
import { Lines, SignalProcess, TurnProcess, type Spawner } from '../helpers/processes.js';
import { buildPages, median, BARE_DIR, PAGE_DIR } from './browser-bench.js';
import { waitForQuiet } from './quiet.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Bound on building the lab, starting a process or a browser, loading a page, closing. */
const STEP_MS = 30_000;
/** Bound on building the pages and the server (about 10 s on 2 cores). */
const BUILD_MS = 180_000;
/** Bound on one page's first connection (ICE through coturn included). */
const CONNECT_MS = 30_000;
/**
 * The longest wait for a quiet machine before each run: shorter than the
 * other sections' (3 s), as this one opens some sixty pages.
 */
const QUIET_MS = 500;

/** What to read from a page, as an expression it evaluates; `what` names it in a timeout's message. */
interface Reading {
  readonly what: string;
  readonly code: string;
}

/** In the page: ms from navigation to the first confirmed Tabmesh connection. */
const TABMESH_FIRST: Reading = {
  what: 'the first Tabmesh connection',
  code: `(async () => {
  const node = await window.tabmeshReady;
  if (node === undefined) throw new Error('the page started no node');
  return new Promise((resolve) => {
    if (node.connections().length > 0) resolve(performance.now());
    node.addEventListener('peer:connect', () => resolve(performance.now()), { once: true });
  });
})()`,
};
/** In the bare page: ms from navigation to simple-peer's `connect`. */
const BARE_FIRST: Reading = { what: "the bare pair's connect", code: 'window.bareConnected' };
/** In the page: the selected candidate pair of its link, `local/remote`. */
const PATH: Reading = {
  what: 'measureLinks()',
  code: `(async () => {
  const links = await window.tabmesh.measureLinks();
  const path = links.find((link) => link.path !== undefined)?.path;
  return path === undefined ? 'unread' : path.local + '/' + path.remote;
})()`,
};

interface Scenario {
  readonly name: string;
  readonly listener: string;
  readonly dialer: string;
  readonly turn: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'host (one home, p1)', listener: 'p1', dialer: 'p1', turn: false },
  { name: 'srflx (port-preserving NATs, p1 → p2)', listener: 'p2', dialer: 'p1', turn: false },
  { name: 'relay (symmetric NATs, s2 → s1, coturn)', listener: 's1', dialer: 's2', turn: true },
];

/** A browser that opens fresh pages (a new profile each) and reads expressions from them. */
interface Dialer {
  readonly browsers: string;
  /** The browser itself (a freshly launched one is warmed up first). */
  readonly browser: object;
  /** Open `url` in a fresh profile, take each reading in turn once it has loaded, close it. */
  open(url: string, readings: readonly Reading[]): Promise<unknown[]>;
}

function chromiumDialer(browser: Chromium): Dialer {
  return {
    browsers: 'Chromium → Chromium',
    browser,
    async open(url, readings) {
      const context = await withTimeout(newContext(browser), STEP_MS, 'a Chromium profile');
      try {
        const page = await withTimeout(context.newPage(), STEP_MS, 'a Chromium page');
        // Each run starts on a quiet machine, not amid the last one's teardown.
        await waitForQuiet(QUIET_MS);
        await page.goto(url, { timeout: STEP_MS });
        const results: unknown[] = [];
        for (const { what, code } of readings)
          results.push(await withTimeout(page.evaluate(code), CONNECT_MS, `${what} in Chromium`));
        // Closed as a person closes a tab (pagehide runs), so the listener holds no dead connection.
        await page.close({ runBeforeUnload: true });
        return results;
      } finally {
        await withTimeout(context.close(), STEP_MS, 'a Chromium profile to close');
      }
    },
  };
}

function firefoxDialer(firefox: Firefox): Dialer {
  return {
    browsers: 'Firefox → Chromium',
    browser: firefox.browser,
    async open(url, readings) {
      const profile = await withTimeout(firefox.browser.createBrowserContext(), STEP_MS, 'a Firefox profile');
      try {
        const page = await withTimeout(profile.newPage(), STEP_MS, 'a Firefox page');
        await waitForQuiet(QUIET_MS);
        await page.goto(url, { timeout: STEP_MS });
        const results: unknown[] = [];
        for (const { what, code } of readings)
          results.push(await withTimeout(page.evaluate(code), CONNECT_MS, `${what} in Firefox`));
        await page.close({ runBeforeUnload: true });
        return results;
      } finally {
        await withTimeout(profile.close(), STEP_MS, 'a Firefox profile to close');
      }
    },
  };
}

interface Row {
  readonly scenario: string;
  readonly browsers: string;
  readonly tabmesh: number[];
  readonly bare: number[];
  readonly paths: string[];
  readonly failures: string[];
}

/** Each value of `values` with its count, the most common first: `srflx/srflx ×7`. */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  return sorted.length === 0 ? 'none' : sorted.map(([value, count]) => `${value} ×${count}`).join(', ');
}

/** What is open, closed latest first, each even if another fails (a failure is reported, not thrown). */
class Closers {
  private readonly closers: (() => Promise<unknown>)[] = [];

  add(close: () => Promise<unknown>): void {
    this.closers.push(close);
  }

  async close(): Promise<void> {
    for (let close = this.closers.pop(); close !== undefined; close = this.closers.pop()) {
      await close().catch((error: unknown) => process.stderr.write(`lab bench: closing: ${String(error)}\n`));
    }
  }
}

export async function labBench(log: (line: string) => void, runs: number): Promise<void> {
  const started = performance.now();
  await withTimeout(Promise.all([buildPages(), buildServer()]), BUILD_MS, 'the page and the server to build');
  const lab = await withTimeout(
    Lab.create({
      homes: [
        { name: 'p1', nat: 'port-preserving' },
        { name: 'p2', nat: 'port-preserving' },
        { name: 's1', nat: 'symmetric' },
        { name: 's2', nat: 'symmetric' },
      ],
    }),
    STEP_MS,
    'the NAT lab to be built',
  );
  const address = lab.publicAddress;
  const signalOrigin = `http://${address}:${SIGNAL_PORT}`;
  const spawn: Spawner = (command, args, options) => lab.spawn(lab.publicNamespace, command, args, options);
  const rows: Row[] = [];
  const section = new Closers();
  try {
    const secret = randomBytes(24).toString('base64url');
    const turn = await TurnProcess.start(secret, { ip: address, port: TURN_PORT, spawn });
    section.add(() => turn.stop());
    // Stopped by lab.close().
    const bareSite = spawn(process.execPath, ['--import', 'tsx', 'test/bench/bare-site.ts', address, BARE_DIR], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const bareLine = await new Lines(bareSite).wait(/^\{"url":/, 'the bare site to listen', STEP_MS);
    const bareUrl = (JSON.parse(bareLine) as { url: string }).url;
    const relayUrl = bareUrl.replace(/^http/, 'ws');

    // Each home's browsers, launched on first use, closed once no later scenario needs them.
    const chromiums = new Map<string, Promise<Chromium>>();
    const firefoxes = new Map<string, Promise<Firefox>>();
    const chromiumIn = (home: string): Promise<Chromium> => {
      const binary = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
      const launched =
        chromiums.get(home) ??
        withTimeout(
          launchChromium({
            executablePath: lab.executable(lab.home(home).namespace, binary),
            args: labChromiumFlags([signalOrigin, bareUrl]),
          }),
          STEP_MS,
          `Chromium in home ${home}`,
        );
      chromiums.set(home, launched);
      return launched;
    };
    const firefoxIn = (home: string): Promise<Firefox> => {
      const namespace = lab.home(home).namespace;
      const place: FirefoxPlace = {
        exec: (command) => ['ip', ['netns', 'exec', namespace, ...command]],
        secureHost: address,
      };
      const launched = firefoxes.get(home) ?? withTimeout(launchFirefox(place), STEP_MS * 2, `Firefox in home ${home}`);
      firefoxes.set(home, launched);
      return launched;
    };
    const closeBrowsers = async (keep: ReadonlySet<string>): Promise<void> => {
      for (const browsers of [chromiums, firefoxes]) {
        for (const [home, launched] of browsers) {
          if (keep.has(home)) continue;
          browsers.delete(home);
          await launched.then(
            (browser) => withTimeout(browser.close(), STEP_MS, `a browser in home ${home} to close`),
            () => undefined,
          );
        }
      }
    };
    section.add(() => closeBrowsers(new Set()));
    /** Browsers that have opened a page of a dialer. */
    const warm = new WeakSet();

    for (const [index, scenario] of SCENARIOS.entries()) {
      const scope = new Closers();
      try {
        const server = await SignalProcess.startBuilt(
          [
            ['--host', address, '--port', String(SIGNAL_PORT), '--public-origin', signalOrigin],
            ['--static', PAGE_DIR, '--shutdown-grace-ms', '1000'],
            scenario.turn ? ['--turn-urls', turn.url, `--turn-secret=${secret}`] : [],
          ].flat(),
          spawn,
        );
        scope.add(() => server.stop());
        // The ICE servers a Tabmesh tab gets from this server: its STUN URL, then coturn's with minted credentials.
        const ice: RTCIceServer[] = [{ urls: [`stun:${address}:${String(server.stunPort)}`] }];
        if (scenario.turn) {
          const now = Date.now();
          const expiresS = Math.floor(now / 1000) + DEFAULTS.turnTtlS;
          const minted = turnCredentialsUntil({ urls: [turn.url], secret }, 'bare', expiresS, now);
          ice.push({ urls: [...minted.urls], username: minted.username, credential: minted.credential });
        }
        const bareQuery = `relay=${encodeURIComponent(relayUrl)}&ice=${encodeURIComponent(JSON.stringify(ice))}`;
        const tabmeshUrl = `${signalOrigin}/?network=lab${index}`;
        const bareDial = (id: string): string => `${bareUrl}/?id=${id}&dial=listener&${bareQuery}`;

        const listenerBrowser = await chromiumIn(scenario.listener);
        const dialers = [
          chromiumDialer(await chromiumIn(scenario.dialer)),
          firefoxDialer(await firefoxIn(scenario.dialer)),
        ];
        // A listener of each kind stays open in one profile.
        const listeners = await withTimeout(newContext(listenerBrowser), STEP_MS, 'the listener profile');
        scope.add(() => withTimeout(listeners.close(), STEP_MS, 'the listener profile to close'));
        const tabmeshListener = await withTimeout(listeners.newPage(), STEP_MS, 'the Tabmesh listener page');
        await tabmeshListener.goto(tabmeshUrl, { timeout: STEP_MS });
        await withTimeout(tabmeshListener.evaluate('window.tabmeshReady.then(() => true)'), STEP_MS, 'its node');
        const bareListener = await withTimeout(listeners.newPage(), STEP_MS, 'the bare listener page');
        await bareListener.goto(`${bareUrl}/?id=listener&${bareQuery}`, { timeout: STEP_MS });

        for (const [d, dialer] of dialers.entries()) {
          const row: Row = {
            scenario: scenario.name,
            browsers: dialer.browsers,
            tabmesh: [],
            bare: [],
            paths: [],
            failures: [],
          };
          rows.push(row);
          // A freshly launched browser's first page is slow: one, not counted.
          if (!warm.has(dialer.browser)) {
            warm.add(dialer.browser);
            await dialer.open(tabmeshUrl, [TABMESH_FIRST]).catch((error: unknown) => {
              row.failures.push(`warm-up: ${String(error).slice(0, 200)}`);
            });
          }
          const tabmeshRun = async (): Promise<void> => {
            const [ms, path] = await dialer.open(tabmeshUrl, [TABMESH_FIRST, PATH]);
            row.tabmesh.push(Number(ms));
            row.paths.push(String(path));
          };
          const bareRun = async (run: number): Promise<void> => {
            const [ms] = await dialer.open(bareDial(`d${d}r${run}`), [BARE_FIRST]);
            row.bare.push(Number(ms));
          };
          for (let run = 0; run < runs; run++) {
            // Alternate which goes first, so drift hits both alike.
            for (const measure of run % 2 === 0 ? [tabmeshRun, bareRun] : [bareRun, tabmeshRun]) {
              await measure(run).catch((error: unknown) => {
                row.failures.push(String(error).slice(0, 200));
              });
            }
          }
        }
      } finally {
        await scope.close();
        await closeBrowsers(new Set(SCENARIOS.slice(index + 1).flatMap((later) => [later.listener, later.dialer])));
      }
    }
  } finally {
    await section.close();
    await lab.close();
  }

  log(`\n## NAT lab: page open to first connection (median of ${runs} runs each, a fresh profile each run)`);
  log('| scenario | browsers | Tabmesh median ms | bare median ms | ratio | path (Tabmesh, local/remote) |');
  log('|---|---|---:|---:|---:|---|');
  for (const row of rows) {
    const [t, b] = [median(row.tabmesh), median(row.bare)];
    log(
      `| ${row.scenario} | ${row.browsers} | ${t.toFixed(0)} | ${b.toFixed(0)} | ${(t / b).toFixed(2)}× | ${tally(row.paths)} |`,
    );
  }
  for (const row of rows.filter((r) => r.failures.length > 0)) {
    log(`${row.scenario}, ${row.browsers}: ${row.failures.length} runs failed: ${row.failures.join('; ')}`);
  }
  log(`(section took ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
