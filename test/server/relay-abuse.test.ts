/**
 * Issue 15, items 2 and 3: relays used against the tab they go to. A tab's
 * answers to signals are charged to whoever sent the signals (reflection),
 * and a recipient's relay budget is shared between its senders (flooding).
 */
import type { Counter } from 'prom-client';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { MAX_SIGNAL_PAYLOAD_CHARS } from '../../shared/limits.js';
import type { ServerMessage } from '../../shared/protocol/signaling.js';
import { joined, roundTrip, type Joined } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
afterEach(async () => {
  await server.close();
});

const counted = async (counter: Counter): Promise<number> => (await counter.get()).values[0]?.value ?? 0;

const many = (n: number, url: string): Promise<Joined[]> => Promise.all(Array.from({ length: n }, () => joined(url)));

describe('reflection', () => {
  it('makes the peers that signal a tab pay for its answers: ten attackers cannot rate-limit or close it', async () => {
    // The defaults: 20 messages/s, a burst of 100, 200 drops before a flooder is closed.
    server = await startServer();
    const [victim, honest] = await many(2, server.wsUrl);
    if (victim === undefined || honest === undefined) throw new Error('unreachable');
    const attackers = await many(10, server.wsUrl);
    // Each attacker sends 60 signals (within its own burst): 600 in all, three times the victim's own budget.
    for (const attacker of attackers)
      for (let i = 0; i < 60; i++)
        attacker.client.send({ type: 'signal', to: victim.identity.id, payload: `offer ${i}` });
    // The victim answers every one (as a tab declining an offer with a signed bye).
    const errors: ServerMessage[] = [];
    for (let answered = 0; answered < 600;) {
      const message = await victim.client.next();
      if (message.type === 'signal') {
        victim.client.send({ type: 'signal', to: message.from, payload: 'bye' });
        answered++;
      } else errors.push(message);
    }
    // Its own signals still go through, untouched by the 600 answers.
    victim.client.send({ type: 'signal', to: honest.identity.id, payload: 'mine', ref: 1 });
    expect(await honest.client.next('signal')).toMatchObject({ from: victim.identity.id, payload: 'mine' });
    await roundTrip(victim.client, 2);
    expect([...errors, ...victim.client.skipped]).toEqual([]);
    expect(victim.client.socket.readyState).toBe(WebSocket.OPEN);
    // Every answer was paid for by the signal it answered.
    const metrics = server.server.metrics;
    expect(await counted(metrics.creditedAnswers)).toBe(600);
    expect(await metrics.refusalCount(ErrorCode.FLOODING)).toBe(0);
  });

  it('lets a tab answer each signal once for free, and charges it for anything beyond', async () => {
    server = await startServer({ rate: 1, burst: 3 });
    const [a, b] = await many(2, server.wsUrl);
    if (a === undefined || b === undefined) throw new Error('unreachable');
    // a signals b once: b may answer once for free; its other messages are its own (burst 3, 1 spent registering).
    a.client.send({ type: 'signal', to: b.identity.id, payload: 'offer' });
    await b.client.next('signal');
    for (let i = 0; i < 4; i++) b.client.send({ type: 'signal', to: a.identity.id, payload: `answer ${i}` });
    expect(await b.client.next('error')).toMatchObject({ code: ErrorCode.RATE_LIMITED });
    for (let i = 0; i < 3; i++) expect(await a.client.next('signal')).toMatchObject({ payload: `answer ${i}` });
    expect(await counted(server.server.metrics.creditedAnswers)).toBe(1);
  });

  it('earns no credit for an answer: two peers cannot signal each other for nothing', async () => {
    server = await startServer({ rate: 1, burst: 3 });
    const [a, b] = await many(2, server.wsUrl);
    if (a === undefined || b === undefined) throw new Error('unreachable');
    // a has 2 tokens left after registering. Its signal earns b an answer; the answer earns a nothing,
    // so a pays for its second signal too, and its third is over its rate.
    a.client.send({ type: 'signal', to: b.identity.id, payload: 'offer' });
    await b.client.next('signal');
    b.client.send({ type: 'signal', to: a.identity.id, payload: 'answer' });
    await a.client.next('signal');
    a.client.send({ type: 'signal', to: b.identity.id, payload: 'candidate' });
    a.client.send({ type: 'signal', to: b.identity.id, payload: 'candidate' });
    expect(await a.client.next('error')).toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect(await b.client.next('signal')).toMatchObject({ payload: 'candidate' });
    expect(await counted(server.server.metrics.creditedAnswers)).toBe(1);
  });
});

describe('a flood into one tab', () => {
  it('shares the recipient’s relay budget between senders: twenty flooding connections leave room for an honest one', async () => {
    // Rate raised so each attacker's 40 frames of 32 KiB fit its burst.
    server = await startServer({ rate: 1000, burst: 1000 });
    const [victim, honest] = await many(2, server.wsUrl);
    if (victim === undefined || honest === undefined) throw new Error('unreachable');
    const attackers = await many(20, server.wsUrl);
    // A victim whose link is slower than the flood (paused: only the kernel's buffers drain it).
    victim.client.socket.pause();
    const big = 'x'.repeat(MAX_SIGNAL_PAYLOAD_CHARS - 64);
    // Twenty connections at the same rate interleave: one frame each, round after round (26 MB in all).
    for (let round = 0; round < 40; round++) {
      for (const attacker of attackers) attacker.client.send({ type: 'signal', to: victim.identity.id, payload: big });
      await Promise.all(attackers.map((attacker) => roundTrip(attacker.client, round)));
    }
    const busy = attackers.flatMap((a) =>
      a.client.skipped.filter((m) => m.type === 'error' && m.code === ErrorCode.RECIPIENT_BUSY),
    );
    expect(busy.length).toBeGreaterThan(0);
    // The honest sender's signal is taken (a round trip shows no RECIPIENT_BUSY came first)…
    honest.client.send({ type: 'signal', to: victim.identity.id, payload: 'honest', ref: 7 });
    await roundTrip(honest.client, 8);
    expect(honest.client.skipped).toEqual([]);
    // …and delivered once the victim reads.
    victim.client.socket.resume();
    const delivered = await victim.client.until('signal', (m) => m.from === honest.identity.id, 10_000);
    expect(delivered.payload).toBe('honest');
  });
});
