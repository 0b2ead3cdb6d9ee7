/**
 * A signaling client for tests: real `ws` socket, every frame parsed with the
 * shared codec, and waits that resolve on events (with a bound).
 */
import WebSocket, { type ClientOptions } from 'ws';
import { unwrap } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { Purpose, identityFromKeyPair, type Identity } from '../../shared/identity/signing.js';
import {
  encodeClientMessage,
  parseServerMessage,
  registrationBytes,
  type ChallengeMessage,
  type ClientMessage,
  type ServerMessage,
} from '../../shared/protocol/signaling.js';
import { signRecord, type SignedRecord } from '../../shared/records.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { withTimeout } from './events.js';

export const ed25519: Ed25519 = createNodeEd25519();
const WAIT_MS = 5000;

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export async function newIdentity(): Promise<Identity> {
  return identityFromKeyPair(await ed25519.generate());
}

export async function newRecord(identity: Identity, network: string, seq = 1, now = Date.now()): Promise<SignedRecord> {
  return signRecord(identity, { seq, network, now, endpoints: ['ws://127.0.0.1:8787/ws'] });
}

export class TestClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly queue: ServerMessage[] = [];
  private waiter: (() => void) | undefined;

  constructor(url: string, options?: ClientOptions) {
    this.socket = new WebSocket(url, options);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.socket.on('error', () => {
      // Surfaced through `opened` / `closed`.
    });
    this.socket.on('message', (data: Buffer) => {
      if (!this.keeping) return;
      this.queue.push(unwrap(parseServerMessage(data.toString('utf8'))));
      this.waiter?.();
    });
  }

  /** The next message from the server (any type, or the given type, skipping nothing). */
  async next<T extends ServerMessage['type']>(type?: T, ms = WAIT_MS): Promise<Of<T>> {
    const message = await withTimeout(
      new Promise<ServerMessage>((resolve) => {
        const check = (): void => {
          const head = this.queue.shift();
          if (head !== undefined) {
            this.waiter = undefined;
            resolve(head);
          }
        };
        this.waiter = check;
        check();
      }),
      ms,
      `a '${type ?? 'any'}' message`,
    );
    if (type !== undefined && message.type !== type) {
      throw new Error(`expected '${type}', got ${JSON.stringify(message)}`);
    }
    return message as Of<T>;
  }

  /**
   * The first message of `type` (and matching `match`), discarding those
   * before it into `skipped`: for a client that also receives a flood.
   */
  async until<T extends ServerMessage['type']>(
    type: T,
    match: (message: Of<T>) => boolean = () => true,
    ms = WAIT_MS,
  ): Promise<Of<T>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const message = await this.next(undefined, Math.max(1, deadline - Date.now()));
      if (message.type === type && match(message as Of<T>)) return message as Of<T>;
      this.skipped.push(message);
    }
  }

  /** What `until` passed over. */
  readonly skipped: ServerMessage[] = [];

  private keeping = true;

  /** Keep no more messages (a client under a flood whose messages are counted by listeners of its own). */
  stopKeeping(): void {
    this.keeping = false;
    this.queue.length = 0;
  }

  /** Messages received and not yet taken. */
  pending(): readonly ServerMessage[] {
    return this.queue;
  }

  send(message: ClientMessage): void {
    this.socket.send(encodeClientMessage(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  /** Answer the challenge as `identity` in `network`; returns the challenge. */
  async answer(identity: Identity, network: string, record?: SignedRecord): Promise<ChallengeMessage> {
    const challenge = await this.next('challenge');
    const signed = registrationBytes(challenge.nonce, challenge.server, network, identity.id);
    this.send({
      type: 'register',
      id: identity.id,
      network,
      record: (record ?? (await newRecord(identity, network))).bytes,
      signature: await identity.sign(Purpose.REGISTER, signed),
    });
    return challenge;
  }

  close(): void {
    this.socket.close();
  }
}

export interface Joined {
  readonly client: TestClient;
  readonly identity: Identity;
  readonly welcome: Of<'welcome'>;
}

/** Connect, register and return the client with its welcome. */
export async function joined(
  url: string,
  network = 'test',
  identity?: Identity,
  options?: { readonly record?: (identity: Identity) => Promise<SignedRecord>; readonly socket?: ClientOptions },
): Promise<Joined> {
  const id = identity ?? (await newIdentity());
  const client = new TestClient(url, options?.socket);
  await client.answer(id, network, await options?.record?.(id));
  return { client, identity: id, welcome: await client.next('welcome') };
}

/**
 * A record as large as records may be (just under MAX_RECORD_BYTES): 32 of
 * them make the largest sample a server sends, about 44 KB.
 */
export function largeRecord(network: string): (identity: Identity) => Promise<SignedRecord> {
  const endpoint = (i: number): string => `wss://${'a'.repeat(180)}${i}.example/ws`;
  return (identity) =>
    signRecord(identity, {
      seq: 1,
      network,
      now: Date.now(),
      endpoints: [0, 1, 2, 3].map(endpoint),
      name: 'n'.repeat(40),
    });
}

/**
 * A round trip on `client`'s connection: once it resolves, the server has
 * handled everything the client sent before (it handles a connection's
 * frames in order). Other messages on the way are skipped.
 */
export async function roundTrip(client: TestClient, ref: number, ms?: number): Promise<void> {
  client.send({ type: 'peers', max: 1, ref });
  await client.until('peers', (m) => m.ref === ref, ms);
}

/** `ed` with a count of the verifications it was asked for (to show that a check came before a signature). */
export function countingEd25519(ed: Ed25519 = ed25519): { readonly ed25519: Ed25519; readonly verifies: () => number } {
  let verifies = 0;
  return {
    ed25519: {
      ...ed,
      name: ed.name,
      verify: (key, message, signature) => {
        verifies++;
        return ed.verify(key, message, signature);
      },
    },
    verifies: () => verifies,
  };
}

/** The HTTP status of an upgrade to `url` (101 when it opens), from ws's 'unexpected-response'. */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.on('open', () => {
        resolve(101);
        socket.close();
      });
      socket.on('error', (error) => {
        if (!String(error).includes('Unexpected server response')) reject(error);
      });
    }),
    5000,
    'the upgrade response',
  );
}
