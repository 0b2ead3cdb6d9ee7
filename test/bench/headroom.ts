/**
 * Headroom (`BENCH_SKIP=headroom` to skip): what one signaling instance can
 * hold and do, beside the bare ws relay (floor) and PeerJS's server (the
 * `peer` package), each in a process of its own and driven by the same load
 * generator; then the same relay latency through two Tabmesh instances over
 * one Redis, with pairs on one instance and pairs across the two.
 *
 *  - idle connections: server RSS per connection (Tabmesh's registered,
 *    PeerJS's OPEN, the floor's open);
 *  - relay throughput: messages per server CPU-second, 500 clients in pairs;
 *  - admission: new connections per second (raw-socket load generator);
 *  - latency at a fixed rate: p50/p99 from send to delivery, and the CPU
 *    every server involved (instances and Redis) spent per message.
 *
 * Every figure is printed beside the floor's, measured the same way in the
 * same run, and as a ratio to it.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RedisProcess } from '../helpers/processes.js';
import { connectMany, makeCredentials, pingPong, type Credentials, type Kind, type LoadClient } from './load.js';
import { rawAdmit } from './raw-client.js';
import { spawnServer, type ServerProcess } from './server-process.js';

export interface HeadroomSettings {
  /** Idle connections held (BENCH_HEADROOM_IDLE). */
  readonly idle: number;
  /** Relayed messages timed for throughput (BENCH_HEADROOM_MESSAGES). */
  readonly messages: number;
  /** New connections timed for admission (BENCH_HEADROOM_REGISTRATIONS). */
  readonly registrations: number;
  /** Messages per second, all pairs together, for the latency runs (BENCH_LATENCY_RATE). */
  readonly rate: number;
  /** Seconds each latency run sends for (BENCH_LATENCY_SECONDS). */
  readonly seconds: number;
}

type Log = (line: string) => void;

const NAMES: Record<Kind, string> = {
  floor: 'bare ws relay (floor)',
  peerjs: 'PeerJS server (peer 1.0.2)',
  tabmesh: 'Tabmesh',
};
const KINDS: readonly Kind[] = ['floor', 'peerjs', 'tabmesh'];
/** Characters in each relayed payload (an ICE candidate with its signature is about this size). */
const PAYLOAD_CHARS = 256;
/** Clients in the throughput run (250 pairs, 4 messages in flight per pair). */
const THROUGHPUT_CLIENTS = 500;
/** Pairs in the latency runs: the fixed rate is spread over them. */
const LATENCY_PAIRS = 100;
/** How often the latency run's sender wakes to send what is due. */
const SEND_TICK_MS = 5;
/** After the last send, how long stragglers are waited for before the run counts them lost. */
const DRAIN_MS = 5_000;
/**
 * A window with every client connected and nothing sent, before each latency
 * run: its CPU (heartbeats, timers, presence refreshes in Redis) is taken off
 * the run's, so the figure is what each message adds.
 */
const IDLE_WINDOW_MS = 1_000;

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

// --- Idle connections -----------------------------------------------------------

/** RSS bytes per idle registered connection: one fresh server of `kind`, one client per credential. */
export async function idleOnce(kind: Kind, credentials: readonly Credentials[]): Promise<number> {
  const server = await spawnServer(kind);
  try {
    const before = await server.rss();
    const clients = await connectMany(kind, server.port, credentials, 'bench', 100);
    const after = await server.rss();
    clients.forEach((c) => c.close());
    return (after - before) / credentials.length;
  } finally {
    await server.stop();
  }
}

// --- Throughput -------------------------------------------------------------------

async function throughputOnce(kind: Kind, credentials: readonly Credentials[], messages: number): Promise<number> {
  const server = await spawnServer(kind);
  try {
    const clients = await connectMany(kind, server.port, credentials, 'bench', 50);
    const payload = 'x'.repeat(PAYLOAD_CHARS);
    await pingPong(clients, 20_000, 4, payload); // warm-up
    const cpu0 = await server.cpuMicros();
    await pingPong(clients, messages, 4, payload);
    const cpu = (await server.cpuMicros()) - cpu0;
    clients.forEach((c) => c.close());
    return messages / (cpu / 1e6);
  } finally {
    await server.stop();
  }
}

// --- Admission --------------------------------------------------------------------

async function admissionOnce(kind: Kind, credentials: readonly Credentials[]): Promise<number> {
  const server = await spawnServer(kind);
  try {
    const sockets: Socket[] = [];
    let next = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      for (let i = next++; i < credentials.length; i = next++) {
        const c = credentials[i];
        if (c !== undefined) sockets.push(await rawAdmit(kind, server.port, c, 'bench'));
      }
    };
    await Promise.all(Array.from({ length: 200 }, worker));
    const perSecond = credentials.length / ((performance.now() - t0) / 1000);
    sockets.forEach((s) => s.destroy());
    return perSecond;
  } finally {
    await server.stop();
  }
}

// --- Latency at a fixed rate --------------------------------------------------------

interface LatencyResult {
  readonly p50: number;
  readonly p99: number;
  readonly lost: number;
  /** CPU µs each message added, every server process involved (and Redis) together. */
  readonly cpuMicros: number;
  /** CPU µs per second with the clients connected and silent, all processes together. */
  readonly idleMicrosPerSecond: number;
  /** Of cpuMicros, what Redis spent (0 without Redis): the one shared process. */
  readonly redisMicros: number;
}

/**
 * Each sender sends to its partner, round robin over the pairs, at `rate`
 * messages per second for `seconds`; each payload carries its send time.
 */
function fixedRate(
  pairs: readonly (readonly [LoadClient, LoadClient])[],
  rate: number,
  seconds: number,
): Promise<{ latencies: number[]; lost: number }> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const pad = 'x'.repeat(PAYLOAD_CHARS);
  return new Promise((resolve) => {
    let drain: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearInterval(ticker);
      clearTimeout(drain);
      resolve({ latencies, lost: total - latencies.length });
    };
    for (const [, receiver] of pairs) {
      receiver.onSignal = (_from, payload) => {
        latencies.push(performance.now() - Number(payload.slice(0, payload.indexOf('|'))));
        if (latencies.length === total) finish();
      };
    }
    const start = performance.now();
    let sent = 0;
    const ticker = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const pair = pairs[sent % pairs.length];
        if (pair === undefined) continue;
        const stamp = `${performance.now().toFixed(3)}|`;
        pair[0].send(pair[1].id, stamp + pad.slice(stamp.length));
      }
      if (sent === total && drain === undefined) drain = setTimeout(finish, DRAIN_MS);
    }, SEND_TICK_MS);
  });
}

/** Redis's own CPU so far (µs), from INFO. */
async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

async function latencyRun(
  servers: readonly ServerProcess[],
  kind: Kind,
  placement: (pair: number) => readonly [number, number],
  credentials: readonly Credentials[],
  settings: HeadroomSettings,
  redis: Redis | undefined,
): Promise<LatencyResult> {
  const pairs: (readonly [LoadClient, LoadClient])[] = [];
  const clients: LoadClient[] = [];
  for (let i = 0; i < LATENCY_PAIRS; i++) {
    const [sa, sb] = placement(i);
    const ca = credentials[2 * i];
    const cb = credentials[2 * i + 1];
    const a = servers[sa];
    const b = servers[sb];
    if (ca === undefined || cb === undefined || a === undefined || b === undefined) throw new Error('bad placement');
    const [[clientA], [clientB]] = await Promise.all([
      connectMany(kind, a.port, [ca], 'bench', 1),
      connectMany(kind, b.port, [cb], 'bench', 1),
    ]);
    if (clientA === undefined || clientB === undefined) throw new Error('no client');
    pairs.push([clientA, clientB]);
    clients.push(clientA, clientB);
  }
  // A short warm-up at the same rate, then the timed run.
  await fixedRate(pairs, settings.rate, Math.min(1, settings.seconds));
  const redisCpu = (): Promise<number> => (redis === undefined ? Promise.resolve(0) : redisCpuMicros(redis));
  const cpu = async (): Promise<number> =>
    (await Promise.all(servers.map((s) => s.cpuMicros()))).reduce((x, y) => x + y, 0) + (await redisCpu());
  const idle0 = await cpu();
  const redisIdle0 = await redisCpu();
  const idleStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
  const idleSeconds = (performance.now() - idleStart) / 1000;
  const redisIdlePerSecond = ((await redisCpu()) - redisIdle0) / idleSeconds;
  const idleMicrosPerSecond = ((await cpu()) - idle0) / idleSeconds;
  const cpu0 = await cpu();
  const redis0 = await redisCpu();
  const runStart = performance.now();
  const { latencies, lost } = await fixedRate(pairs, settings.rate, settings.seconds);
  const runSeconds = (performance.now() - runStart) / 1000;
  const redisSpent = (await redisCpu()) - redis0 - redisIdlePerSecond * runSeconds;
  const spent = (await cpu()) - cpu0 - idleMicrosPerSecond * runSeconds;
  clients.forEach((c) => c.close());
  const sorted = latencies.sort((x, y) => x - y);
  return {
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    lost,
    cpuMicros: spent / latencies.length,
    idleMicrosPerSecond,
    redisMicros: redis === undefined ? 0 : redisSpent / latencies.length,
  };
}

async function singleLatency(kind: Kind, credentials: readonly Credentials[], settings: HeadroomSettings) {
  const server = await spawnServer(kind);
  try {
    return await latencyRun([server], kind, () => [0, 0], credentials, settings, undefined);
  } finally {
    await server.stop();
  }
}

/** Two instances over one Redis: pairs within one instance, then pairs across the two. */
async function clusterLatency(
  credentials: readonly Credentials[],
  settings: HeadroomSettings,
): Promise<{ same: LatencyResult; cross: LatencyResult }> {
  const redisProcess = await RedisProcess.start();
  const redis = new Redis(redisProcess.url, { maxRetriesPerRequest: 1 });
  try {
    const instances = [
      await spawnServer('tabmesh', undefined, redisProcess.url),
      await spawnServer('tabmesh', undefined, redisProcess.url),
    ];
    try {
      const same = await latencyRun(
        instances,
        'tabmesh',
        (i) => (i % 2 === 0 ? [0, 0] : [1, 1]),
        credentials,
        settings,
        redis,
      );
      // New identities: a peer ID moving instances would first close its old session.
      const cross = await latencyRun(
        instances,
        'tabmesh',
        (i) => (i % 2 === 0 ? [0, 1] : [1, 0]),
        await makeCredentials(credentials.length, 'bench'),
        settings,
        redis,
      );
      return { same, cross };
    } finally {
      await Promise.all(instances.map((s) => s.stop()));
    }
  } finally {
    redis.disconnect();
    await redisProcess.stop();
  }
}

// --- The section ------------------------------------------------------------------

export async function headroomBench(log: Log, settings: HeadroomSettings): Promise<void> {
  const started = performance.now();
  log('\n## Headroom: one instance beside the floor and PeerJS, then two Tabmesh instances over Redis');

  const idleCredentials = await makeCredentials(settings.idle, 'bench');
  const idle: Partial<Record<Kind, number>> = {};
  for (const kind of KINDS) idle[kind] = await idleOnce(kind, idleCredentials);
  const throughputCredentials = idleCredentials.slice(0, THROUGHPUT_CLIENTS);
  const throughput: Partial<Record<Kind, number>> = {};
  for (const kind of KINDS) throughput[kind] = await throughputOnce(kind, throughputCredentials, settings.messages);
  const admission: Partial<Record<Kind, number>> = {};
  for (const kind of KINDS) {
    // Fresh identities each time: PeerJS and Tabmesh would take a reused ID as a reconnection.
    admission[kind] = await admissionOnce(kind, await makeCredentials(settings.registrations, 'bench'));
  }
  const latencyCredentials = idleCredentials.slice(0, 2 * LATENCY_PAIRS);
  const latency: Partial<Record<Kind, LatencyResult>> = {};
  for (const kind of KINDS) latency[kind] = await singleLatency(kind, latencyCredentials, settings);

  const floorIdle = idle.floor ?? NaN;
  const floorThroughput = throughput.floor ?? NaN;
  const floorAdmission = admission.floor ?? NaN;
  log(
    `| server | KiB per idle connection (${fmt(settings.idle)}) | messages per server CPU-second | new connections per second |`,
  );
  log('|---|---:|---:|---:|');
  for (const kind of KINDS) {
    const i = idle[kind] ?? NaN;
    const t = throughput[kind] ?? NaN;
    const a = admission[kind] ?? NaN;
    log(
      `| ${NAMES[kind]} | ${fmt(i / 1024, 2)} (${fmt(i / floorIdle, 2)}×) | ${fmt(t)} (${fmt(t / floorThroughput, 2)}×) | ${fmt(a)} (${fmt(a / floorAdmission, 2)}×) |`,
    );
  }
  log(
    `Tabmesh / PeerJS: memory ${fmt((idle.tabmesh ?? NaN) / (idle.peerjs ?? NaN), 2)}×, messages per CPU-second ${fmt((throughput.tabmesh ?? NaN) / (throughput.peerjs ?? NaN), 2)}×, admissions per second ${fmt((admission.tabmesh ?? NaN) / (admission.peerjs ?? NaN), 2)}× ` +
      '(Tabmesh admits by challenge, Ed25519 signature and signed record; PeerJS and the floor take any ID unchecked)',
  );

  const cluster = await clusterLatency(latencyCredentials, settings);

  log(
    `\n### Relay latency at ${fmt(settings.rate)} messages/s for ${fmt(settings.seconds)} s (${LATENCY_PAIRS} pairs, ${PAYLOAD_CHARS}-character payloads; send to delivery, load generator and servers on one machine)`,
  );
  log(
    '| path | p50 ms | p99 ms | lost | server CPU µs per message (all processes) | of which Redis | idle CPU ms per second |',
  );
  log('|---|---:|---:|---:|---:|---:|---:|');
  const rows: [string, LatencyResult | undefined][] = [
    ...KINDS.map((kind): [string, LatencyResult | undefined] => [NAMES[kind], latency[kind]]),
    ['Tabmesh, two instances over Redis, pair on one instance', cluster.same],
    ['Tabmesh, two instances over Redis, pair across instances', cluster.cross],
  ];
  const floor = latency.floor;
  for (const [label, r] of rows) {
    if (r === undefined) continue;
    log(
      `| ${label} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.lost)} | ${fmt(r.cpuMicros, 1)}${floor === undefined ? '' : ` (${fmt(r.cpuMicros / floor.cpuMicros, 2)}×)`} | ${fmt(r.redisMicros, 1)} | ${fmt(r.idleMicrosPerSecond / 1000, 1)} |`,
    );
  }
  const single = latency.tabmesh;
  if (single !== undefined) {
    log(
      `Crossing instances adds ${fmt(cluster.cross.p50 - single.p50, 2)} ms at p50 and ${fmt(cluster.cross.p99 - single.p99, 2)} ms at p99 over one instance without Redis, ` +
        `and ${fmt(cluster.cross.cpuMicros - single.cpuMicros, 1)} µs of CPU per message (instances and Redis; ${fmt(cluster.cross.cpuMicros / single.cpuMicros, 2)}×); ` +
        `a pair on one instance of the two costs ${fmt(cluster.same.cpuMicros / single.cpuMicros, 2)}× the CPU of one instance alone.`,
    );
  }
  log(`(headroom section: ${fmt((performance.now() - started) / 1000)} s)`);
}
