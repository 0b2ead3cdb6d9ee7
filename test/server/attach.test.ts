/**
 * createSignalingServer mounted on an HTTP server of the application's own
 * (the `httpServer` option): its WebSocket path works, the application's
 * routes and other upgrade listeners keep theirs, and close() leaves the
 * application's server open.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createSignalingServer, type SignalingServer } from '../../signaling-server/server.js';
import { joined } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';
import { silentLogger } from '../helpers/server.js';

let app: Server;
let signaling: SignalingServer;

afterEach(async () => {
  await signaling.close();
  app.closeAllConnections();
  await new Promise<void>((resolve) => app.close(() => resolve()));
});

function appServer(): Server {
  return createServer((request, response) => {
    if (request.url === '/hello') {
      response.end('hello from the app');
      return;
    }
    signaling.handleRequest(request, response);
  });
}

async function listening(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('mounted on an HTTP server of your own', () => {
  it('registers tabs on its path, serves /healthz through handleRequest, and leaves the app its routes and its server', async () => {
    app = appServer();
    signaling = createSignalingServer(
      { httpServer: app, staticDir: null, processMetrics: false, shutdownGraceMs: 500 },
      { logger: silentLogger },
    );
    const host = await listening(app);
    // listen() on a listening server only reports where it is.
    expect((await signaling.listen()).url).toBe(`http://${host}`);
    const { welcome, client } = await joined(`ws://${host}/ws`, 'mounted');
    expect(welcome.type).toBe('welcome');
    expect(await (await fetch(`http://${host}/hello`)).text()).toBe('hello from the app');
    expect(await (await fetch(`http://${host}/healthz`)).json()).toMatchObject({ status: 'ok', peers: 1 });
    await signaling.close();
    expect((await withTimeout(client.closed, 5000, 'the signaling socket to close')).code).toBe(1001);
    expect(app.listening).toBe(true);
    expect(await (await fetch(`http://${host}/hello`)).text()).toBe('hello from the app');
  });

  it("leaves upgrades to other paths to the app's own WebSocket server, and refuses them when there is none", async () => {
    app = appServer();
    // ws's pattern for several WebSocket paths on one server: each listener takes its own.
    const own = new WebSocketServer({ noServer: true });
    const appUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (request.url === '/app-ws') own.handleUpgrade(request, socket, head, (ws) => ws.send('app socket'));
    };
    app.on('upgrade', appUpgrade);
    signaling = createSignalingServer(
      { httpServer: app, staticDir: null, processMetrics: false },
      { logger: silentLogger },
    );
    const host = await listening(app);
    const socket = new WebSocket(`ws://${host}/app-ws`);
    const first = await withTimeout(
      new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString()))),
      5000,
      "the app's socket",
    );
    expect(first).toBe('app socket');
    socket.close();
    await joined(`ws://${host}/ws`, 'mounted');
    // Closing either removes its listener; the signaling server then answers other paths itself.
    app.off('upgrade', appUpgrade);
    own.close();
    await signaling.close();
    expect(app.listenerCount('upgrade')).toBe(0);
    signaling = createSignalingServer(
      { httpServer: app, staticDir: null, processMetrics: false },
      { logger: silentLogger },
    );
    const refused = new WebSocket(`ws://${host}/elsewhere`);
    // A refused handshake ends in an error event; it is the expected outcome here.
    refused.on('error', () => undefined);
    const status = await withTimeout(
      new Promise<number | undefined>((resolve) =>
        refused.once('unexpected-response', (_request, response) => resolve(response.statusCode)),
      ),
      5000,
      'a refusal',
    );
    expect(status).toBe(404);
    refused.terminate();
  });
});
