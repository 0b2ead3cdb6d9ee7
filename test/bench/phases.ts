/**
 * Where the time goes between page open and the first connection: the page's
 * own calls (WebSocket, RTCPeerConnection, IndexedDB, Web Locks, Web Crypto)
 * timestamped from an init script, for Tabmesh and the bare pair alike.
 * Not a benchmark (the instrumentation costs time too): a guide to what to
 * change. `node --import tsx test/bench/phases.ts [runs]` prints each event's
 * median and the median run in order; PHASES_NOBUILD=1 reuses the last build.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium, newContext } from '../helpers/browser.js';
import { openTabs } from '../helpers/tabs.js';
import { buildPages, serveDir, startPageServer, BARE_DIR } from './browser-bench.js';
import { startFloorRelay } from './floor-relay.js';

/** Runs in the page before its scripts: records the first time each labelled event happens. */
const INSTRUMENT = `(() => {
  const t = {};
  const mark = (k) => { if (!(k in t)) t[k] = performance.now(); };
  window.__phases = t;
  mark('init');
  const WS = WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      mark('ws:new'); super(...a);
      this.addEventListener('open', () => mark('ws:open'));
      let n = 0;
      this.addEventListener('message', (e) => {
        let type = 'msg';
        try { const m = JSON.parse(e.data); type = m.type ?? m.t ?? (m.data && m.data.type) ?? 'msg'; } catch {}
        mark('ws:recv:' + type + (type === 'signal' || type === 'msg' ? ':' + n++ : ''));
      });
    }
    send(d) {
      let type = 'msg';
      try { const m = JSON.parse(d); type = m.type ?? m.t ?? (m.data && m.data.type) ?? 'msg'; } catch {}
      mark('ws:send:' + type);
      return super.send(d);
    }
  };
  const PC = RTCPeerConnection;
  window.RTCPeerConnection = class extends PC {
    constructor(...a) {
      mark('pc:new'); super(...a);
      this.addEventListener('icecandidate', () => mark('pc:candidate'));
      this.addEventListener('connectionstatechange', () => mark('pc:' + this.connectionState));
      this.addEventListener('iceconnectionstatechange', () => mark('ice:' + this.iceConnectionState));
    }
    async createOffer(...a) { const r = await super.createOffer(...a); mark('pc:offer'); return r; }
    async setRemoteDescription(...a) { mark('pc:setRemote'); return super.setRemoteDescription(...a); }
    createDataChannel(...a) {
      const c = super.createDataChannel(...a);
      c.addEventListener('open', () => mark('dc:open'));
      c.addEventListener('message', () => mark('dc:message'));
      return c;
    }
  };
  const open = indexedDB.open.bind(indexedDB);
  indexedDB.open = (...a) => {
    mark('idb:open');
    const r = open(...a);
    r.addEventListener('success', () => mark('idb:opened'));
    return r;
  };
  for (const m of ['importKey', 'sign', 'verify', 'generateKey', 'exportKey']) {
    const f = crypto.subtle[m].bind(crypto.subtle);
    let i = 0;
    crypto.subtle[m] = async (...a) => {
      const k = 'subtle:' + m + ':' + i++;
      mark(k);
      const r = await f(...a);
      mark(k + ':done');
      return r;
    };
  }
  const req = navigator.locks.request.bind(navigator.locks);
  navigator.locks.request = (...a) => { mark('locks:request'); return req(...a); };
  addEventListener('DOMContentLoaded', () => mark('domcontentloaded'));
})();`;

async function instrumented(browser: Browser): Promise<BrowserContext> {
  const context = await newContext(browser);
  await context.addInitScript(INSTRUMENT);
  return context;
}

/** When the page is connected: a Tabmesh node's first peer, or the bare pair's `connect`. */
function connected(): Promise<number> {
  const bare = (window as unknown as { bareConnected?: Promise<number> }).bareConnected;
  if (bare !== undefined) return bare;
  return (window.tabmeshReady ?? Promise.reject(new Error('no node'))).then(
    (node) =>
      new Promise<number>((resolve) => {
        if (node.connections().length > 0) resolve(performance.now());
        node.addEventListener('peer:connect', () => resolve(performance.now()), { once: true });
      }),
  );
}

/** Open `url` in `context`, wait for the connection, return the page's timestamps. */
async function timeline(context: BrowserContext, url: string): Promise<Record<string, number>> {
  const page = await context.newPage();
  try {
    await page.goto(url);
    const end = await page.evaluate(connected);
    return await page.evaluate((end) => {
      const script = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.js')) as
        PerformanceResourceTiming | undefined;
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      return {
        ...(window as unknown as { __phases: Record<string, number> }).__phases,
        'nav:responseEnd': nav?.responseEnd ?? NaN,
        'script:fetched': script?.responseEnd ?? NaN,
        ...Object.fromEntries(performance.getEntriesByType('mark').map((m) => [`mark:${m.name}`, m.startTime])),
        ...Object.fromEntries(
          performance
            .getEntriesByType('resource')
            .map((e) => [
              `fetched:${e.name.replace(/.*\//, '').slice(0, 12)}`,
              (e as PerformanceResourceTiming).responseEnd,
            ]),
        ),
        connected: end,
      };
    }, end);
  } finally {
    await page.close({ runBeforeUnload: true });
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

function report(label: string, runs: Record<string, number>[]): void {
  const keys = new Map<string, number[]>();
  for (const run of runs) for (const [k, v] of Object.entries(run)) keys.set(k, [...(keys.get(k) ?? []), v]);
  const rows = [...keys].map(([k, v]) => [k, median(v), v.length] as const).sort((a, b) => a[1] - b[1]);
  process.stdout.write(`\n## ${label} (median ms from navigation, of ${runs.length})\n`);
  for (const [k, v, n] of rows)
    process.stdout.write(`${v.toFixed(1).padStart(7)}  ${k}${n < runs.length ? ` (${n})` : ''}\n`);
  const typical =
    [...runs].sort((a, b) => (a['connected'] ?? 0) - (b['connected'] ?? 0))[Math.floor(runs.length / 2)] ?? {};
  process.stdout.write(`-- the median run, in order:\n`);
  for (const [k, v] of Object.entries(typical).sort((a, b) => a[1] - b[1]))
    if (!k.endsWith(':done')) process.stdout.write(`${v.toFixed(1).padStart(7)}  ${k}\n`);
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 9);
  if (process.env['PHASES_NOBUILD'] === undefined) await buildPages();
  const browser = await launchChromium();
  const server = await startPageServer();
  const bareSite = await serveDir(BARE_DIR);
  const relay = await startFloorRelay();
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  try {
    const listenerContext = await newContext(browser);
    await openTabs(listenerContext, server.url, 1, 'network=bench');
    const bareListener = await listenerContext.newPage();
    await bareListener.goto(`${bareSite.url}/?id=listener&relay=${encodeURIComponent(relayUrl)}`);
    const profile = await instrumented(browser);
    const tabmeshUrl = `${server.url}/?network=bench`;
    const bareUrl = (id: string): string =>
      `${bareSite.url}/?id=${id}&dial=listener&relay=${encodeURIComponent(relayUrl)}`;
    // First visits in the returning profile, not counted.
    await timeline(profile, tabmeshUrl);
    await timeline(profile, bareUrl('warm'));
    const results: Record<string, Record<string, number>[]> = { tf: [], tr: [], bf: [], br: [] };
    const once = async (url: string): Promise<Record<string, number>> => {
      const context = await instrumented(browser);
      try {
        return await timeline(context, url);
      } finally {
        await context.close();
      }
    };
    for (let run = 0; run < runs; run++) {
      results['tf']?.push(await once(tabmeshUrl));
      results['tr']?.push(await timeline(profile, tabmeshUrl));
      results['bf']?.push(await once(bareUrl(`f${run}`)));
      results['br']?.push(await timeline(profile, bareUrl(`r${run}`)));
    }
    report('Tabmesh, first visit', results['tf'] ?? []);
    report('Tabmesh, returning', results['tr'] ?? []);
    report('bare, first visit', results['bf'] ?? []);
    report('bare, returning', results['br'] ?? []);
  } finally {
    await browser.close();
    await server.close();
    await bareSite.close();
    relay.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`phases failed: ${String(error)}\n`);
    process.exit(1);
  },
);
