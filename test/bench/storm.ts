/**
 * Reconnect storm (`BENCH_SKIP=storm` to skip, issue 18): `clients`
 * registered clients on one server, the server killed (SIGKILL, as a crash:
 * no goaway) and started again on the same port. Every client comes back on
 * the browser node's own schedule (web/signaling-client.ts:
 * reconnectDelayMs, full jitter over a doubling ceiling, reset by a
 * welcome) and retries whatever refuses it, forever: none is given up on.
 * Meanwhile honest pairs, back first, relay at a fixed rate.
 *
 * Reported: the restart, the time until every client is registered again
 * beside the bound its backoff sets, the attempts refused and why, honest
 * relay p50/p99 during the storm beside the same pairs before it, and the
 * server's RSS: idle with every client registered, its peak during the
 * storm, and after GC once idle again.
 *
 * The clients are the raw-socket load generator (raw-client.ts), connecting
 * from many loopback addresses (127.2.x.y), so the server's per-address caps
 * stay at the product's defaults, as they would be for clients in the field.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../../signaling-server/defaults.js';
import { reconnectDelayMs, SIGNALING_BACKOFF_BASE_MS, SIGNALING_BACKOFF_MAX_MS } from '../../web/signaling-client.js';
import { connect, makeCredentials, type Credentials, type LoadClient } from './load.js';
import { rawAdmit } from './raw-client.js';
import { spawnServer, type ServerProcess } from './server-process.js';

export interface StormSettings {
  /** Registered clients that reconnect (BENCH_STORM_CLIENTS). */
  readonly clients: number;
}

type Log = (line: string) => void;

/**
 * Clients sharing one loopback address: half the per-address cap
 * (DEFAULTS.maxConnectionsPerIp, 64), say an office behind one NAT; a client
 * whose old socket the server has not yet seen close still fits.
 */
const CLIENTS_PER_ADDRESS = 32;
/**
 * How long an attempt may take before the client drops it and backs off:
 * a browser's own limit on a WebSocket's opening handshake (Firefox's
 * network.websocket.timeout.open, 20 s); the node sets none of its own.
 */
const OPEN_TIMEOUT_MS = 20_000;
/** Handshakes in flight while the clients first register (as the admission bench). */
const ADMIT_CONCURRENCY = 200;
/** Honest pairs relaying through the storm, from 127.0.0.1 (within its per-address cap). */
const HONEST_PAIRS = 20;
/** Their messages per second, all pairs together: 10 per sender, under the per-connection rate (20/s). */
const HONEST_RATE = 200;
/** How often the honest senders wake to send what is due. */
const SEND_TICK_MS = 5;
/** How long the honest pairs relay before the kill, for the baseline latency. */
const BASELINE_MS = 3_000;
/** After the last honest send, how long stragglers are waited for before they count as lost. */
const DRAIN_MS = 2_000;
/** Quiet before the idle RSS is read again after the storm: timers and sockets settle. */
const SETTLE_MS = 2_000;
/** The bench stops waiting (and says how many never came back) after this; the clients never give up. */
const STORM_TIMEOUT_MS = 300_000;
/** The error of an attempt that found nothing listening: the server was down. */
const NOBODY_LISTENING = 'ECONNREFUSED';
/** Characters in each honest payload (an ICE candidate with its signature is about this size). */
const PAYLOAD_CHARS = 256;

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

/** The loopback address client `i` connects from. */
function localAddress(i: number): string {
  const a = Math.floor(i / CLIENTS_PER_ADDRESS);
  return `127.2.${Math.floor(a / 250)}.${(a % 250) + 1}`;
}

/** Why an attempt failed, from rawAdmit's error: the refusal's status line or code, or the socket's error code. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const status = /HTTP\/1\.1 (\d+ [^\r\n]*)/.exec(message);
  if (status?.[1] !== undefined) return `HTTP ${status[1]}`;
  return message;
}

/** One storm client: registered, then lost with the server, then back on the node's backoff schedule. */
class StormClient {
  /** Failed attempts since the last welcome (the node's `attempt`). */
  private attempt = 0;
  /** Most failed attempts in a row this client saw. */
  maxAttempt = 0;
  socket: Socket | undefined;
  registeredAt: number | undefined;
  /** Set when the bench is done with it: no more attempts. */
  private closed = false;

  constructor(
    private readonly credentials: Credentials,
    private readonly address: string,
    private readonly port: number,
    private readonly failed: (reason: string) => void,
    private readonly registered: () => void,
  ) {}

  /** Register once, as the bench first fills the server (no backoff: it is not a storm yet). */
  async admit(): Promise<void> {
    this.socket = await rawAdmit('tabmesh', this.port, this.credentials, 'bench', { localAddress: this.address });
    this.socket.once('close', () => this.lost());
  }

  /** The socket closed: as the node's onclose, schedule the next attempt. */
  private lost(): void {
    if (this.closed) return;
    this.socket = undefined;
    this.registeredAt = undefined;
    const delay = reconnectDelayMs(this.attempt, Math.random);
    this.attempt++;
    this.maxAttempt = Math.max(this.maxAttempt, this.attempt);
    setTimeout(() => void this.connect(), delay);
  }

  private async connect(): Promise<void> {
    let socket: Socket;
    try {
      socket = await rawAdmit('tabmesh', this.port, this.credentials, 'bench', {
        localAddress: this.address,
        timeoutMs: OPEN_TIMEOUT_MS,
      });
    } catch (error) {
      if (this.closed) return;
      this.failed(reason(error));
      this.lost();
      return;
    }
    // The welcome resets the backoff, as in the node.
    this.attempt = 0;
    this.socket = socket;
    this.registeredAt = performance.now();
    socket.once('close', () => this.lost());
    this.registered();
  }

  close(): void {
    this.closed = true;
    this.socket?.removeAllListeners('close');
    this.socket?.destroy();
  }
}

/** Honest pairs relaying at a fixed rate until stopped: each payload carries its send time. */
function relayAtRate(pairs: readonly (readonly [LoadClient, LoadClient])[], rate: number) {
  const latencies: number[] = [];
  const pad = 'x'.repeat(PAYLOAD_CHARS);
  for (const [, receiver] of pairs) {
    receiver.onSignal = (_from, payload) => {
      latencies.push(performance.now() - Number(payload.slice(0, payload.indexOf('|'))));
    };
  }
  const start = performance.now();
  let sent = 0;
  const ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; sent < due; sent++) {
      const pair = pairs[sent % pairs.length];
      if (pair === undefined) continue;
      const stamp = `${performance.now().toFixed(3)}|`;
      pair[0].send(pair[1].id, stamp + pad.slice(stamp.length));
    }
  }, SEND_TICK_MS);
  return {
    async stop(): Promise<{ p50: number; p99: number; max: number; sent: number; lost: number }> {
      clearInterval(ticker);
      await sleep(DRAIN_MS);
      const sorted = [...latencies].sort((x, y) => x - y);
      return {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted[sorted.length - 1] ?? NaN,
        sent,
        lost: sent - latencies.length,
      };
    },
  };
}

/** One honest client, retried on the node's backoff until it is registered (the server may refuse it mid-storm). */
async function honestClient(port: number, credentials: Credentials): Promise<LoadClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect('tabmesh', port, credentials, 'bench');
    } catch {
      await sleep(reconnectDelayMs(attempt, Math.random));
    }
  }
}

async function honestPairs(port: number, credentials: readonly Credentials[]) {
  const clients = await Promise.all(credentials.map((c) => honestClient(port, c)));
  const pairs: [LoadClient, LoadClient][] = [];
  for (let i = 0; i + 1 < clients.length; i += 2) {
    const a = clients[i];
    const b = clients[i + 1];
    if (a !== undefined && b !== undefined) pairs.push([a, b]);
  }
  return { clients, pairs };
}

export async function stormBench(log: Log, settings: StormSettings): Promise<void> {
  const n = settings.clients;
  log(
    `\n## Reconnect storm: ${fmt(n)} registered clients, the server killed and restarted on its port; the node's backoff (base ${fmt(SIGNALING_BACKOFF_BASE_MS)} ms, ceiling ${fmt(SIGNALING_BACKOFF_MAX_MS)} ms, full jitter)`,
  );
  // The product's admission limits, but room for every client and the honest pairs (DEFAULTS.maxPeers is 10,000).
  const options = {
    rate: DEFAULTS.rate,
    burst: DEFAULTS.burst,
    maxConnectionsPerIp: DEFAULTS.maxConnectionsPerIp,
    maxSocketsPerIp: DEFAULTS.maxSocketsPerIp,
    registrationTimeoutMs: DEFAULTS.registrationTimeoutMs,
    maxPeers: Math.max(DEFAULTS.maxPeers, n + 2 * HONEST_PAIRS),
  };
  const credentials = await makeCredentials(n + 2 * HONEST_PAIRS, 'bench');
  const honestCredentials = credentials.slice(n);
  let server: ServerProcess = await spawnServer('tabmesh', undefined, undefined, options);
  const port = server.port;
  /** Failed attempts by what failed them (after the kill; the first registration is not retried). */
  const failures = new Map<string, number>();
  let back = 0;
  let allBack: (() => void) | undefined;
  const clients = credentials.slice(0, n).map(
    (c, i) =>
      new StormClient(
        c,
        localAddress(i),
        port,
        (why) => {
          failures.set(why, (failures.get(why) ?? 0) + 1);
        },
        () => {
          back++;
          if (back === n) allBack?.();
        },
      ),
  );
  try {
    const empty = await server.rss();
    // Fill the server: every client registered once.
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: ADMIT_CONCURRENCY }, async () => {
        for (let i = next++; i < n; i = next++) await clients[i]?.admit();
      }),
    );
    const fillSeconds = (performance.now() - t0) / 1000;
    const admissionRate = n / fillSeconds;
    const before = await honestPairs(port, honestCredentials);
    const baselineRun = relayAtRate(before.pairs, HONEST_RATE);
    await sleep(BASELINE_MS);
    const baseline = await baselineRun.stop();
    const idle = await server.rss();
    const idleHeap = await server.heapBytes();

    // The crash and the restart.
    const killedAt = performance.now();
    await server.kill();
    before.clients.forEach((c) => c.close());
    const stormDone = new Promise<boolean>((resolve) => {
      allBack = () => resolve(true);
      setTimeout(() => resolve(false), STORM_TIMEOUT_MS);
    });
    server = await spawnServer('tabmesh', undefined, undefined, { ...options, port });
    const upAt = performance.now();
    const attemptsWhenUp = Math.max(...clients.map((c) => c.maxAttempt));
    // The honest pairs are back first (a storm client may beat them), then relay through the storm.
    const during = await honestPairs(port, honestCredentials);
    const stormRun = relayAtRate(during.pairs, HONEST_RATE);
    const complete = await stormDone;
    const doneAt = performance.now();
    const storm = await stormRun.stop();
    const peak = await server.peakRss();
    await sleep(SETTLE_MS);
    const after = await server.rss();
    const afterHeap = await server.heapBytes();
    during.clients.forEach((c) => c.close());

    const backTimes = clients
      .map((c) => (c.registeredAt === undefined ? NaN : c.registeredAt - killedAt))
      .filter((t) => !Number.isNaN(t))
      .sort((x, y) => x - y);
    const restartMs = upAt - killedAt;
    // By what failed, not when the failure was seen (a busy load generator sees some late): nobody
    // listening (ECONNREFUSED: the server was down), or a running server that refused or dropped the attempt.
    const all = new Map(failures);
    const refusedDown = all.get(NOBODY_LISTENING) ?? 0;
    all.delete(NOBODY_LISTENING);
    const refusedUp = [...all.values()].reduce((x, y) => x + y, 0);
    // The bound: the restart, the longest wait a client can be in when the server comes back (the ceiling
    // after the most failed attempts any client made while it was down), and the server's admission time
    // for everyone, as measured filling it.
    const ceilingMs = Math.min(SIGNALING_BACKOFF_MAX_MS, SIGNALING_BACKOFF_BASE_MS * 2 ** attemptsWhenUp);
    const boundMs = restartMs + ceilingMs + (n / admissionRate) * 1000;
    const maxAttempt = Math.max(...clients.map((c) => c.maxAttempt));

    log('| figure | value |');
    log('|---|---:|');
    log(
      `| first registration of all (${ADMIT_CONCURRENCY} in flight) | ${fmt(fillSeconds, 2)} s (${fmt(admissionRate)}/s) |`,
    );
    log(`| restart (kill to listening again) | ${fmt(restartMs)} ms |`);
    log(
      `| all ${fmt(n)} registered again, from the kill | ${complete ? `${fmt(doneAt - killedAt)} ms` : `NOT within ${fmt(STORM_TIMEOUT_MS / 1000)} s: ${fmt(n - back)} missing`} |`,
    );
    log(
      `| bound: restart + backoff ceiling after ${attemptsWhenUp} failed attempts (${fmt(ceilingMs)} ms) + ${fmt(n)} / admission rate | ${fmt(boundMs)} ms (${complete && doneAt - killedAt <= boundMs ? 'met' : 'NOT met'}) |`,
    );
    log(
      `| registered again, from the kill: p50 / p90 / p99 | ${fmt(quantile(backTimes, 0.5))} / ${fmt(quantile(backTimes, 0.9))} / ${fmt(quantile(backTimes, 0.99))} ms |`,
    );
    log(`| attempts that found no server listening (${NOBODY_LISTENING}) | ${fmt(refusedDown)} |`);
    log(
      `| attempts a running server refused or dropped (retried on the backoff) | ${fmt(refusedUp)} (${describe(all)}) |`,
    );
    log(`| most failed attempts in a row (one client) | ${maxAttempt} |`);
    log(`| clients given up on | 0 (they retry forever; ${fmt(n - back)} not back when the bench stopped waiting) |`);
    log(
      `| honest relay before the kill, p50 / p99 (${HONEST_PAIRS} pairs, ${HONEST_RATE}/s) | ${fmt(baseline.p50, 2)} / ${fmt(baseline.p99, 2)} ms (lost ${fmt(baseline.lost)} of ${fmt(baseline.sent)}) |`,
    );
    log(
      `| honest relay during the storm, p50 / p99 / max | ${fmt(storm.p50, 2)} / ${fmt(storm.p99, 2)} / ${fmt(storm.max, 1)} ms (lost ${fmt(storm.lost)} of ${fmt(storm.sent)}) |`,
    );
    log(
      `| server RSS after GC: empty / ${fmt(n)} registered, before the kill | ${fmt(empty / MiB, 1)} / ${fmt(idle / MiB, 1)} MiB |`,
    );
    log(`| server RSS peak during the storm (new process, no GC forced) | ${fmt(peak / MiB, 1)} MiB |`);
    log(
      `| server RSS after GC, idle again after the storm | ${fmt(after / MiB, 1)} MiB (${fmt(after / idle, 2)}× the idle figure before) |`,
    );
    log(
      `| server heap and Buffers after GC, before the kill / idle again after the storm | ${fmt(idleHeap / MiB, 1)} / ${fmt(afterHeap / MiB, 1)} MiB (${fmt(afterHeap / idleHeap, 2)}×) |`,
    );
  } finally {
    clients.forEach((c) => c.close());
    await server.stop();
  }
}

function describe(counts: ReadonlyMap<string, number>): string {
  if (counts.size === 0) return 'none';
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([why, count]) => `${why}: ${fmt(count)}`)
    .join(', ');
}
