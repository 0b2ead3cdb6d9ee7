/** Start a signaling server on port 0 for one test; close it afterwards. */
import {
  createSignalingServer,
  type SignalingServerDeps,
  type SignalingServerOptions,
} from '../../signaling-server/server.js';
import type { Logger } from '../../signaling-server/logger.js';
import { withTimeout } from './events.js';

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that counts each message (debug and up) and lets a test wait for the n-th of one: an event, not a sleep. */
export class WatchingLogger implements Logger {
  private readonly counts = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  debug(_fields: object, message: string): void {
    this.saw(message);
  }
  info(_fields: object, message: string): void {
    this.saw(message);
  }
  warn(_fields: object, message: string): void {
    this.saw(message);
  }
  error(_fields: object, message: string): void {
    this.saw(message);
  }

  count(message: string): number {
    return this.counts.get(message) ?? 0;
  }

  /** Resolves once `message` has been logged `times` times. */
  seen(message: string, times = 1, ms = 5000): Promise<void> {
    let waiter: (() => void) | undefined;
    return withTimeout(
      new Promise<void>((resolve) => {
        waiter = () => {
          if (this.count(message) >= times) resolve();
        };
        this.waiters.add(waiter);
        waiter();
      }),
      ms,
      `'${message}' logged ${times} times`,
    ).finally(() => {
      if (waiter !== undefined) this.waiters.delete(waiter);
    });
  }

  private saw(message: string): void {
    this.counts.set(message, this.count(message) + 1);
    for (const waiter of this.waiters) waiter();
  }
}

export interface TestServer {
  readonly server: ReturnType<typeof createSignalingServer>;
  readonly url: string;
  readonly wsUrl: string;
  /** With metricsPort: where /metrics is served. */
  readonly metricsUrl: string | undefined;
  /** With the STUN responder on: its UDP port, on 127.0.0.1. */
  readonly stunPort: number | undefined;
  close(): Promise<void>;
}

export async function startServer(
  options: SignalingServerOptions = {},
  deps: SignalingServerDeps = {},
): Promise<TestServer> {
  const server = createSignalingServer(
    { port: 0, host: '127.0.0.1', staticDir: null, processMetrics: false, shutdownGraceMs: 1000, ...options },
    { logger: silentLogger, ...deps },
  );
  const listening = await server.listen();
  // On every interface (for a browser in a network namespace: firefox.ts), this machine's own tabs come by loopback.
  const url = listening.url.replace('//0.0.0.0:', '//127.0.0.1:');
  const { metricsUrl, stunPort } = listening;
  return { server, url, wsUrl: `${url.replace('http', 'ws')}/ws`, metricsUrl, stunPort, close: () => server.close() };
}
