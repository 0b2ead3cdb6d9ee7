import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { Purpose } from '../../shared/identity/signing.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import { registrationBytes } from '../../shared/protocol/signaling.js';
import { verifyRecord } from '../../shared/records.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { TestClient, ed25519, joined, newIdentity, newRecord } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
afterEach(async () => {
  await server.close();
});

describe('registration by challenge and response', () => {
  it('registers a tab that signs the challenge and hands out a sample of verified records', async () => {
    server = await startServer();
    const first = await joined(server.wsUrl, 'lobby');
    expect(first.welcome.id).toBe(first.identity.id);
    expect(first.welcome.peers).toEqual([]);
    expect(first.welcome.limits.rate).toBeGreaterThan(0);
    const second = await joined(server.wsUrl, 'lobby');
    expect(second.welcome.peers).toHaveLength(1);
    const record = await verifyRecord(ed25519, second.welcome.peers[0] ?? '', { now: Date.now(), network: 'lobby' });
    expect(record.ok && record.value.record.id).toBe(first.identity.id);
    expect(server.server.stats()).toMatchObject({ peers: 2, networks: 1, pending: 0 });
  });

  it('samples at most sampleSize peers, never the asker, only from its own network', async () => {
    server = await startServer({ sampleSize: 4 });
    const lobby = await Promise.all(Array.from({ length: 8 }, () => joined(server.wsUrl, 'lobby')));
    await joined(server.wsUrl, 'elsewhere');
    const late = await joined(server.wsUrl, 'lobby');
    expect(late.welcome.peers).toHaveLength(4);
    const ids = new Set(lobby.map((j) => j.identity.id));
    for (const text of late.welcome.peers) {
      const result = await verifyRecord(ed25519, text, { now: Date.now(), network: 'lobby' });
      expect(result.ok).toBe(true);
      if (result.ok) {
        expect(ids.has(result.value.record.id)).toBe(true);
        expect(result.value.record.id).not.toBe(late.identity.id);
      }
    }
    late.client.send({ type: 'peers', max: 32, ref: 9 });
    const more = await late.client.next('peers');
    expect(more.ref).toBe(9);
    expect(more.peers).toHaveLength(8);
  });

  it('refuses a signature made by another key (ID it does not hold)', async () => {
    server = await startServer();
    const [victim, mallory] = [await newIdentity(), await newIdentity()];
    const client = new TestClient(server.wsUrl);
    const challenge = await client.next('challenge');
    const signed = registrationBytes(challenge.nonce, challenge.server, 'n', victim.id);
    client.send({
      type: 'register',
      id: victim.id,
      network: 'n',
      record: (await newRecord(victim, 'n')).bytes,
      signature: await mallory.sign(Purpose.REGISTER, signed),
    });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.BAD_SIGNATURE });
    expect(await client.closed).toEqual({ code: CloseCode.UNAUTHORIZED, reason: ErrorCode.BAD_SIGNATURE });
    expect(server.server.stats().peers).toBe(0);
    expect(await server.server.metrics.refusalCount(ErrorCode.BAD_SIGNATURE)).toBe(1);
  });

  it('refuses a record for another ID than the one registering', async () => {
    server = await startServer();
    const [alice, bob] = [await newIdentity(), await newIdentity()];
    const client = new TestClient(server.wsUrl);
    await client.answer(alice, 'n', await newRecord(bob, 'n'));
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.ID_MISMATCH });
    expect((await client.closed).code).toBe(CloseCode.UNAUTHORIZED);
  });

  it('refuses a record of another network than the one joined', async () => {
    server = await startServer();
    const alice = await newIdentity();
    const client = new TestClient(server.wsUrl);
    await client.answer(alice, 'one', await newRecord(alice, 'two'));
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.NETWORK_MISMATCH });
  });

  it('refuses an expired record', async () => {
    server = await startServer();
    const alice = await newIdentity();
    const client = new TestClient(server.wsUrl);
    await client.answer(alice, 'n', await newRecord(alice, 'n', 1, Date.now() - 10 * 24 * 3600 * 1000));
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.RECORD_EXPIRED });
  });

  it('refuses an answer replayed from another connection', async () => {
    server = await startServer();
    const alice = await newIdentity();
    // Alice answers connection A; an eavesdropper replays her exact frame on B.
    const a = new TestClient(server.wsUrl);
    const b = new TestClient(server.wsUrl);
    await b.next('challenge');
    const captured: string[] = [];
    const realSend = a.socket.send.bind(a.socket);
    a.socket.send = ((data: string) => {
      captured.push(data);
      realSend(data);
    }) as typeof a.socket.send;
    await a.answer(alice, 'n');
    await a.next('welcome');
    b.sendRaw(captured[0] ?? '');
    expect(await b.next('error')).toMatchObject({ code: ErrorCode.BAD_SIGNATURE });
    expect((await b.closed).code).toBe(CloseCode.UNAUTHORIZED);
  });

  it('takes one answer per challenge: a second register is refused', async () => {
    server = await startServer();
    const { client, identity } = await joined(server.wsUrl, 'n');
    client.send({
      type: 'register',
      id: identity.id,
      network: 'n',
      record: (await newRecord(identity, 'n')).bytes,
      signature: new Uint8Array(64),
    });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.ALREADY_REGISTERED });
    expect(server.server.stats().peers).toBe(1);
  });

  it('refuses a late answer (after the challenge expired)', async () => {
    let now = 1_800_000_000_000;
    server = await startServer({ registrationTimeoutMs: 60_000 }, { now: () => now });
    const alice = await newIdentity();
    const client = new TestClient(server.wsUrl);
    const challenge = await client.next('challenge');
    now = challenge.expires + 1;
    const signed = registrationBytes(challenge.nonce, challenge.server, 'n', alice.id);
    client.send({
      type: 'register',
      id: alice.id,
      network: 'n',
      record: (await newRecord(alice, 'n', 1, now)).bytes,
      signature: await alice.sign(Purpose.REGISTER, signed),
    });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.CHALLENGE_EXPIRED });
    expect((await client.closed).code).toBe(CloseCode.TIMEOUT);
  });

  it('closes a connection that never registers', async () => {
    server = await startServer({ registrationTimeoutMs: 100 });
    const client = new TestClient(server.wsUrl);
    await client.next('challenge');
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.REGISTRATION_TIMEOUT });
    expect((await client.closed).code).toBe(CloseCode.TIMEOUT);
  });

  it('throttles and cuts off a client that floods while its answer is being verified', async () => {
    server = await startServer({ rate: 5, burst: 10, floodAllowance: 20 });
    const alice = await newIdentity();
    const client = new TestClient(server.wsUrl);
    const challenge = await client.next('challenge');
    const signed = registrationBytes(challenge.nonce, challenge.server, 'n', alice.id);
    const register = {
      type: 'register',
      id: alice.id,
      network: 'n',
      record: (await newRecord(alice, 'n')).bytes,
      signature: await alice.sign(Purpose.REGISTER, signed),
    } as const;
    for (let i = 0; i < 100; i++) client.send(register);
    expect((await client.closed).code).toBe(CloseCode.FLOODING);
    // At most the burst was answered at all; the rest were dropped and counted.
    const answered = client.pending().filter((m) => m.type === 'error' && m.code === ErrorCode.ALREADY_REGISTERED);
    expect(answered.length).toBeLessThanOrEqual(10);
    expect(await server.server.metrics.refusalCount(ErrorCode.FLOODING)).toBe(1);
  });

  it('sends a bootstrap sample with the challenge when the URL names the network', async () => {
    server = await startServer();
    const first = await joined(server.wsUrl, 'lobby');
    await joined(server.wsUrl, 'elsewhere');
    const client = new TestClient(`${server.wsUrl}?network=lobby`);
    const challenge = await client.next('challenge');
    expect(challenge.peers).toHaveLength(1);
    const record = await verifyRecord(ed25519, challenge.peers?.[0] ?? '', { now: Date.now(), network: 'lobby' });
    expect(record.ok && record.value.record.id).toBe(first.identity.id);
    const plain = new TestClient(server.wsUrl);
    expect((await plain.next('challenge')).peers).toBeUndefined();
  });

  it('refuses a registration in another network than the URL named, and a malformed network name', async () => {
    server = await startServer();
    const alice = await newIdentity();
    const client = new TestClient(`${server.wsUrl}?network=red`);
    await client.answer(alice, 'blue');
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.NETWORK_MISMATCH });
    expect((await client.closed).code).toBe(CloseCode.UNAUTHORIZED);
    const bad = new TestClient(`${server.wsUrl}?network=${encodeURIComponent('no spaces')}`);
    await expect(bad.opened).rejects.toThrow(/400/);
  });

  it('holds requests sent right behind the answer, and relays them in order once it is verified', async () => {
    server = await startServer();
    const bob = await joined(server.wsUrl, 'lobby');
    const alice = await newIdentity();
    const client = new TestClient(`${server.wsUrl}?network=lobby`);
    await client.answer(alice, 'lobby');
    for (let i = 0; i < 3; i++) client.send({ type: 'signal', to: bob.identity.id, payload: `early ${i}` });
    expect(await client.next('welcome')).toMatchObject({ id: alice.id });
    for (let i = 0; i < 3; i++) {
      expect(await bob.client.next('signal')).toEqual({ type: 'signal', from: alice.id, payload: `early ${i}` });
    }
  });

  it('drops held requests when the registration fails, and closes past the hold limit', async () => {
    // Verification that can be held open, so requests surely arrive while it runs.
    const real = createNodeEd25519(0);
    const gate = { hold: Promise.resolve(), release: (): void => undefined };
    const gated: Ed25519 = {
      ...real,
      verify: async (...args) => {
        await gate.hold;
        return real.verify(...args);
      },
    };
    server = await startServer({}, { ed25519: gated });
    const bob = await joined(server.wsUrl, 'lobby');
    const [alice, mallory] = [await newIdentity(), await newIdentity()];
    // A forged answer: Mallory signs for Alice's ID; the held signal must never arrive.
    const forger = new TestClient(server.wsUrl);
    const challenge = await forger.next('challenge');
    forger.send({
      type: 'register',
      id: alice.id,
      network: 'lobby',
      record: (await newRecord(alice, 'lobby')).bytes,
      signature: await mallory.sign(
        Purpose.REGISTER,
        registrationBytes(challenge.nonce, challenge.server, 'lobby', alice.id),
      ),
    });
    forger.send({ type: 'signal', to: bob.identity.id, payload: 'forged' });
    expect((await forger.closed).code).toBe(CloseCode.UNAUTHORIZED);
    bob.client.send({ type: 'peers', max: 1, ref: 3 });
    expect((await bob.client.next('peers')).ref).toBe(3);
    expect(bob.client.pending()).toEqual([]);
    // More than the limit behind an answer closes the connection.
    gate.hold = new Promise((resolve) => {
      gate.release = resolve;
    });
    const greedy = new TestClient(server.wsUrl);
    await greedy.answer(alice, 'lobby');
    for (let i = 0; i < 17; i++) greedy.send({ type: 'signal', to: bob.identity.id, payload: `${i}` });
    expect(await greedy.next('error')).toMatchObject({ code: ErrorCode.NOT_REGISTERED });
    expect((await greedy.closed).code).toBe(CloseCode.BAD_REQUEST);
    gate.release();
  });

  it('refuses any other message before registration', async () => {
    server = await startServer();
    const client = new TestClient(server.wsUrl);
    await client.next('challenge');
    client.send({ type: 'peers', max: 5 });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.NOT_REGISTERED });
    expect((await client.closed).code).toBe(CloseCode.BAD_REQUEST);
  });

  it('answers an unknown protocol version with a version error, then closes', async () => {
    server = await startServer();
    const client = new TestClient(server.wsUrl);
    await client.next('challenge');
    client.sendRaw(JSON.stringify({ v: 2, t: 'register' }));
    const error = await client.next('error');
    expect(error.code).toBe(ErrorCode.VERSION_UNSUPPORTED);
    expect(error.message).toMatch(/supported: 1/);
    expect((await client.closed).code).toBe(CloseCode.VERSION_UNSUPPORTED);
  });

  it('lets the newest connection of an ID win and closes the older one with REPLACED', async () => {
    server = await startServer();
    const first = await joined(server.wsUrl, 'n');
    const second = await joined(server.wsUrl, 'n', first.identity);
    expect(await first.client.next('error')).toMatchObject({ code: ErrorCode.REPLACED });
    expect((await first.client.closed).code).toBe(CloseCode.REPLACED);
    expect(server.server.stats().peers).toBe(1);
    // Relays to the ID reach the new connection.
    const other = await joined(server.wsUrl, 'n');
    other.client.send({ type: 'signal', to: first.identity.id, payload: 'hi' });
    expect(await second.client.next('signal')).toMatchObject({ from: other.identity.id, payload: 'hi' });
  });

  it('accepts a newer record and refuses a stale one or one of another peer', async () => {
    server = await startServer();
    const { client, identity } = await joined(server.wsUrl, 'n');
    client.send({ type: 'record', record: (await newRecord(identity, 'n', 5)).bytes, ref: 1 });
    expect(await client.next('ok')).toEqual({ type: 'ok', ref: 1 });
    client.send({ type: 'record', record: (await newRecord(identity, 'n', 5)).bytes, ref: 2 });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.RECORD_STALE, ref: 2 });
    const other = await newIdentity();
    client.send({ type: 'record', record: (await newRecord(other, 'n', 9)).bytes, ref: 3 });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.ID_MISMATCH, ref: 3 });
    const observer = await joined(server.wsUrl, 'n');
    const sampled = await verifyRecord(ed25519, observer.welcome.peers[0] ?? '', { now: Date.now() });
    expect(sampled.ok && sampled.value.record.seq).toBe(5);
  });
});
