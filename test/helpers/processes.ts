/**
 * Real servers in child processes for tests: redis-server (Debian's
 * `redis-server` package), a `tabmesh-signal` instance and coturn, each on a
 * free loopback port with a temporary directory (or, the last two, on an
 * address of a NAT lab's, started through a {@link Spawner} that runs them
 * in its namespace), waited for by their own output and stopped afterwards.
 * A missing binary fails with a message naming the package; nothing is
 * skipped.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { withTimeout } from './events.js';

const START_MS = 10_000;
const STOP_MS = 5_000;

/** Starts a child process: Node's `spawn`, or one that runs it elsewhere (a lab's namespace: `Lab.spawn`). */
export type Spawner = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

const spawnHere: Spawner = (command, args, options) => spawn(command, args, options);

/** The binary's path, or a thrown error saying which Debian package to install. */
export function requireBinary(name: string, debianPackage: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0 || found.stdout.trim() === '') {
    throw new Error(
      `These tests need '${name}' and it is not installed: run \`apt-get install -y ${debianPackage}\` ` +
        '(.ci/run does this on a fresh machine).',
    );
  }
  return found.stdout.trim();
}

/** Whether process `pid` exists (EPERM: it does, only not ours to signal). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A free TCP port on loopback (the OS picks it; a tiny race with other processes is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** How much of the start and of the end of a child's stderr an early-exit error quotes. */
const STDERR_QUOTE_CHARS = 1_000;

/**
 * Every line a child prints (on stdout, or the stream given), kept, and waits
 * for one that matches (including lines already printed).
 */
export class Lines {
  private readonly seen: string[] = [];
  private readonly waiters = new Set<(line: string) => void>();
  private exitCode: number | null | undefined;
  /** The child's stderr when it is piped and not the stream watched, shown (its start and end) if it exits early. */
  private stderrText = '';
  private stderrCut = false;

  constructor(
    private readonly child: ChildProcess,
    stream: Readable | null = child.stdout,
  ) {
    if (stream === null) throw new Error('child has no such output stream (spawn it with stdio "pipe")');
    const stderr = child.stderr;
    if (stderr !== null && stderr !== stream)
      stderr.on('data', (chunk: Buffer) => {
        process.stderr.write(chunk);
        this.stderrText += chunk.toString();
        if (this.stderrText.length > 2 * STDERR_QUOTE_CHARS) {
          this.stderrText = this.stderrText.slice(0, STDERR_QUOTE_CHARS) + this.stderrText.slice(-STDERR_QUOTE_CHARS);
          this.stderrCut = true;
        }
      });
    createInterface({ input: stream }).on('line', (line) => {
      this.seen.push(line);
      for (const waiter of this.waiters) waiter(line);
    });
    child.once('exit', (code) => {
      this.exitCode = code;
      for (const waiter of this.waiters) waiter('');
    });
  }

  wait(pattern: RegExp, what: string, ms = START_MS): Promise<string> {
    const earlier = this.seen.find((line) => pattern.test(line));
    if (earlier !== undefined) return Promise.resolve(earlier);
    let waiter: ((line: string) => void) | undefined;
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        waiter = (line) => {
          if (pattern.test(line)) resolve(line);
          else if (this.exitCode !== undefined)
            reject(
              new Error(
                `${what}: the process exited (${String(this.exitCode)})` +
                  (this.stderrText === '' ? '' : `; its stderr:\n${this.stderrQuote()}`),
              ),
            );
        };
        this.waiters.add(waiter);
      }),
      ms,
      what,
    ).finally(() => {
      if (waiter !== undefined) this.waiters.delete(waiter);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private stderrQuote(): string {
    if (!this.stderrCut) return this.stderrText;
    return `${this.stderrText.slice(0, STDERR_QUOTE_CHARS)}\n[…]\n${this.stderrText.slice(STDERR_QUOTE_CHARS)}`;
  }

  /** The last `count` lines printed, for a failure's message. */
  last(count: number): string[] {
    return this.seen.slice(-count);
  }
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export class RedisProcess {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tabmesh-redis-'));

  private constructor(
    private readonly binary: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(requireBinary('redis-server', 'redis-server'), await freePort());
    await redis.restart();
    return redis;
  }

  /** Start (again) on the same port, empty: no persistence, as after a crash without a dump. */
  async restart(): Promise<void> {
    const child = spawn(
      this.binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--loglevel',
        'notice',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.child = child;
    await new Lines(child).wait(/Ready to accept connections/, `redis-server on port ${this.port}`);
  }

  /** Stop it the hard way (SIGKILL): clients see their connections drop. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await withTimeout(exited(child), STOP_MS, 'redis-server to exit');
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * `tabmesh-signal` in its own process, so it can be killed: from source
 * through tsx on a free loopback port ({@link SignalProcess.start}), or the
 * built CLI as `npm start` runs it ({@link SignalProcess.startBuilt}).
 */
export class SignalProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Lines,
    readonly host: string,
    readonly port: number,
    /** The STUN responder's UDP port, on `host`; undefined with --no-stun. */
    readonly stunPort: number | undefined,
  ) {}

  get wsUrl(): string {
    return `ws://${this.host}:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** From source (tsx), on a free loopback port, serving no page, with `args` besides. */
  static start(args: readonly string[]): Promise<SignalProcess> {
    return SignalProcess.launch(
      ['--import', 'tsx', 'signaling-server/cli.ts', '--port', '0', '--no-static', '--log-level', 'info', ...args],
      spawnHere,
    );
  }

  /**
   * The built CLI, dist/signaling-server/cli.js (compiled by the test global
   * setup, test/helpers/build-page.ts), serving the built page from dist/web
   * as `npm start` does; `args` say where it listens. `spawner` may run it in
   * a lab's namespace.
   */
  static startBuilt(args: readonly string[], spawner: Spawner = spawnHere): Promise<SignalProcess> {
    return SignalProcess.launch(['dist/signaling-server/cli.js', '--log-level', 'info', ...args], spawner);
  }

  private static async launch(argv: readonly string[], spawner: Spawner): Promise<SignalProcess> {
    const child = spawner(process.execPath, argv, {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = new Lines(child);
    const line = await lines.wait(/"msg":"listening"/, 'tabmesh-signal to listen');
    const { host, port, stunPort } = JSON.parse(line) as { host?: unknown; port?: unknown; stunPort?: unknown };
    if (typeof port !== 'number' || typeof host !== 'string')
      throw new Error(`tabmesh-signal logged no address: ${line}`);
    return new SignalProcess(child, lines, host, port, typeof stunPort === 'number' ? stunPort : undefined);
  }

  /** A log line matching `pattern`, printed already or within `ms`. */
  logLine(pattern: RegExp, what: string, ms?: number): Promise<string> {
    return this.lines.wait(pattern, what, ms);
  }

  /** Die at once, as a crashed machine would: no goodbye to Redis or to clients' sockets beyond the TCP reset. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await withTimeout(exited(this.child), STOP_MS, 'tabmesh-signal to exit');
  }

  /** SIGTERM: it tells its clients (goaway), closes them and exits; resolves once it has. */
  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await withTimeout(exited(this.child), STOP_MS, 'tabmesh-signal to exit');
  }
}

/** Where coturn listens and relays, and how it is started. */
export interface TurnOptions {
  /** Its listening and relay address; default 127.0.0.1 (then relaying between loopback addresses is allowed). */
  readonly ip?: string;
  /** Its UDP port; default a free one on loopback. */
  readonly port?: number;
  /** How to start it; a lab's `spawn` runs it in a namespace. Default: here. */
  readonly spawn?: Spawner;
}

/**
 * coturn's `turnserver` (Debian's `coturn` package) in shared-secret mode
 * (`use-auth-secret`), UDP only, listening and relaying on one address: by
 * default a free port on 127.0.0.1, relaying between loopback addresses
 * (which production must never allow: `allow-loopback-peers`). Verbose, so
 * its log shows each allocation and each refusal.
 */
export class TurnProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Lines,
    private readonly dir: string,
    readonly ip: string,
    readonly port: number,
  ) {}

  /** The URL a browser is given. */
  get url(): string {
    return `turn:${this.ip}:${this.port}?transport=udp`;
  }

  static async start(secret: string, options: TurnOptions = {}): Promise<TurnProcess> {
    const binary = requireBinary('turnserver', 'coturn');
    const ip = options.ip ?? '127.0.0.1';
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-coturn-'));
    const child = (options.spawn ?? spawnHere)(
      binary,
      [
        '-n', // no configuration file: only these flags
        '--verbose',
        `--listening-ip=${ip}`,
        `--listening-port=${port}`,
        `--relay-ip=${ip}`,
        '--use-auth-secret',
        `--static-auth-secret=${secret}`,
        '--realm=tabmesh',
        '--no-tls',
        '--no-dtls',
        '--no-cli',
        ...(ip.startsWith('127.') ? ['--allow-loopback-peers'] : []),
        '--log-file=stdout',
        '--simple-log',
        `--pidfile=${join(dir, 'turnserver.pid')}`,
        `--userdb=${join(dir, 'turndb')}`,
      ],
      // Everything goes to stdout (--log-file=stdout); stderr has only probes
      // of protocols this machine lacks ("socket: Protocol not supported").
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const lines = new Lines(child);
    const listening = new RegExp(`UDP listener opened on: ${ip.replaceAll('.', '\\.')}:${port}`);
    await lines.wait(listening, `turnserver on ${ip}:${port}`);
    return new TurnProcess(child, lines, dir, ip, port);
  }

  /** A log line matching `pattern`, printed already or within `ms`. */
  logLine(pattern: RegExp, what: string, ms?: number): Promise<string> {
    return this.lines.wait(pattern, what, ms);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await withTimeout(exited(this.child), STOP_MS, 'turnserver to exit');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
