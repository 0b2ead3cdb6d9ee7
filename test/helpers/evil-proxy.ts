/**
 * A lying signaling server for tests: it sits between tabs and a real server
 * and tampers with every relayed signal, the way a malicious server could.
 */
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { fromBase64url, toBase64url } from '../../shared/bytes.js';

export type Tampering =
  /** Change one hex digit of the DTLS fingerprint inside every relayed SDP. */
  | 'rewrite-fingerprint'
  /** Stamp every relayed signal with another registered peer's ID as sender. */
  | 'forge-sender';

const FINGERPRINT = new TextEncoder().encode('a=fingerprint:sha-256 ');

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export async function startEvilProxy(
  upstream: string,
  tampering: Tampering,
): Promise<{ url: string; tampered: () => number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const registered: string[] = [];
  let tampered = 0;
  const tamper = (text: string): string => {
    const message = JSON.parse(text) as { t?: string; from?: string; payload?: string };
    if (message.t !== 'signal' || typeof message.payload !== 'string') return text;
    if (tampering === 'forge-sender') {
      const other = registered.find((id) => id !== message.from);
      if (other === undefined) return text;
      tampered++;
      return JSON.stringify({ ...message, from: other });
    }
    const bytes = fromBase64url(message.payload);
    if (bytes === undefined) return text;
    const at = indexOf(bytes, FINGERPRINT);
    if (at < 0) return text;
    const digit = at + FINGERPRINT.length;
    bytes[digit] = bytes[digit] === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B'
    tampered++;
    return JSON.stringify({ ...message, payload: toBase64url(bytes) });
  };
  wss.on('connection', (client) => {
    const server = new WebSocket(upstream);
    const early: string[] = [];
    server.on('open', () => early.splice(0).forEach((m) => server.send(m)));
    client.on('message', (data: Buffer) => {
      const text = data.toString();
      const message = JSON.parse(text) as { t?: string; id?: string };
      if (message.t === 'register' && typeof message.id === 'string') registered.push(message.id);
      if (server.readyState === WebSocket.OPEN) server.send(text);
      else early.push(text);
    });
    server.on('message', (data: Buffer) => client.send(tamper(data.toString())));
    client.on('close', () => server.close());
    server.on('close', () => client.close());
  });
  await new Promise<void>((resolve) => wss.on('listening', resolve));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    tampered: () => tampered,
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
