/**
 * What the server attacks of the adversary bench share: the real server in a
 * process of its own with the product's limits (the bench's other sections
 * raise them to measure cost), its metrics, and an honest pair whose signals
 * are timed while an attack goes on.
 */
import { createServer, connect, type Socket } from 'node:net';
import { DEFAULTS } from '../../../signaling-server/defaults.js';
import type { TestClient } from '../../helpers/client.js';
import { spawnServer, type ServerProcess } from '../server-process.js';

export const METRICS_TOKEN = 'adversary-bench-metrics-token';
export const MiB = 1024 * 1024;

/** The product's own limits, which server-child.ts otherwise raises for the throughput benches. */
const PRODUCT_LIMITS = {
  rate: DEFAULTS.rate,
  burst: DEFAULTS.burst,
  maxPeers: DEFAULTS.maxPeers,
  maxConnectionsPerIp: DEFAULTS.maxConnectionsPerIp,
  maxSocketsPerIp: DEFAULTS.maxSocketsPerIp,
  registrationTimeoutMs: DEFAULTS.registrationTimeoutMs,
};

export interface BenchServer {
  readonly process: ServerProcess;
  readonly wsUrl: string;
  /** A refusal counter from /metrics (tabmesh_refusals_total{reason}). */
  refusals(reason: string): Promise<number>;
  /** Any sample of /metrics, by its full name and labels as printed. */
  metric(line: string): Promise<number>;
}

/** The server with the product's limits and `overrides` (a defence switched off, or a test's sizes). */
export async function benchServer(overrides: Record<string, unknown> = {}): Promise<BenchServer> {
  const child = await spawnServer('tabmesh', undefined, undefined, {
    ...PRODUCT_LIMITS,
    metricsToken: METRICS_TOKEN,
    ...overrides,
  });
  const metric = async (line: string): Promise<number> => {
    const response = await fetch(`http://127.0.0.1:${child.port}/metrics`, {
      headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const text = await response.text();
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return found === undefined ? 0 : Number(found.slice(line.length + 1));
  };
  return {
    process: child,
    wsUrl: `ws://127.0.0.1:${child.port}/ws`,
    metric,
    refusals: (reason) => metric(`tabmesh_refusals_total{reason="${reason}"}`),
  };
}

/** The p-th percentile (0..100) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export interface HonestStream {
  /** Stop sending, wait `drainMs` for what is on its way, and report. */
  finish(drainMs: number): Promise<{ sent: number; delivered: number; busy: number; p99Ms: number }>;
}

/**
 * An honest sender signalling `to` every `intervalMs`, each signal stamped
 * with its send time; `receiver` (the client registered as `to`) notes
 * what arrives from `from` and when. Other messages are left alone.
 */
export function honestStream(
  sender: TestClient,
  from: string,
  receiver: TestClient,
  to: string,
  intervalMs: number,
  /** Payload sizes, in turn: a signed offer with its SDP is a few KB, a candidate a few hundred bytes. */
  sizes: readonly number[] = [64],
): HonestStream {
  const paddings = sizes.map((bytes) => 'p'.repeat(Math.max(0, bytes - 24)));
  let sent = 0;
  let busy = 0;
  const latencies: number[] = [];
  const onDelivery = (data: Buffer): void => {
    const text = data.toString('utf8');
    if (!text.includes(`"from":"${from}"`)) return;
    const stamp = /"payload":"honest (\d+) /.exec(text)?.[1];
    if (stamp !== undefined) latencies.push(Date.now() - Number(stamp));
  };
  const onReply = (data: Buffer): void => {
    if (data.toString('utf8').includes('RECIPIENT_BUSY')) busy++;
  };
  receiver.socket.on('message', onDelivery);
  sender.socket.on('message', onReply);
  const timer = setInterval(() => {
    sender.send({ type: 'signal', to, payload: `honest ${Date.now()} ${paddings[sent % paddings.length] ?? ''}` });
    sent++;
  }, intervalMs);
  return {
    async finish(drainMs) {
      clearInterval(timer);
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      receiver.socket.off('message', onDelivery);
      sender.socket.off('message', onReply);
      return { sent, delivered: latencies.length, busy, p99Ms: percentile(latencies, 99) };
    },
  };
}

export const ratio = (part: number, whole: number): string =>
  whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(0)}% (${part}/${whole})`;
export const ms = (value: number): string => (Number.isNaN(value) ? 'n/a' : `${value.toFixed(0)} ms`);

/**
 * A TCP proxy to the server on loopback whose server-to-client direction
 * carries at most `bytesPerSecond`: a tab on a slow link. What the link
 * cannot carry yet waits in the kernel's buffers and then in the server's,
 * as it would in the wild.
 */
export async function slowLink(port: number, bytesPerSecond: number): Promise<{ readonly url: string; close(): void }> {
  const TICK_MS = 10;
  const pairs: Socket[] = [];
  const proxy = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    pairs.push(client, upstream);
    upstream.pause();
    const pump = setInterval(() => {
      let allowance = (bytesPerSecond * TICK_MS) / 1000;
      while (allowance > 0) {
        const chunk = upstream.read(Math.min(allowance, upstream.readableLength || 1)) as Buffer | null;
        if (chunk === null) break;
        client.write(chunk);
        allowance -= chunk.length;
      }
    }, TICK_MS);
    client.pipe(upstream);
    const end = (): void => {
      clearInterval(pump);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${proxyPort}/ws`,
    close() {
      for (const socket of pairs) socket.destroy();
      proxy.close();
    },
  };
}
