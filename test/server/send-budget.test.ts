/**
 * Issue 15, item 1: a client that asks and never reads. Every write the
 * server makes is within a per-connection send budget, and liveness means
 * answering our pings, not sending pongs. (The server's memory under the
 * same attack, measured in a process of its own: memory-under-attack.test.ts.)
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import { TestClient, joined, largeRecord } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';
import { WatchingLogger, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
afterEach(async () => {
  await server.close();
});

const NETWORK = 'budget';

describe('the send budget', () => {
  it('closes a client whose unread replies pass the budget with 1008 NOT_READING, while honest relays go on', async () => {
    const logger = new WatchingLogger();
    // Rate and burst raised so the attack of the report (samples at the rate
    // limit for minutes) takes a moment; the budget is the default.
    server = await startServer({ rate: 5000, burst: 5000, sampleSize: 32 }, { logger });
    // 33 peers with records as large as records go: every sample is ~41 KB.
    const peers = await Promise.all(
      Array.from({ length: 33 }, () => joined(server.wsUrl, NETWORK, undefined, { record: largeRecord(NETWORK) })),
    );
    const [sender, receiver] = [peers[0], peers[1]].map((p) => p?.client) as [TestClient, TestClient];
    const attacker = await joined(server.wsUrl, NETWORK);
    attacker.client.socket.pause();
    // 400 samples (~16 MB): more than the kernel's buffers (~4 MB on loopback) and the budget (1.25 MiB) together.
    for (let i = 0; i < 400; i++) attacker.client.send({ type: 'peers', max: 32 });
    await logger.seen('not reading; closing');
    expect(await server.server.metrics.refusalCount(ErrorCode.NOT_READING)).toBe(1);
    expect(server.server.stats()).toMatchObject({ peers: 33 });
    // The others are served as before.
    sender.send({ type: 'signal', to: peers[1]?.identity.id ?? '', payload: 'honest' });
    expect(await receiver.next('signal')).toMatchObject({ payload: 'honest' });
    // Reading again, the attacker finds what fitted in the budget, then the close with its reason.
    attacker.client.socket.resume();
    const closed = await withTimeout(attacker.client.closed, 10_000, 'the attacker to be closed');
    expect(closed).toEqual({ code: CloseCode.POLICY_VIOLATION, reason: ErrorCode.NOT_READING });
    const samples = attacker.client.pending().filter((m) => m.type === 'peers').length;
    expect(samples).toBeGreaterThan(0);
    expect(samples).toBeLessThan(400);
  });

  it('leaves a client that reads its replies alone, however many it asks for', async () => {
    server = await startServer({ rate: 5000, burst: 5000, sampleSize: 32 });
    await Promise.all(
      Array.from({ length: 33 }, () => joined(server.wsUrl, NETWORK, undefined, { record: largeRecord(NETWORK) })),
    );
    const reader = await joined(server.wsUrl, NETWORK);
    // 400 samples, in waves of 20: the most the default burst (100 tokens, 5 a sample) lets a client ask at once.
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 20; i++) reader.client.send({ type: 'peers', max: 32, ref: wave * 20 + i });
      for (let i = 0; i < 20; i++) expect((await reader.client.next('peers')).ref).toBe(wave * 20 + i);
    }
    expect(reader.client.socket.readyState).toBe(WebSocket.OPEN);
    expect(await server.server.metrics.refusalCount(ErrorCode.NOT_READING)).toBe(0);
  });
});

describe('liveness', () => {
  it('drops a client that sends pongs of its own but never answers our pings', async () => {
    server = await startServer({ heartbeatIntervalMs: 50 });
    const faker = new TestClient(server.wsUrl, { autoPong: false });
    const honest = new TestClient(server.wsUrl);
    await Promise.all([faker.opened, honest.opened]);
    // Unsolicited pongs, faster than the pings: before issue 15 these kept any socket alive.
    const pongs = setInterval(() => {
      faker.socket.pong(Buffer.from('alive'));
    }, 10);
    faker.socket.on('ping', () => {
      faker.socket.pong(Buffer.from('not the payload'));
    });
    try {
      expect((await withTimeout(faker.closed, 2000, 'the faker to be dropped')).code).toBe(1006);
    } finally {
      clearInterval(pongs);
    }
    expect(honest.socket.readyState).toBe(WebSocket.OPEN);
    expect(await server.server.metrics.refusalCount(ErrorCode.HEARTBEAT_TIMEOUT)).toBeGreaterThanOrEqual(1);
  });
});
