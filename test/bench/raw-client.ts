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

/** WebSocket opcodes the raw client tells apart (RFC 6455 §5.2). */
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

function clientControl(opcode: number, payload: Buffer): Buffer {
  // Control payloads are at most 125 bytes: a 7-bit length, the all-zero mask.
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

export interface RawAdmitOptions {
  /**
   * The local address to connect from (any of 127.0.0.0/8 on Linux): the
   * server's per-address caps then see many clients, as they would in the
   * field, instead of one address holding them all.
   */
  readonly localAddress?: string;
  /** Give up on the attempt (reject) if it is not admitted within this (default: never, as before). */
  readonly timeoutMs?: number;
}

/**
 * Resolves with the open socket once the client is admitted (floor: 101;
 * PeerJS: OPEN; Tabmesh: welcome); rejects when refused, when the socket
 * errs, or when it closes first. Once admitted the socket answers the
 * server's heartbeat pings (a Tabmesh server drops a connection that does
 * not) and ignores what else arrives.
 */
export function rawAdmit(
  kind: Kind,
  port: number,
  credentials: Credentials,
  network: string,
  options: RawAdmitOptions = {},
): Promise<Socket> {
  const id = credentials.identity.id;
  const path =
    kind === 'floor'
      ? `/?id=${id}`
      : kind === 'peerjs'
        ? `/peerjs?key=${PEERJS_KEY}&id=${id}&token=${id.slice(-8)}`
        : '/ws';
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({
      port,
      host: '127.0.0.1',
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    socket.setNoDelay(true);
    let settled = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (!settled) refused(new Error('timed out before admission'));
          }, options.timeoutMs);
    const admitted = (): void => {
      settled = true;
      clearTimeout(timer);
      resolve(socket);
    };
    const refused = (error: Error): void => {
      settled = true;
      clearTimeout(timer);
      reject(error);
      socket.destroy();
    };
    socket.on('error', (error) => {
      if (!settled) refused(error);
    });
    socket.on('close', () => {
      if (!settled) refused(new Error('closed before admission'));
    });
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
          refused(new Error(`upgrade refused: ${buffer.subarray(0, end).toString().split('\r\n')[0] ?? ''}`));
          return;
        }
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        if (kind === 'floor') {
          admitted();
          return;
        }
      }
      // Server frames are unmasked; 7-, 16- or 64-bit lengths.
      while (buffer.length >= 2) {
        const opcode = (buffer[0] ?? 0) & 0x0f;
        const short = (buffer[1] ?? 0) & 0x7f;
        const headerLength = short === 126 ? 4 : short === 127 ? 10 : 2;
        if (buffer.length < headerLength) return;
        const length =
          short === 126 ? buffer.readUInt16BE(2) : short === 127 ? Number(buffer.readBigUInt64BE(2)) : short;
        if (buffer.length < headerLength + length) return;
        const payload = buffer.subarray(headerLength, headerLength + length);
        buffer = buffer.subarray(headerLength + length);
        if (opcode === OPCODE_PING) {
          socket.write(clientControl(OPCODE_PONG, payload));
          continue;
        }
        if (opcode === OPCODE_CLOSE) {
          if (!settled) refused(new Error(`closed before admission: ${payload.subarray(2).toString()}`));
          socket.destroy();
          return;
        }
        if (opcode !== OPCODE_TEXT || settled) continue;
        const text = payload.toString();
        if (kind === 'peerjs') {
          const type = (JSON.parse(text) as { type?: string }).type;
          if (type === 'OPEN') admitted();
          else refused(new Error(`PeerJS refused: ${String(type)}`));
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
          admitted();
        } else {
          refused(new Error(`registration failed: ${message.code ?? message.t}`));
        }
      }
    });
  });
}
