/**
 * `npm run bench`: prints figures, asserts nothing. Every comparison is a
 * ratio against a baseline measured in the same run, the same way.
 *
 *  1. Ed25519 sign and verify per second on each path (Node and Chromium).
 *  2. Relay cost: server CPU per relayed message for 500 clients in pairs,
 *     Tabmesh (authenticated, rate-limited) and PeerJS's server against a
 *     bare ws relay (floor), alternated round by round; BENCH_RELAY_BASELINE
 *     (a checkout's path) adds that checkout's Tabmesh server, to compare code.
 *  3. Memory: RSS per connection at 10,000 idle connections.
 *  4. Registrations per second (challenge, signature, record check, welcome).
 *
 *  5. Page open to first authenticated connection, beside a bare simple-peer
 *     pair through the bare relay; broadcast delivery across 6 and 12 tabs.
 *  6. The widget's size: dist/web/widget.js as built, gzipped (level 9), with
 *     every chunk it loads (goal: at most 52 KiB).
 *  7. Headroom (headroom.ts): idle connections, messages per CPU-second and
 *     admissions per second beside the floor and PeerJS's server; p50/p99
 *     relay latency at a fixed rate, also through two instances over Redis.
 *  8. Adversary (adversary/index.ts): each attack of issue 15 against the
 *     real server or node code, with its defence off and with the defaults.
 *  9. NAT lab (lab-bench.ts, root): page open to first connection on a host,
 *     a reflexive and a relayed pair, Chromium and Firefox dialling, each
 *     beside a bare simple-peer pair with the same ICE servers.
 * 10. Reconnect storm (storm.ts): registered clients, the server killed and
 *     restarted; every client back on the node's own backoff schedule, the
 *     time against its bound, honest relay p99 meanwhile, RSS before,
 *     during and after.
 *
 * Environment: BENCH_MESSAGES (default 200000), BENCH_RELAY_BASELINE (none),
 * BENCH_IDLE (10000),
 * BENCH_REGISTRATIONS (10000), BENCH_ROUNDS (3), BENCH_CONNECT_RUNS (21),
 * BENCH_BROADCAST_ROUNDS (9), BENCH_HEADROOM_IDLE (10000),
 * BENCH_HEADROOM_MESSAGES (100000), BENCH_HEADROOM_REGISTRATIONS (5000),
 * BENCH_LATENCY_RATE (2000 messages/s), BENCH_LATENCY_SECONDS (5),
 * BENCH_LAB_RUNS (5), BENCH_STORM_CLIENTS (10000), BENCH_SKIP (comma list of
 * crypto, browser, relay, memory, register, connect, broadcast, widget,
 * headroom, adversary, lab, storm),
 * BENCH_ATTACKS (comma list of the adversary section's attacks, default all).
 */
import { webcrypto } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  createTweetnaclEd25519,
  createWebCryptoEd25519,
  verifyDetached,
  type Ed25519,
} from '../../shared/identity/index.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { launchChromium, serveSources } from '../helpers/browser.js';
import type { Socket } from 'node:net';
import { connectMany, makeCredentials, pingPong, type Credentials, type Kind } from './load.js';
import { rawAdmit } from './raw-client.js';
import { broadcastBench, connectBench } from './browser-bench.js';
import { headroomBench, idleOnce } from './headroom.js';
import { spawnServer } from './server-process.js';
import { rate } from './rate.js';
import { adversaryBench } from './adversary/index.js';
import { labBench } from './lab-bench.js';
import { stormBench } from './storm.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const MESSAGES = env('BENCH_MESSAGES', 200_000);
const IDLE = env('BENCH_IDLE', 10_000);
const REGISTRATIONS = env('BENCH_REGISTRATIONS', 10_000);
const ROUNDS = env('BENCH_ROUNDS', 3);
const SKIP = new Set((process.env['BENCH_SKIP'] ?? '').split(','));
const PAYLOAD = 'x'.repeat(256);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (line: string): void => void process.stdout.write(`${line}\n`);

// --- 1. Crypto ----------------------------------------------------------------

async function cryptoBench(): Promise<void> {
  log('\n## Ed25519 (operations per second; verify includes the shared encoding checks)');
  log('| path | sign/s | verify/s (1 in flight) | verify/s (64 in flight) |');
  log('|---|---:|---:|---:|');
  // The pool path only (no inline verifications): the backend's own throughput.
  const backends: Ed25519[] = [
    createNodeEd25519(0),
    createWebCryptoEd25519(webcrypto.subtle),
    createTweetnaclEd25519(),
  ];
  for (const ed of backends) {
    const pair = await ed.generate();
    const message = new Uint8Array(200);
    const signature = await pair.sign(message);
    const seconds = ed.name === 'tweetnacl' ? 1 : 1.5;
    const sign = await rate(seconds, 1, () => pair.sign(message));
    const verify1 = await rate(seconds, 1, () => verifyDetached(ed, pair.publicKey, message, signature));
    const verify64 = await rate(seconds, 64, () => verifyDetached(ed, pair.publicKey, message, signature));
    log(`| Node 20 ${ed.name} | ${fmt(sign)} | ${fmt(verify1)} | ${fmt(verify64)} |`);
  }
}

async function browserCryptoBench(): Promise<void> {
  const [browser, site] = await Promise.all([launchChromium(), serveSources()]);
  try {
    const page = await browser.newPage();
    await page.goto(`${site.url}/test/bench/fixtures/crypto.html`);
    await page.waitForFunction(() => typeof (window as { cryptoBench?: unknown }).cryptoBench === 'function');
    const rows = await page.evaluate(() =>
      (
        window as unknown as {
          cryptoBench: () => Promise<{ name: string; sign: number; verify1: number; verify64: number }[]>;
        }
      ).cryptoBench(),
    );
    const version = browser.version();
    for (const r of rows)
      log(`| Chromium ${version} ${r.name} | ${fmt(r.sign)} | ${fmt(r.verify1)} | ${fmt(r.verify64)} |`);
  } finally {
    await browser.close();
    await site.close();
  }
}

// --- 2. Relay CPU ---------------------------------------------------------------

/** The relay section's servers: the floor, PeerJS's, Tabmesh's, and Tabmesh's from another checkout (BENCH_RELAY_BASELINE). */
type RelayServer = 'floor' | 'peerjs' | 'tabmesh' | 'baseline';
const RELAY_NAMES: Record<RelayServer, string> = {
  floor: 'bare ws relay (floor)',
  peerjs: 'PeerJS server (peer 1.0.2)',
  tabmesh: 'Tabmesh (authenticated, rate-limited)',
  baseline: `Tabmesh at ${process.env['BENCH_RELAY_BASELINE'] ?? ''}`,
};
/** Clients in the relay run: 250 pairs. */
const RELAY_CLIENTS = 500;
/** Messages in flight per pair: enough that the load generator keeps the server busy. */
const RELAY_WINDOW = 4;
/** Messages relayed before the timed ones, so both sides are compiled. */
const RELAY_WARMUP = 20_000;

async function relayOnce(
  server: RelayServer,
): Promise<{ perCpuSecond: number; microsPerMessage: number; wallPerSecond: number }> {
  const kind: Kind = server === 'baseline' ? 'tabmesh' : server;
  const child = await spawnServer(
    kind,
    undefined,
    undefined,
    undefined,
    server === 'baseline' ? process.env['BENCH_RELAY_BASELINE'] : undefined,
  );
  try {
    const credentials = await makeCredentials(RELAY_CLIENTS, 'bench');
    const clients = await connectMany(kind, child.port, credentials, 'bench', 50);
    // Warm up the JIT on both sides, then measure.
    await pingPong(clients, RELAY_WARMUP, RELAY_WINDOW, PAYLOAD);
    const cpu0 = await child.cpuMicros();
    const t0 = performance.now();
    await pingPong(clients, MESSAGES, RELAY_WINDOW, PAYLOAD);
    const wall = (performance.now() - t0) / 1000;
    const cpu = (await child.cpuMicros()) - cpu0;
    clients.forEach((c) => c.close());
    return { perCpuSecond: MESSAGES / (cpu / 1e6), microsPerMessage: cpu / MESSAGES, wallPerSecond: MESSAGES / wall };
  } finally {
    await child.stop();
  }
}

async function relayBench(): Promise<void> {
  const servers: RelayServer[] = [
    'floor',
    'peerjs',
    'tabmesh',
    ...(process.env['BENCH_RELAY_BASELINE'] === undefined ? [] : (['baseline'] as const)),
  ];
  log(
    `\n## Relay: ${fmt(MESSAGES)} messages of ${PAYLOAD.length} characters among ${RELAY_CLIENTS} clients in pairs, ${RELAY_WINDOW} in flight per pair (median of ${ROUNDS} rounds; each round runs every server, the order rotating; load ${loadAverage()})`,
  );
  const results = Object.fromEntries(
    servers.map((s) => [
      s,
      { perCpuSecond: [] as number[], micros: [] as number[], wall: [] as number[], ratio: [] as number[] },
    ]),
  ) as Record<RelayServer, { perCpuSecond: number[]; micros: number[]; wall: number[]; ratio: number[] }>;
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate (and on odd rounds reverse) the order, so drift on a noisy machine hits every server alike.
    const rotated = servers.map((_, i) => servers[(i + round) % servers.length] as RelayServer);
    const order = round % 2 === 0 ? rotated : rotated.reverse();
    const got: Partial<Record<RelayServer, number>> = {};
    for (const server of order) {
      const r = await relayOnce(server);
      results[server].perCpuSecond.push(r.perCpuSecond);
      results[server].micros.push(r.microsPerMessage);
      results[server].wall.push(r.wallPerSecond);
      got[server] = r.perCpuSecond;
    }
    // Each round's ratios to the floor measured in that round.
    for (const server of servers) results[server].ratio.push((got[server] ?? NaN) / (got.floor ?? NaN));
  }
  log(
    '| server | messages per server CPU-second | server CPU µs per message | messages per wall second | ÷ floor (median of rounds) | rounds |',
  );
  log('|---|---:|---:|---:|---:|---|');
  for (const server of servers) {
    const r = results[server];
    log(
      `| ${RELAY_NAMES[server]} | ${fmt(median(r.perCpuSecond))} | ${fmt(median(r.micros), 2)} | ${fmt(median(r.wall))} | ${fmt(median(r.ratio), 3)}× | ${r.ratio.map((x) => fmt(x, 3)).join(', ')} |`,
    );
  }
  const tabmeshOverPeerJs = results.tabmesh.perCpuSecond.map((t, i) => t / (results.peerjs.perCpuSecond[i] ?? NaN));
  log(
    `Tabmesh / floor ${fmt(median(results.tabmesh.ratio), 3)}×, PeerJS / floor ${fmt(median(results.peerjs.ratio), 3)}×, Tabmesh / PeerJS ${fmt(median(tabmeshOverPeerJs), 3)}× (load ${loadAverage()})`,
  );
}

/** The 1-, 5- and 15-minute load averages, printed beside figures that other work on the machine moves. */
function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

// --- 3. Memory ------------------------------------------------------------------

async function memoryOnce(kind: Kind): Promise<number> {
  return idleOnce(kind, await makeCredentials(IDLE, 'bench'));
}

async function memoryBench(): Promise<void> {
  log(`\n## Memory: server RSS per connection at ${fmt(IDLE)} idle connections (Tabmesh's registered)`);
  const floor = await memoryOnce('floor');
  const ours = await memoryOnce('tabmesh');
  log('| server | KiB per connection |');
  log('|---|---:|');
  log(`| bare ws relay (floor) | ${fmt(floor / 1024, 2)} |`);
  log(`| Tabmesh | ${fmt(ours / 1024, 2)} |`);
  log(`Tabmesh / floor: ${fmt(ours / floor, 3)}×`);
}

// --- 4. Registrations -----------------------------------------------------------

async function admitMany(
  kind: Kind,
  port: number,
  credentials: readonly Credentials[],
  concurrency: number,
): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < credentials.length; i = next++) {
      const c = credentials[i];
      if (c !== undefined) sockets.push(await rawAdmit(kind, port, c, 'bench'));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sockets;
}

async function registerBench(): Promise<void> {
  log(`\n## Admission: ${fmt(REGISTRATIONS)} new connections, 200 handshakes in flight (raw-socket load generator)`);
  log('| server | what completes | per second | server CPU µs each | load generator CPU µs each |');
  log('|---|---|---:|---:|---:|');
  const rows: [Kind, string | undefined, string, string][] = [
    ['floor', undefined, 'bare ws relay (floor)', 'WebSocket open (no authentication)'],
    ['tabmesh', undefined, 'Tabmesh', 'challenge → signed answer → record verified → welcome'],
    ['tabmesh', 'none', 'Tabmesh, Ed25519 stubbed out (cost split only)', 'the same, no signature checked'],
  ];
  for (const [kind, ed25519, label, what] of rows) {
    const credentials = await makeCredentials(REGISTRATIONS, 'bench');
    const server = await spawnServer(kind, ed25519);
    try {
      const cpu0 = await server.cpuMicros();
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      const sockets = await admitMany(kind, server.port, credentials, 200);
      const perSecond = REGISTRATIONS / ((performance.now() - t0) / 1000);
      const serverMicros = ((await server.cpuMicros()) - cpu0) / REGISTRATIONS;
      const own = process.cpuUsage(own0);
      const clientMicros = (own.user + own.system) / REGISTRATIONS;
      sockets.forEach((s) => s.destroy());
      log(`| ${label} | ${what} | ${fmt(perSecond)} | ${fmt(serverMicros)} | ${fmt(clientMicros)} |`);
    } finally {
      await server.stop();
    }
  }
}

// --- 6. Widget size ------------------------------------------------------------

/** The widget's gzipped size goal (with simple-peer as the transport, issue 16): 53,248 bytes. */
const WIDGET_GZIP_GOAL_BYTES = 52 * 1024;

async function widgetBench(): Promise<void> {
  // Built as `npm run build` builds it, into a folder of its own (tests use dist/web).
  const outDir = fileURLToPath(new URL('../../dist/bench-widget', import.meta.url));
  await build({
    configFile: fileURLToPath(new URL('../../vite.config.ts', import.meta.url)),
    mode: 'widget',
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  log('\n## Widget: widget.js and every chunk it loads (gzip level 9)');
  log('| file | bytes | gzipped |');
  log('|---|---:|---:|');
  let raw = 0;
  let gzipped = 0;
  for (const name of (await readdir(outDir, { recursive: true })).filter((n) => n.endsWith('.js')).sort()) {
    const bytes = await readFile(join(outDir, name));
    const packed = gzipSync(bytes, { level: 9 }).length;
    raw += bytes.length;
    gzipped += packed;
    log(`| ${name} | ${fmt(bytes.length)} | ${fmt(packed)} |`);
  }
  log(`| total | ${fmt(raw)} | ${fmt(gzipped)} (${fmt(gzipped / 1024, 1)} KiB) |`);
  log(
    `Goal at most ${fmt(WIDGET_GZIP_GOAL_BYTES / 1024)} KiB gzipped: ${gzipped <= WIDGET_GZIP_GOAL_BYTES ? 'met' : 'NOT met'}`,
  );
}

async function main(): Promise<void> {
  log(`# Tabmesh benchmarks (${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores)`);
  if (!SKIP.has('crypto')) await cryptoBench();
  if (!SKIP.has('browser')) await browserCryptoBench();
  if (!SKIP.has('relay')) await relayBench();
  if (!SKIP.has('memory')) await memoryBench();
  if (!SKIP.has('register')) await registerBench();
  if (!SKIP.has('connect')) await connectBench(log, env('BENCH_CONNECT_RUNS', 21));
  if (!SKIP.has('broadcast')) await broadcastBench(log, [6, 12], env('BENCH_BROADCAST_ROUNDS', 9));
  if (!SKIP.has('widget')) await widgetBench();
  if (!SKIP.has('headroom'))
    await headroomBench(log, {
      idle: env('BENCH_HEADROOM_IDLE', 10_000),
      messages: env('BENCH_HEADROOM_MESSAGES', 100_000),
      registrations: env('BENCH_HEADROOM_REGISTRATIONS', 5_000),
      rate: env('BENCH_LATENCY_RATE', 2_000),
      seconds: env('BENCH_LATENCY_SECONDS', 5),
    });
  if (!SKIP.has('adversary')) await adversaryBench(log, process.env['BENCH_ATTACKS']?.split(','));
  if (!SKIP.has('lab')) await labBench(log, env('BENCH_LAB_RUNS', 5));
  if (!SKIP.has('storm')) await stormBench(log, { clients: env('BENCH_STORM_CLIENTS', 10_000) });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${String(error)}\n`);
    process.exit(1);
  },
);
