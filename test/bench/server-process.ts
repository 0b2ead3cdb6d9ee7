/** A benchmark server in a child process, with its CPU and memory read over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../helpers/events.js';
import type { Kind } from './load.js';

export interface ServerProcess {
  readonly port: number;
  cpuMicros(): Promise<number>;
  /** Resident memory after a forced garbage collection, in bytes. */
  rss(): Promise<number>;
  /** V8 heap in use plus memory outside it (Buffers) after a forced GC, in bytes: what is held, not what the allocator kept. */
  heapBytes(): Promise<number>;
  /** The most resident memory the process has had since it started, in bytes (no GC forced). */
  peakRss(): Promise<number>;
  /** Resolves once a Tabmesh server has logged `message` (info and up) `times` times: an event, not a sleep. */
  logged(message: string, times: number, ms: number): Promise<void>;
  stop(): Promise<void>;
  /** Kill the process at once (SIGKILL, as a crash would): no goaway, no close frames; resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * `ed25519` picks the server's backend (see server-child.ts); default: the
 * product's. `redis` joins a Tabmesh server to others over that Redis URL.
 * `options` are laid over the bench's (BENCH_SERVER_OPTIONS in server-child.ts).
 */
export async function spawnServer(
  kind: Kind,
  ed25519?: string,
  redis?: string,
  options?: Record<string, unknown>,
  /** Another checkout to run the server of (its test/bench/server-child.ts), to compare code: default this one. */
  root?: string,
): Promise<ServerProcess> {
  const script =
    root === undefined
      ? fileURLToPath(new URL('./server-child.ts', import.meta.url))
      : join(root, 'test', 'bench', 'server-child.ts');
  const child: ChildProcess = fork(script, [kind], {
    execArgv: [
      '--expose-gc',
      '--import',
      'tsx',
      ...(process.env['BENCH_PROFILE_DIR'] === undefined
        ? []
        : ['--cpu-prof', '--cpu-prof-interval=200', `--cpu-prof-dir=${process.env['BENCH_PROFILE_DIR']}`]),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      ...(ed25519 === undefined ? {} : { BENCH_ED25519: ed25519 }),
      ...(redis === undefined ? {} : { BENCH_REDIS: redis }),
      ...(options === undefined
        ? {}
        : {
            BENCH_SERVER_OPTIONS: JSON.stringify(options, (_key, value: unknown) =>
              value === Infinity ? 'Infinity' : value,
            ),
          }),
    },
  });
  const logs = new Map<string, number>();
  const logWaiters = new Set<() => void>();
  child.on('message', (message: { log?: unknown }) => {
    if (typeof message.log !== 'string') return;
    logs.set(message.log, (logs.get(message.log) ?? 0) + 1);
    for (const waiter of logWaiters) waiter();
  });
  const ask = <T>(message: object, key: string): Promise<T> =>
    new Promise((resolve) => {
      const listener = (reply: Record<string, unknown>): void => {
        if (key in reply) {
          child.off('message', listener);
          resolve(reply[key] as T);
        }
      };
      child.on('message', listener);
      if (Object.keys(message).length > 0) child.send(message);
    });
  const port = await ask<number>({}, 'port');
  return {
    port,
    cpuMicros: () => ask<number>({ cmd: 'cpu' }, 'cpuMicros'),
    rss: () => ask<number>({ cmd: 'mem' }, 'rss'),
    heapBytes: () => ask<number>({ cmd: 'heap' }, 'heapBytes'),
    peakRss: () => ask<number>({ cmd: 'peak' }, 'peakRss'),
    logged(message, times, ms) {
      let waiter: (() => void) | undefined;
      return withTimeout(
        new Promise<void>((resolve) => {
          waiter = () => {
            if ((logs.get(message) ?? 0) >= times) resolve();
          };
          logWaiters.add(waiter);
          waiter();
        }),
        ms,
        `the server to log '${message}' ${times} times`,
      ).finally(() => {
        if (waiter !== undefined) logWaiters.delete(waiter);
      });
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send({ cmd: 'exit' });
      }),
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
