/**
 * The tabmesh-peer command as a real process. These cases end before the
 * node starts (usage, help, a metrics port in use), so no WebRTC runs; the
 * end-to-end cases with a server and tabs live beside the node's tests.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withTimeout } from '../helpers/events.js';

const ROOT = new URL('../..', import.meta.url);
const WS = 'ws://127.0.0.1:8787/ws';

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the CLI from source to its exit, with only the given environment variables set (besides PATH). */
async function runCli(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'web/nodejs/cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', resolve)),
    20_000,
    'tabmesh-peer to exit',
  );
  return { code, stdout, stderr };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('tabmesh-peer', () => {
  it('prints its usage with --help and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain('Usage: tabmesh-peer --signaling <ws-url> (--data-dir <folder> | --ephemeral)');
    for (const flag of ['--signaling', '--network', '--data-dir', '--ephemeral', '--max-connections', '--metrics-port'])
      expect(stdout).toContain(flag);
  });

  it('prints the package version with --version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string };
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout).toBe(`${pkg.version}\n`);
  });

  it.each<[string[], Record<string, string>, string]>([
    [['--signaling', WS], {}, '--data-dir is required'],
    [['--data-dir', 'seed'], {}, '--signaling is required'],
    [
      ['--ephemeral', '--max-connections', 'lots'],
      { TABMESH_SIGNALING: WS },
      "--max-connections must be a whole number, got 'lots'",
    ],
    [['--ephemeral'], { TABMESH_SIGNALING: 'http://a.example/' }, 'is not a ws:// or wss:// URL'],
    [['--ephemeral', '--signaling', WS], { TABMESH_METRICS_PORT: '70000' }, '--metrics-port must be 0..65535'],
    [['--ephemeral', '--signaling', WS, '--bogus'], {}, "Unknown option '--bogus'"],
  ])('exits 2 with the problem and the usage for %j %j', async (args, env, message) => {
    const { code, stdout, stderr } = await runCli(args, env);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`tabmesh-peer: `);
    expect(stderr).toContain(message);
    expect(stderr).toContain('Usage: tabmesh-peer');
  });

  it('fails to start with one fatal JSON line and exit 1 when its metrics port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const args = ['--ephemeral', '--signaling', WS, '--network', 'room1', '--metrics-port', String(port)];
      const { code, stdout, stderr } = await runCli(args);
      expect(code).toBe(1);
      expect(stderr).toBe('');
      const lines = jsonLines(stdout);
      expect(lines.map((line) => line['event'])).toEqual(['starting', 'fatal']);
      expect(lines[0]).toMatchObject({ service: 'tabmesh-peer', network: 'room1', dataDir: null, signaling: [WS] });
      expect(typeof lines[0]?.['version']).toBe('string');
      expect(lines[1]).toMatchObject({ level: 50, event: 'fatal', code: 'EADDRINUSE' });
      expect(String(lines[1]?.['message'])).toContain(String(port));
      expect(lines[1]).not.toHaveProperty('stack');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
