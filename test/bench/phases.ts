/**
 * Where the time goes between page open and the first connection: the page's
 * own calls (WebSocket, RTCPeerConnection, IndexedDB, Web Locks, Web Crypto)
 * timestamped from an init script, for Tabmesh and the bare pair alike.
 * Not a benchmark (the instrumentation costs time too): a guide to what to
 * change. `node --import tsx test/bench/phases.ts [runs]` prints each event's
 * median and the median run in order; PHASES_NOBUILD=1 reuses the last build.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import { WebSocket as ServerSocket } from 'ws';
import { launchChromium, newContext } from '../helpers/browser.js';
import { openTabs } from '../helpers/tabs.js';
import { buildPages, median, serveDir, BARE_DIR, PAGE_DIR } from './browser-bench.js';
import { startServer } from '../helpers/server.js';
import { startFloorRelay } from './floor-relay.js';
import { waitForQuiet } from './quiet.js';

/**
 * The signaling server's side (it runs in this process): every frame it sends
 * and every message it receives, with its wall-clock time, prefixed `S:`.
 */
export const serverEvents: [string, number][] = [];
const wallClock = (): number => performance.timeOrigin + performance.now();
const typeOf = (data: unknown): string => {
  try {
    const m = JSON.parse(String(data)) as { type?: string; data?: { type?: string } };
    return `${m.type ?? '?'}${m.data?.type !== undefined ? `:${m.data.type}` : ''}`;
  } catch {
    return '?';
  }
};
{
  const proto = ServerSocket.prototype as unknown as {
    send: (data: unknown, ...rest: unknown[]) => void;
    emit: (event: string | symbol, ...args: unknown[]) => boolean;
  };
  const send = proto.send;
  proto.send = function (this: unknown, data: unknown, ...rest: unknown[]) {
    if (serverEvents.length < 100_000) serverEvents.push([`S:send:${typeOf(data)}`, wallClock()]);
    send.call(this, data, ...rest);
  };
  const emit = proto.emit;
  proto.emit = function (this: unknown, event: string | symbol, ...args: unknown[]) {
    if (event === 'message' && serverEvents.length < 100_000)
      serverEvents.push([`S:recv:${typeOf(args[0])}`, wallClock()]);
    return emit.call(this, event, ...args);
  };
}

/** Runs in the page before its scripts: records the first time each labelled event happens. */
export const INSTRUMENT = `(() => {
  const t = {};
  // Every event also goes, with its wall-clock time, into a bounded list: the
  // listener's events are read from there and placed on the dialer's timeline.
  const all = [];
  window.__all = all;
  const mark = (k) => {
    if (!(k in t)) t[k] = performance.now();
    if (all.length < 4096) all.push([k, performance.timeOrigin + performance.now()]);
  };
  window.__phases = t;
  mark('init');
  // Where the main thread was busy: a timer chain (4 ms apart once nested)
  // notes each gap over 8 ms, for the first 3 s.
  let last = performance.now();
  const probe = () => {
    const n = performance.now();
    if (n - last > 8) mark('busy:' + (n - last).toFixed(0) + 'ms-until-' + n.toFixed(0));
    last = n;
    if (n < 3000) setTimeout(probe, 0);
  };
  setTimeout(probe, 0);
  const WS = WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      mark('ws:new'); super(...a);
      this.addEventListener('open', () => mark('ws:open'));
      let n = 0;
      this.addEventListener('message', (e) => {
        let type = 'msg';
        let code = '';
        try { const m = JSON.parse(e.data); type = m.type ?? m.t ?? (m.data && m.data.type) ?? 'msg'; code = m.code ?? ''; } catch {}
        mark('ws:recv:' + type + (type === 'signal' || type === 'msg' ? ':' + n++ : '') + (type === 'error' ? ':' + code : ''));
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
      this.addEventListener('icecandidate', (e) => {
        mark('pc:candidate');
        // Its type (host, srflx, relay; an mDNS host name shows as host.local), or the end of gathering.
        const line = e.candidate ? e.candidate.candidate : '';
        const typ = / typ (\\w+)/.exec(line);
        mark(line === '' ? 'pc:gathered' : 'pc:candidate:' + (typ ? typ[1] : '?') + (/\\.local /.test(line) ? '.local' : ''));
      });
      this.addEventListener('datachannel', (e) => e.channel.addEventListener('open', () => mark('dc:open')));
      this.addEventListener('connectionstatechange', () => mark('pc:' + this.connectionState));
      this.addEventListener('iceconnectionstatechange', () => mark('ice:' + this.iceConnectionState));
    }
    async createOffer(...a) { const r = await super.createOffer(...a); mark('pc:offer'); return r; }
    async setRemoteDescription(...a) { mark('pc:setRemote'); const r = await super.setRemoteDescription(...a); mark('pc:setRemote:ok'); return r; }
    async createAnswer(...a) { mark('pc:createAnswer'); const r = await super.createAnswer(...a); mark('pc:answer'); return r; }
    async addIceCandidate(...a) {
      const c = a[0] && a[0].candidate ? a[0].candidate : '';
      const typ = / typ (\\w+)/.exec(c);
      mark('pc:addRemote:' + (typ ? typ[1] : '?') + (/\\.local /.test(c) ? '.local' : ''));
      return super.addIceCandidate(...a);
    }
    async setLocalDescription(...a) { mark('pc:setLocal'); const r = await super.setLocalDescription(...a); mark('pc:setLocal:ok'); return r; }
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
  // The node's first connection, when it happens (the page is asked only after its load event).
  const dispatch = EventTarget.prototype.dispatchEvent;
  EventTarget.prototype.dispatchEvent = function (event) {
    if (event.type === 'peer:connect' && window.__tabmeshFirstConnect === undefined) {
      window.__tabmeshFirstConnect = performance.now();
      mark('peer:connect');
    }
    return dispatch.call(this, event);
  };
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
  const first = (window as unknown as { __tabmeshFirstConnect?: number }).__tabmeshFirstConnect;
  if (first !== undefined) return Promise.resolve(first);
  return (window.tabmeshReady ?? Promise.reject(new Error('no node'))).then(
    (node) =>
      new Promise<number>((resolve) => {
        if (node.connections().length > 0) resolve(performance.now());
        node.addEventListener('peer:connect', () => resolve(performance.now()), { once: true });
      }),
  );
}

/**
 * Open `url` in `context`, wait for the connection, return the page's
 * timestamps, and the listener's (prefixed `L:`) since the page opened.
 */
async function timeline(context: BrowserContext, url: string, listener: Page): Promise<Record<string, number>> {
  // Drop what the listener did before this run.
  await listener.evaluate(() => (window as unknown as { __all: unknown[] }).__all.splice(0));
  serverEvents.splice(0);
  const page = await context.newPage();
  await waitForQuiet();
  try {
    await page.goto(url);
    const end = await page.evaluate(connected);
    const origin = await page.evaluate(() => performance.timeOrigin);
    const listened = await listener.evaluate(() =>
      (window as unknown as { __all: [string, number][] }).__all.splice(0),
    );
    const fromListener: Record<string, number> = {};
    for (const [k, at] of listened)
      if (at >= origin && !(`L:${k}` in fromListener)) fromListener[`L:${k}`] = at - origin;
    for (const [k, at] of serverEvents)
      for (let i = 0; ; i++)
        if (!(`${k}:${i}` in fromListener)) {
          fromListener[`${k}:${i}`] = at - origin;
          break;
        }
    const counts = await page.evaluate((end) => {
      const all = (window as unknown as { __all: [string, number][] }).__all;
      const before = all.filter(([, at]) => at - performance.timeOrigin <= end);
      const count = (prefix: string): number => before.filter(([k]) => k.startsWith(prefix)).length;
      return {
        'count:pc:new': count('pc:new'),
        'count:ws:send:signal': count('ws:send:signal'),
        'count:subtle:sign': count('subtle:sign') / 2,
        'count:subtle:verify': count('subtle:verify') / 2,
      };
    }, end);
    const own = await page.evaluate((end) => {
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
    return { ...own, ...counts, ...Object.fromEntries(Object.entries(fromListener).filter(([, at]) => at <= end + 5)) };
  } finally {
    await page.close({ runBeforeUnload: true });
  }
}

export function report(label: string, runs: Record<string, number>[]): void {
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
  // PHASES_DIR: a page built elsewhere (to compare a change), instead of the benchmark's build.
  const server = await startServer({ staticDir: process.env['PHASES_DIR'] ?? PAGE_DIR });
  const bareSite = await serveDir(BARE_DIR);
  const relay = await startFloorRelay();
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  try {
    const listenerContext = await instrumented(browser);
    const [listener] = await openTabs(listenerContext, server.url, 1, 'network=bench');
    if (listener === undefined) throw new Error('no listener');
    const bareListener = await listenerContext.newPage();
    await bareListener.goto(`${bareSite.url}/?id=listener&relay=${encodeURIComponent(relayUrl)}`);
    const profile = await instrumented(browser);
    const tabmeshUrl = `${server.url}/?network=bench`;
    const bareUrl = (id: string): string =>
      `${bareSite.url}/?id=${id}&dial=listener&relay=${encodeURIComponent(relayUrl)}`;
    // First visits in the returning profile, not counted.
    await timeline(profile, tabmeshUrl, listener);
    await timeline(profile, bareUrl('warm'), bareListener);
    const results: Record<string, Record<string, number>[]> = { tf: [], tr: [], bf: [], br: [] };
    const once = async (url: string, listening: Page): Promise<Record<string, number>> => {
      const context = await instrumented(browser);
      try {
        return await timeline(context, url, listening);
      } finally {
        await context.close();
      }
    };
    for (let run = 0; run < runs; run++) {
      results['tf']?.push(await once(tabmeshUrl, listener));
      results['tr']?.push(await timeline(profile, tabmeshUrl, listener));
      results['bf']?.push(await once(bareUrl(`f${run}`), bareListener));
      results['br']?.push(await timeline(profile, bareUrl(`r${run}`), bareListener));
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

// Run as a script, not when firefox-phases.ts imports the instrumentation.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`phases failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
