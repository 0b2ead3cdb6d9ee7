/**
 * Issue 15, items 4 and 5: what reaches the server before any WebSocket.
 * Half-open connections are capped per address and timed out; `self` in the
 * Origin allow-list never trusts the Host header (DNS rebinding); /metrics
 * is not public.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { TestClient, newIdentity, upgradeStatus } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
  await server.close();
});

/** A TCP connection that sends the start of an upgrade request (or nothing) and never finishes its headers. */
function halfOpen(port: number, silent = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      if (!silent) socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve(socket);
    });
    socket.once('error', reject);
    // Read whatever comes (a 408), or the end of the stream is never seen.
    socket.resume();
    sockets.push(socket);
  });
}

const closedSocket = (socket: Socket): Promise<void> =>
  socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));

describe('half-open connections', () => {
  it('caps TCP connections per address before any HTTP is read, and other addresses still register', async () => {
    server = await startServer({ maxSocketsPerIp: 5 });
    const port = Number(new URL(server.url).port);
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await halfOpen(port));
    // Over the cap: destroyed as accepted, long before any header timeout.
    const over = await Promise.all(Array.from({ length: 3 }, () => halfOpen(port)));
    await withTimeout(Promise.all(over.map(closedSocket)), 2000, 'the connections over the cap to be closed');
    expect(held.every((socket) => !socket.closed)).toBe(true);
    expect(await server.server.metrics.refusalCount(ErrorCode.TOO_MANY_CONNECTIONS)).toBe(3);
    // Another address (127.0.0.2 is loopback too) is not held up by them.
    const other = new TestClient(server.wsUrl, { localAddress: '127.0.0.2' });
    await other.answer(await newIdentity(), 'test');
    expect((await other.next('welcome')).type).toBe('welcome');
    other.close();
  });

  it('closes a connection that has not sent its headers within headersTimeoutMs', async () => {
    server = await startServer({ headersTimeoutMs: 300 });
    const port = Number(new URL(server.url).port);
    const [partial, silent] = await Promise.all([halfOpen(port), halfOpen(port, true)]);
    let response = '';
    partial.on('data', (chunk: Buffer) => (response += chunk.toString()));
    await withTimeout(Promise.all([partial, silent].map(closedSocket)), 3000, 'the half-open connections to be closed');
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    expect(await server.server.metrics.refusalCount(ErrorCode.REQUEST_TIMEOUT)).toBe(2);
  });
});

describe("the Origin allow-list's `self`", () => {
  it('refuses a page on a rebound name whose Host header names that page (DNS rebinding to loopback)', async () => {
    server = await startServer({ origins: ['self'] });
    const port = new URL(server.url).port;
    const rebound = { Origin: `http://attacker.example:${port}`, Host: `attacker.example:${port}` };
    expect(await upgradeStatus(server.wsUrl, rebound)).toBe(403);
    // The server's own loopback origin is `self` while it listens on loopback.
    expect(await upgradeStatus(server.wsUrl, { Origin: `http://localhost:${port}` })).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { Origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { Origin: `http://127.0.0.1:1` })).toBe(403);
  });

  it('means the configured public origin, whatever Host says', async () => {
    server = await startServer({ origins: ['self'], publicOrigin: 'https://Mesh.example:443/' });
    const port = new URL(server.url).port;
    expect(await upgradeStatus(server.wsUrl, { Origin: 'https://mesh.example' })).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { Origin: 'https://other.example', Host: 'other.example' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { Origin: `http://127.0.0.1:${port}` })).toBe(403);
  });
});

describe('/metrics', () => {
  it('is not served on the public port by default', async () => {
    server = await startServer();
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('needs the bearer token when one is set', async () => {
    const token = 'metrics-token-0123456789';
    server = await startServer({ metricsToken: token });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${server.url}/metrics`, { headers: { Authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('tabmesh_connections');
  });

  it('is served on a listener of its own with metricsPort, and only there', async () => {
    server = await startServer({ metricsPort: 0 });
    const metricsUrl = server.metricsUrl ?? '';
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(await (await fetch(metricsUrl)).text()).toContain('tabmesh_connections');
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(metricsUrl.replace('/metrics', '/ws'))).status).toBe(404);
  });
});
