/** A benchmark server in a child process, with its CPU and memory read over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Kind } from './load.js';

export interface ServerProcess {
  readonly port: number;
  cpuMicros(): Promise<number>;
  rss(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * `ed25519` picks the server's backend (see server-child.ts); default: the
 * product's. `redis` joins a Tabmesh server to others over that Redis URL.
 */
export async function spawnServer(kind: Kind, ed25519?: string, redis?: string): Promise<ServerProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./server-child.ts', import.meta.url)), [kind], {
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
    },
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
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send({ cmd: 'exit' });
      }),
  };
}
