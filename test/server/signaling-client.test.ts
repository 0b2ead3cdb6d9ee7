/**
 * The browser's signaling client against the real server, in Node (the `ws`
 * package stands in for the browser's WebSocket): signals a tab sends while
 * it is still registering all arrive, in order, however many it sends.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { MAX_HELD_DURING_REGISTRATION } from '../../shared/limits.js';
import { MAX_QUEUED_UNTIL_WELCOME, SignalingClient } from '../../web/signaling-client.js';
import { joined, newIdentity, newRecord } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const NETWORK = 'test';
let server: TestServer;

beforeEach(async () => {
  vi.stubGlobal('WebSocket', WebSocket);
  server = await startServer();
});

afterEach(async () => {
  vi.unstubAllGlobals();
  await server.close();
});

/** A client that sends `count` signals to `to` the moment the server challenges it. */
async function eager(to: Parameters<SignalingClient['send']>[0], count: number) {
  const identity = await newIdentity();
  const record = await newRecord(identity, NETWORK);
  const accepted: boolean[] = [];
  const problems: string[] = [];
  let sent = false;
  const ignore = (): void => undefined;
  const client: SignalingClient = new SignalingClient(
    { urls: [server.wsUrl], network: NETWORK, identity, record: () => record, random: Math.random },
    {
      onState: ignore,
      // Called first with the challenge's sample, before our answer is signed.
      onWelcome: () => {
        if (sent) return;
        sent = true;
        for (let i = 0; i < count; i++) accepted.push(client.send(to, `signal ${i}`));
      },
      onSignal: ignore,
      onProblem: (code, message) => problems.push(`${code}: ${message}`),
      onUndeliverable: ignore,
      onTurnPending: ignore,
      onTurn: ignore,
      onStun: ignore,
    },
  );
  client.start();
  return { client, accepted, problems };
}

describe('a client that signals while it registers', () => {
  it('delivers every signal, in order, beyond what the server holds during registration', async () => {
    const { client: listener, identity: listenerIdentity } = await joined(server.wsUrl, NETWORK);
    // Within the server's burst, and three times what it holds while verifying.
    const count = 3 * MAX_HELD_DURING_REGISTRATION;
    const { client, accepted, problems } = await eager(listenerIdentity.id, count);
    const received: string[] = [];
    while (received.length < count) {
      const message = await listener.next();
      if (message.type === 'signal') received.push(message.payload);
    }
    expect(accepted).toEqual(Array.from({ length: count }, () => true));
    expect(received).toEqual(Array.from({ length: count }, (_, i) => `signal ${i}`));
    expect(problems).toEqual([]);
    client.close();
    listener.close();
  });

  it(`refuses, rather than keeps, more than MAX_QUEUED_UNTIL_WELCOME (${MAX_QUEUED_UNTIL_WELCOME}) beyond those`, async () => {
    const { client: listener, identity: listenerIdentity } = await joined(server.wsUrl, NETWORK);
    const { client, accepted } = await eager(
      listenerIdentity.id,
      MAX_HELD_DURING_REGISTRATION + MAX_QUEUED_UNTIL_WELCOME + 5,
    );
    await expect.poll(() => accepted.length).toBeGreaterThan(0);
    expect(accepted.filter((ok) => ok)).toHaveLength(MAX_HELD_DURING_REGISTRATION + MAX_QUEUED_UNTIL_WELCOME);
    expect(accepted.slice(-5)).toEqual([false, false, false, false, false]);
    client.close();
    listener.close();
  });
});
