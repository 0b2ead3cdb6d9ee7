import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import { parseCli, UsageError } from '../../signaling-server/config.js';
import { DEFAULTS } from '../../signaling-server/defaults.js';
import { joined } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';

describe('CLI options', () => {
  it('reads flags, falls back to environment variables, and flags win', () => {
    const config = parseCli(
      ['--port', '9000', '--origins', 'self, https://a.example', '--rate', '2.5', '--trust-proxy', '--no-static'],
      { HOST: '0.0.0.0', PORT: '1', TABMESH_MAX_PEERS: '500', LOG_LEVEL: 'warn' },
    );
    expect(config.options).toEqual({
      port: 9000,
      host: '0.0.0.0',
      origins: ['self', 'https://a.example'],
      maxPeers: 500,
      rate: 2.5,
      trustProxy: true,
      staticDir: null,
    });
    expect(config.logLevel).toBe('warn');
  });

  it('reads the budgets, reply credit, header timeout, public origin and metrics settings', () => {
    const config = parseCli(
      [
        '--public-origin',
        'https://mesh.example',
        '--max-sockets-per-ip',
        '100',
        '--headers-timeout-ms',
        '5000',
        '--max-buffered-bytes',
        '524288',
        '--max-buffered-per-sender',
        '32768',
        '--send-budget-bytes',
        '786432',
        '--reply-credit',
        '0',
        '--reply-credit-peers',
        '16',
        '--reply-credit-ttl-ms',
        '10000',
        '--metrics-port',
        '9464',
        '--metrics-host',
        '127.0.0.2',
      ],
      { TABMESH_METRICS_TOKEN: 'a-token-of-sixteen+' },
    );
    expect(config.options).toEqual({
      publicOrigin: 'https://mesh.example',
      maxSocketsPerIp: 100,
      headersTimeoutMs: 5000,
      maxBufferedBytes: 524288,
      maxBufferedPerSender: 32768,
      sendBudgetBytes: 786432,
      replyCreditPerPeer: 0,
      replyCreditPeers: 16,
      replyCreditTtlMs: 10000,
      metricsToken: 'a-token-of-sixteen+',
      metricsPort: 9464,
      metricsHost: '127.0.0.2',
    });
  });

  it('gives no options when nothing is set, so every default applies', () => {
    expect(parseCli([], {}).options).toEqual({});
    expect(DEFAULTS.port).toBe(8787);
  });

  it.each([
    [['--port', 'eighty']],
    [['--port', '70000']],
    [['--max-peers', '0']],
    [['--rate', '-1']],
    [['--origins', 'ftp://x']],
    [['--sample-size', '33']],
    [['--log-level', 'loud']],
    [['--public-origin', 'mesh.example']],
    [['--send-budget-bytes', '1000', '--max-buffered-bytes', '2000']],
    [['--send-budget-bytes', '1000']],
    [['--metrics-token', 'short']],
    [['--metrics-port', '70000']],
    [['--reply-credit-peers', '0']],
    [['--max-sockets-per-ip', '0']],
    [['--unknown']],
    [['positional']],
  ])('refuses %j with a usage error', (argv) => {
    expect(() => parseCli(argv, {})).toThrow(UsageError);
  });
});

/** Run the real CLI; resolve with the child and the first log line it prints. */
async function startCli(
  args: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; listening: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'signaling-server/cli.ts', ...args], {
    cwd: new URL('../..', import.meta.url),
  });
  const lines = createInterface({ input: child.stdout });
  const listening = await withTimeout(
    new Promise<Record<string, unknown>>((resolve) => {
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry['msg'] === 'listening') resolve(entry);
      });
    }),
    20_000,
    'the CLI to listen',
  );
  return { child, listening };
}

describe('tabmesh-signal', () => {
  it('serves, logs one-line JSON, and on SIGTERM tells clients, closes them and exits 0', async () => {
    const { child, listening } = await startCli(['--port', '0', '--no-static', '--shutdown-grace-ms', '3000']);
    expect(listening).toMatchObject({ level: 30, service: 'tabmesh-signal', host: '127.0.0.1' });
    const ws = String(listening['ws']);
    const alice = await joined(ws);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await alice.client.next('goaway')).toMatchObject({ reason: ErrorCode.SHUTTING_DOWN });
    expect((await alice.client.closed).code).toBe(CloseCode.GOING_AWAY);
    expect(await withTimeout(exited, 5000, 'the CLI to exit')).toBe(0);
  });

  it('exits 2 with usage on a bad flag', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling-server/cli.ts', '--port', 'x'], {
      cwd: new URL('../..', import.meta.url),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await withTimeout(new Promise((resolve) => child.once('exit', resolve)), 20_000, 'exit');
    expect(code).toBe(2);
    expect(stderr).toContain('--port must be a whole number');
    expect(stderr).toContain('Usage: tabmesh-signal');
  });
});
