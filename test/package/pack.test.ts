/**
 * The npm package as a stranger gets it: `npm pack`, then `npm install
 * <tarball>` in a fresh folder (from the registry for its dependencies), and
 * every entry point used from there: `tabmesh/server` mounted on an HTTP
 * server of the consumer's, `tabmesh/node` as a Node peer with a data
 * directory, the `tabmesh-signal` command, the declarations
 * (type-checked as a consumer's TypeScript would), and `tabmesh` bundled by
 * Vite into a page that connects two real Chromium tabs through the packed
 * server.
 *
 * `prepack` builds everything; here the package's own parts are built the
 * same way and the pack runs with --ignore-scripts, because rebuilding the
 * page (dist/web) would empty it under browser tests running beside this one.
 * The global setup has just built the page and widget from the same sources.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TabmeshNode } from '../../web/tabmesh.js';
import { launchChromium, newContext } from '../helpers/browser.js';
import { withTimeout } from '../helpers/events.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** npm install from the registry: generous, but bounded. */
const INSTALL_TIMEOUT_MS = 240_000;
const STEP_TIMEOUT_MS = 60_000;

let work: string;
let consumer: string;

async function npm(args: string[], cwd: string, timeout = STEP_TIMEOUT_MS): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

beforeAll(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'tabmesh-pack-'));
    consumer = join(work, 'consumer');
    const tools = join(REPO, 'node_modules', '.bin');
    await run(join(tools, 'tsc'), ['-p', 'signaling-server/tsconfig.build.json'], { cwd: REPO });
    await run(join(tools, 'vite'), ['build', '--mode', 'lib'], { cwd: REPO });
    await run(join(tools, 'tsc'), ['-p', 'web/tsconfig.build.json'], { cwd: REPO });
    await run(join(tools, 'tsc'), ['-p', 'web/nodejs/tsconfig.build.json'], { cwd: REPO });
    await npm(['pack', '--ignore-scripts', '--pack-destination', work], REPO);
    const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack made no tarball');
    await run('mkdir', [consumer]);
    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await npm(
      ['install', join(work, tarball), '--no-audit', '--no-fund', '--ignore-scripts=false', '--loglevel=error'],
      consumer,
      INSTALL_TIMEOUT_MS,
    );
  },
  INSTALL_TIMEOUT_MS + 4 * STEP_TIMEOUT_MS,
);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Start the installed `tabmesh-signal`; resolves with its URL from its 'listening' log line. */
async function startBin(args: string[]): Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(join(consumer, 'node_modules', '.bin', 'tabmesh-signal'), args, {
    cwd: consumer,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`tabmesh-signal exited with ${String(code)}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url !== undefined) resolve(entry.url);
      });
    }),
    STEP_TIMEOUT_MS,
    "tabmesh-signal's listening line",
  );
  return { url, child, exited };
}

describe('the packed npm package, installed in a fresh folder', () => {
  it('holds only what it needs', async () => {
    const listing = await npm(['ls', '--all', '--parseable'], consumer);
    expect(listing).toContain('node_modules/tabmesh');
    const files = (await run('find', ['node_modules/tabmesh', '-type', 'f'], { cwd: consumer })).stdout.split('\n');
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
    expect(files.some((f) => f.includes('/test/') || f.endsWith('.map'))).toBe(false);
    expect(files).toContain('node_modules/tabmesh/dist/web/widget.js');
    expect(files).toContain('node_modules/tabmesh/dist/node/web/nodejs/index.js');
  });

  it('tabmesh/server mounts on a server of the consumer and registers a WebSocket client', async () => {
    const script = `
      import { createServer } from 'node:http';
      import WebSocket from 'ws';
      import { createSignalingServer } from 'tabmesh/server';
      const app = createServer((req, res) => signaling.handleRequest(req, res));
      const signaling = createSignalingServer({ httpServer: app, staticDir: null, processMetrics: false }, {
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
      const base = 'http://127.0.0.1:' + app.address().port;
      const health = await (await fetch(base + '/healthz')).json();
      const socket = new WebSocket(base.replace('http', 'ws') + '/ws');
      // Frames are {v, t, ...} (docs/PROTOCOL.md); the first is the challenge.
      const first = await new Promise((resolve, reject) => {
        socket.once('message', (data) => resolve(JSON.parse(data.toString())));
        socket.once('error', reject);
      });
      socket.close();
      await signaling.close();
      app.close();
      console.log(JSON.stringify({ health: health.status, first: first.t }));
    `;
    await writeFile(join(consumer, 'server-check.mjs'), script);
    const { stdout } = await run(process.execPath, ['server-check.mjs'], { cwd: consumer, timeout: STEP_TIMEOUT_MS });
    expect(JSON.parse(stdout)).toEqual({ health: 'ok', first: 'challenge' });
  });

  it('tabmesh/node makes a Node peer with its identity in a data directory', async () => {
    // A stand-in transport: starting needs no WebRTC (the real one is exercised elsewhere).
    const script = `
      import { createNode } from 'tabmesh/node';
      import { readdirSync } from 'node:fs';
      const idle = () => ({ signal() {}, send: async () => {}, close() {} });
      const silent = { debug() {}, info() {}, warn() {}, error() {} };
      const refused = await createNode({}, { transport: idle }).catch((error) => error.code);
      const options = { signaling: ['ws://127.0.0.1:9/ws'], dataDir: './peer-data', logger: silent };
      const first = await createNode(options, { transport: idle });
      await first.close();
      const second = await createNode(options, { transport: idle });
      await second.close();
      console.log(JSON.stringify({
        refused, storage: second.status.storage, same: first.id === second.id, files: readdirSync('./peer-data').sort(),
      }));
    `;
    await writeFile(join(consumer, 'node-check.mjs'), script);
    const { stdout } = await run(process.execPath, ['node-check.mjs'], { cwd: consumer, timeout: STEP_TIMEOUT_MS });
    expect(JSON.parse(stdout)).toEqual({
      refused: 'BAD_FIELD',
      storage: 'file',
      same: true,
      files: ['identity.json', 'peers-lobby.json'],
    });
  });

  it("ships declarations a consumer's TypeScript accepts for all four entry points", async () => {
    await writeFile(
      join(consumer, 'check.ts'),
      `import { createNode, type TabmeshNode, type PeerId } from 'tabmesh';
       import { TabmeshPeerElement } from 'tabmesh/widget';
       import { createSignalingServer, type SignalingServer } from 'tabmesh/server';
       import { createNode as createNodePeer, type NodeJsOptions } from 'tabmesh/node';
       export const make: () => Promise<TabmeshNode> = () => createNode({ network: 'x', maxConnections: 3 });
       export const element: typeof TabmeshPeerElement = TabmeshPeerElement;
       export const server: SignalingServer = createSignalingServer({ port: 0 });
       export const id = (node: TabmeshNode): PeerId => node.id;
       const peerOptions: NodeJsOptions = { signaling: ['wss://example.org/ws'], dataDir: './data' };
       export const peer: () => Promise<TabmeshNode> = () => createNodePeer(peerOptions);
       // @ts-expect-error: a Node peer has no storage option (it has dataDir)
       void createNodePeer({ storage: 'memory' });
       // @ts-expect-error: not an option
       void createNode({ netwrk: 'x' });
      `,
    );
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules', '@types')],
        },
        files: ['check.ts'],
      }),
    );
    await run(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], {
      cwd: consumer,
      timeout: STEP_TIMEOUT_MS,
    }).catch((error: unknown) => {
      // tsc says what it refused on stdout.
      const stdout = (error as { stdout?: unknown }).stdout;
      throw new Error(`the consumer's tsc refused the declarations:\n${String(stdout)}`, { cause: error });
    });
  });

  it("tabmesh-signal serves a page Vite bundled from 'tabmesh', and two Chromium tabs exchange a message through it", async () => {
    await writeFile(
      join(consumer, 'index.html'),
      '<!doctype html><html><head><meta charset="utf-8" /><title>consumer</title></head><body>' +
        '<script type="module" src="./main.js"></script></body></html>',
    );
    // No `global` or `process` set up: the package must not need them.
    await writeFile(
      join(consumer, 'main.js'),
      `import { createNode } from 'tabmesh';
       window.nodeReady = createNode({ network: 'packed', storage: 'memory' });`,
    );
    await build({ root: consumer, configFile: false, logLevel: 'warn', build: { outDir: join(consumer, 'dist') } });
    const { url, child, exited } = await startBin([
      '--port',
      '0',
      '--static',
      join(consumer, 'dist'),
      '--log-level',
      'info',
    ]);
    let browser: Browser | undefined;
    try {
      const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string };
      expect(health.status).toBe('ok');
      browser = await launchChromium();
      const context = await newContext(browser);
      const [a, b] = await Promise.all([context.newPage(), context.newPage()]);
      await Promise.all([a.goto(url), b.goto(url)]);
      type W = { nodeReady: Promise<TabmeshNode> };
      const idB = await b.evaluate(async () => (await (window as unknown as W).nodeReady).id);
      const received = b.evaluate(async (ms) => {
        const node = await (window as unknown as W).nodeReady;
        return new Promise<string>((resolve, reject) => {
          node.addEventListener('message', (event) => resolve(String(event.detail.data)));
          setTimeout(() => reject(new Error(`no message after ${ms} ms`)), ms);
        });
      }, STEP_TIMEOUT_MS / 2);
      await a.evaluate(async (to) => {
        const node = await (window as unknown as W).nodeReady;
        await node.connect(to);
        await node.send(to, 'hello from the packed package');
      }, idB);
      expect(await received).toBe('hello from the packed package');
      await context.close();
    } finally {
      await browser?.close();
      child.kill('SIGTERM');
    }
    expect(await withTimeout(exited, STEP_TIMEOUT_MS, 'tabmesh-signal to exit')).toBe(0);
  });
});
