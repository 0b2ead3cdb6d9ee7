/**
 * The floor: a bare ws relay (~30 lines) that forwards JSON to a named socket.
 * No authentication, no limits, no validation beyond JSON.parse. Everything a
 * real signaling server does costs something on top of this.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';

export function startFloorRelay(): Promise<{ port: number; close(): void }> {
  const peers = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 64 * 1024 });
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
  return new Promise((resolve) =>
    wss.on('listening', () => resolve({ port: (wss.address() as AddressInfo).port, close: () => wss.close() })),
  );
}
