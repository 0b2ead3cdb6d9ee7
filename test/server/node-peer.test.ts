/**
 * `tabmesh/node` against a real signaling server: a Node peer registers and
 * reports itself connected, with file storage, and keeps its ID across a
 * restart on the same data directory; two Node peers open a channel to each
 * other over real WebRTC (@roamhq/wrtc) with no BroadcastChannel; a hostile
 * server's oversize frame closes the socket, not the process. Where a test
 * is about registration only, its transport is a stand-in that never
 * connects.
 */
import { WebSocketServer } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeStatus, TabmeshNode } from '../../web/nodejs/index.js';
import { createNode } from '../../web/nodejs/index.js';
import { withTimeout } from '../helpers/events.js';
import { idleTransport, tempDir, WarningLog } from '../helpers/node-fixtures.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { MAX_SERVER_FRAME_BYTES } from '../../web/nodejs/platform.js';

const CONNECT_TIMEOUT_MS = 10_000;

let server: TestServer;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeEach(async () => {
  server = await startServer();
  dir = await tempDir();
});
afterEach(async () => {
  await server.close();
  await dir.remove();
});

/** Resolves with the node's status once signaling is connected. */
function connected(node: TabmeshNode): Promise<NodeStatus> {
  return withTimeout(
    new Promise<NodeStatus>((resolve) => {
      if (node.status.signaling === 'connected') resolve(node.status);
      node.addEventListener('status', (event) => {
        if (event.detail.signaling === 'connected') resolve(event.detail);
      });
    }),
    CONNECT_TIMEOUT_MS,
    'signaling connected',
  );
}

describe('a Node peer (tabmesh/node)', () => {
  it('registers with a real signaling server, with file storage, and keeps its ID across a restart', async () => {
    const log = new WarningLog();
    const options = { signaling: [server.wsUrl], network: 'nodes', dataDir: dir.path, logger: log };
    const node = await createNode(options);
    const status = await connected(node);
    expect(status).toMatchObject({ signaling: 'connected', signalingUrl: server.wsUrl, storage: 'file' });
    expect(status.crypto).toBe('node:crypto');
    await node.close();
    expect(node.status.closed).toBe(true);
    const again = await createNode(options);
    expect(again.id).toBe(node.id);
    await connected(again);
    await again.close();
    expect(log.warnings).toEqual([]);
  });

  it('without dataDir: memory storage and a fresh identity each start', async () => {
    const options = { signaling: [server.wsUrl], logger: new WarningLog() };
    const a = await createNode(options, { transport: idleTransport });
    const b = await createNode(options, { transport: idleTransport });
    expect((await connected(a)).storage).toBe('memory');
    await connected(b);
    expect(b.id).not.toBe(a.id);
    await Promise.all([a.close(), b.close()]);
  });

  it('needs a signaling URL (no page to default to)', async () => {
    await expect(createNode({}, { transport: idleTransport })).rejects.toMatchObject({ code: 'BAD_FIELD' });
  });

  it('two Node peers open a confirmed channel to each other over WebRTC and exchange messages', async () => {
    const options = { signaling: [server.wsUrl], network: 'pair', logger: new WarningLog() };
    const a = await createNode(options);
    const b = await createNode(options);
    try {
      const heard = new Promise<string>((resolve) => {
        b.addEventListener('message', (event) => {
          if (typeof event.detail.data === 'string') resolve(`${event.detail.from} ${event.detail.data}`);
        });
      });
      // Both registered (the second may well dial the first from its welcome's sample on its own).
      await Promise.all([connected(a), connected(b)]);
      await withTimeout(a.connect(b.id), CONNECT_TIMEOUT_MS, 'a channel between two Node peers');
      expect(a.connections()).toContain(b.id);
      expect(b.connections()).toContain(a.id);
      await a.send(b.id, 'over wrtc');
      expect(await withTimeout(heard, CONNECT_TIMEOUT_MS, 'the message')).toBe(`${a.id} over wrtc`);
      expect(a.links().find((link) => link.peer === b.id)?.via).not.toBe('local');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('closes the socket of a server that sends a frame over MAX_SERVER_FRAME_BYTES, and stays up', async () => {
    const hostile = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => hostile.once('listening', () => resolve()));
    const port = (hostile.address() as { port: number }).port;
    const closes: number[] = [];
    hostile.on('connection', (socket) => {
      socket.on('close', (code) => closes.push(code));
      socket.send('x'.repeat(MAX_SERVER_FRAME_BYTES + 1));
    });
    const node = await createNode(
      { signaling: [`ws://127.0.0.1:${port}/ws`], logger: new WarningLog() },
      { transport: idleTransport },
    );
    try {
      // The node drops the socket (1009 from its side) and, as after any loss, tries again.
      await withTimeout(
        new Promise<void>((resolve) => {
          node.addEventListener('status', () => {
            if (node.status.signaling === 'disconnected') resolve();
          });
        }),
        CONNECT_TIMEOUT_MS,
        'the oversize frame to cost the socket',
      );
      expect(node.status.closed).toBe(false);
    } finally {
      await node.close();
      await new Promise<void>((resolve) => hostile.close(() => resolve()));
    }
    expect(closes).toContain(1009);
  });
});
