/**
 * The floor: a bare ws relay (~30 lines) that forwards JSON to a named socket.
 * No authentication, no limits, no validation beyond JSON.parse. Everything a
 * real signaling server does costs something on top of this.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * Listen on a port of its own (`host`, default loopback), or take the
 * upgrades of an existing HTTP `server` (then `port` is that server's).
 */
export function startFloorRelay(
  options: { host?: string; server?: Server } = {},
): Promise<{ port: number; close(): void }> {
  const peers = new Map<string, WebSocket>();
  const common = { perMessageDeflate: false, maxPayload: 64 * 1024 };
  const wss =
    options.server === undefined
      ? new WebSocketServer({ ...common, port: 0, host: options.host ?? '127.0.0.1' })
      : new WebSocketServer({ ...common, server: options.server });
  wss.on('connection', (ws, request) => {
    const id = new URL(request.url ?? '/', 'http://x').searchParams.get('id');
    if (id === null) return ws.close();
    peers.set(id, ws);
    ws.on('message', (data: Buffer) => {
      let message: { to?: string; data?: unknown };
      try {
        message = JSON.parse(data.toString()) as { to?: string; data?: unknown };
      } catch {
        return;
      }
      const target = peers.get(String(message.to));
      if (target !== undefined) target.send(JSON.stringify({ from: id, data: message.data }));
    });
    ws.on('close', () => {
      if (peers.get(id) === ws) peers.delete(id);
    });
  });
  const port = (): number => ((options.server ?? wss).address() as AddressInfo).port;
  if (options.server !== undefined) return Promise.resolve({ port: port(), close: () => wss.close() });
  return new Promise((resolve) => wss.on('listening', () => resolve({ port: port(), close: () => wss.close() })));
}
