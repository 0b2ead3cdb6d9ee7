/**
 * A minimal WebSocket client over a raw TCP socket, for the admission
 * benchmark only: the `ws` client's handshake costs the load generator
 * about as much CPU as the server spends, which on a 2-core machine measures
 * the load generator, not the server. Both servers are driven with this same
 * client. Client frames use an all-zero mask (legal; servers do not check).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { sign as nodeSign } from 'node:crypto';
import { fromBase64url, toBase64url } from '../../shared/bytes.js';
import { Purpose, signable } from '../../shared/identity/signing.js';
import { registrationBytes } from '../../shared/protocol/signaling.js';
import { PEERJS_KEY, type Credentials, type Kind } from './load.js';

const HEADER_END = Buffer.from('\r\n\r\n');

function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x81, 0x80 | length, 0, 0, 0, 0])
      : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]);
  return Buffer.concat([head, payload]);
}

/** Resolves with the open socket once the client is admitted (floor: 101; PeerJS: OPEN; Tabmesh: welcome). */
export function rawAdmit(kind: Kind, port: number, credentials: Credentials, network: string): Promise<Socket> {
  const id = credentials.identity.id;
  const path =
    kind === 'floor'
      ? `/?id=${id}`
      : kind === 'peerjs'
        ? `/peerjs?key=${PEERJS_KEY}&id=${id}&token=${id.slice(-8)}`
        : '/ws';
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('error', reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    let buffer: Buffer = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf(HEADER_END);
        if (end < 0) return;
        if (!buffer.subarray(0, 12).toString().includes('101')) {
          reject(new Error(`upgrade refused: ${buffer.subarray(0, end).toString()}`));
          return;
        }
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        if (kind === 'floor') {
          resolve(socket);
          return;
        }
      }
      // Server frames: unmasked text, 7-bit or 16-bit lengths for what we expect here.
      while (buffer.length >= 2) {
        const short = (buffer[1] ?? 0) & 0x7f;
        const headerLength = short === 126 ? 4 : 2;
        const length = short === 126 ? buffer.readUInt16BE(2) : short;
        if (buffer.length < headerLength + length) return;
        const text = buffer.subarray(headerLength, headerLength + length).toString();
        buffer = buffer.subarray(headerLength + length);
        if (kind === 'peerjs') {
          const type = (JSON.parse(text) as { type?: string }).type;
          if (type === 'OPEN') resolve(socket);
          else reject(new Error(`PeerJS refused: ${String(type)}`));
          continue;
        }
        const message = JSON.parse(text) as { t: string; nonce?: string; server?: string; code?: string };
        if (message.t === 'challenge') {
          const nonce = fromBase64url(message.nonce ?? '') ?? new Uint8Array();
          const bytes = signable(Purpose.REGISTER, registrationBytes(nonce, message.server ?? '', network, id));
          const sig = toBase64url(nodeSign(null, bytes, credentials.key));
          socket.write(
            clientFrame(
              `{"v":1,"t":"register","id":"${id}","network":"${network}","record":"${credentials.recordText}","sig":"${sig}"}`,
            ),
          );
        } else if (message.t === 'welcome') {
          resolve(socket);
        } else {
          reject(new Error(`registration failed: ${message.code ?? message.t}`));
        }
      }
    });
  });
}
