/**
 * Load-generator clients for the server benchmarks, one shape for both the
 * floor relay and Tabmesh's server so both are driven the same way.
 */
import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import { toBase64url, fromBase64url } from '../../shared/bytes.js';
import { identityFromKeyPair, signable, Purpose, type Identity } from '../../shared/identity/signing.js';
import { registrationBytes } from '../../shared/protocol/signaling.js';
import { signRecord } from '../../shared/records.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { randomBytes } from 'node:crypto';

/** The servers the benchmarks drive: the bare relay (floor), Tabmesh's, and PeerJS's (the `peer` package). */
export type Kind = 'floor' | 'tabmesh' | 'peerjs';

/** PeerJS's defaults: the WebSocket at `<path>peerjs` with its API key `peerjs` (peer's config.ts). */
export const PEERJS_KEY = 'peerjs';

export interface LoadClient {
  readonly id: string;
  send(to: string, payload: string): void;
  onSignal: (from: string, payload: string) => void;
  close(): void;
}

/** A pre-made identity with a signed record and a raw signing key, made before timing starts. */
export interface Credentials {
  readonly identity: Identity;
  readonly recordText: string;
  readonly key: KeyObject;
}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export async function makeCredentials(count: number, network: string): Promise<Credentials[]> {
  const ed = createNodeEd25519();
  const out: Credentials[] = [];
  for (let i = 0; i < count; i++) {
    const seed = new Uint8Array(randomBytes(32));
    const identity = identityFromKeyPair(await ed.fromSeed(seed));
    const record = await signRecord(identity, { seq: 1, network, now: Date.now() });
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    out.push({ identity, recordText: record.text, key });
  }
  return out;
}

/** Open one client; resolves once it can relay (floor: open; Tabmesh: welcomed). */
export function connect(kind: Kind, port: number, credentials: Credentials, network: string): Promise<LoadClient> {
  const id = credentials.identity.id;
  const url =
    kind === 'floor'
      ? `ws://127.0.0.1:${port}/?id=${id}`
      : kind === 'peerjs'
        ? `ws://127.0.0.1:${port}/peerjs?key=${PEERJS_KEY}&id=${id}&token=${id.slice(-8)}`
        : `ws://127.0.0.1:${port}/ws`;
  const socket = new WebSocket(url, { perMessageDeflate: false });
  const client: LoadClient = {
    id,
    send:
      kind === 'floor'
        ? (to, payload) => socket.send(`{"to":"${to}","data":${JSON.stringify(payload)}}`)
        : kind === 'peerjs'
          ? // PeerJS relays OFFER, ANSWER and CANDIDATE alike to `dst`, stamping `src`.
            (to, payload) => socket.send(`{"type":"CANDIDATE","dst":"${to}","payload":${JSON.stringify(payload)}}`)
          : (to, payload) => socket.send(`{"v":1,"t":"signal","to":"${to}","payload":${JSON.stringify(payload)}}`),
    onSignal: () => undefined,
    close: () => socket.terminate(),
  };
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    if (kind === 'floor') {
      socket.once('open', () => resolve(client));
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { from: string; data: string };
        client.onSignal(message.from, message.data);
      });
      return;
    }
    if (kind === 'peerjs') {
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; src?: string; payload?: string };
        if (message.type === 'OPEN') resolve(client);
        else if (message.type === 'CANDIDATE') client.onSignal(message.src ?? '', message.payload ?? '');
        else if (message.type === 'ERROR' || message.type === 'ID-TAKEN') reject(new Error(`PeerJS: ${message.type}`));
      });
      return;
    }
    let registered = false;
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as {
        t: string;
        from?: string;
        payload?: string;
        nonce?: string;
        server?: string;
        code?: string;
      };
      if (registered) {
        if (message.t === 'signal') client.onSignal(message.from ?? '', message.payload ?? '');
        return;
      }
      if (message.t === 'challenge') {
        const nonce = fromBase64url(message.nonce ?? '') ?? new Uint8Array();
        const bytes = signable(
          Purpose.REGISTER,
          registrationBytes(nonce, message.server ?? '', network, credentials.identity.id),
        );
        const sig = toBase64url(nodeSign(null, bytes, credentials.key));
        socket.send(
          `{"v":1,"t":"register","id":"${id}","network":"${network}","record":"${credentials.recordText}","sig":"${sig}"}`,
        );
      } else if (message.t === 'welcome') {
        registered = true;
        resolve(client);
      } else {
        reject(new Error(`registration failed: ${message.code ?? message.t}`));
      }
    });
  });
}

/** Open `credentials.length` clients with at most `concurrency` handshakes in flight. */
export async function connectMany(
  kind: Kind,
  port: number,
  credentials: readonly Credentials[],
  network: string,
  concurrency: number,
): Promise<LoadClient[]> {
  const clients: LoadClient[] = new Array<LoadClient>(credentials.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < credentials.length) {
      const i = next++;
      const c = credentials[i];
      if (c === undefined) break;
      clients[i] = await connect(kind, port, c, network);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return clients;
}

/**
 * Pairs ping-pong `payload` with `window` messages in flight per pair until
 * `total` deliveries; resolves when done.
 */
export function pingPong(
  clients: readonly LoadClient[],
  total: number,
  window: number,
  payload: string,
): Promise<void> {
  let delivered = 0;
  return new Promise((resolve) => {
    for (let i = 0; i + 1 < clients.length; i += 2) {
      const a = clients[i];
      const b = clients[i + 1];
      if (a === undefined || b === undefined) continue;
      const onSignal = (self: LoadClient, other: LoadClient) => () => {
        delivered++;
        if (delivered === total) resolve();
        if (delivered < total) self.send(other.id, payload);
      };
      a.onSignal = onSignal(a, b);
      b.onSignal = onSignal(b, a);
      for (let w = 0; w < window; w++) a.send(b.id, payload);
    }
  });
}
