/**
 * `tabmesh/node` against a real signaling server: a Node peer registers and
 * reports itself connected, with file storage, and keeps its ID across a
 * restart on the same data directory. Its transport is a stand-in until the
 * simple-peer transport is merged (web/transport/simple-peer.ts is a
 * placeholder on this branch): registration needs no WebRTC.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeStatus, TabmeshNode } from '../../web/nodejs/index.js';
import { createNode } from '../../web/nodejs/index.js';
import { withTimeout } from '../helpers/events.js';
import { idleTransport, tempDir, WarningLog } from '../helpers/node-peer.js';
import { startServer, type TestServer } from '../helpers/server.js';

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
    const node = await createNode(options, { transport: idleTransport });
    const status = await connected(node);
    expect(status).toMatchObject({ signaling: 'connected', signalingUrl: server.wsUrl, storage: 'file' });
    expect(status.crypto).toBe('node:crypto');
    await node.close();
    expect(node.status.closed).toBe(true);
    const again = await createNode(options, { transport: idleTransport });
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
});
