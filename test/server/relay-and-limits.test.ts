import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { Server as NetServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { MAX_SIGNALING_FRAME_BYTES } from '../../shared/limits.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import { parseClientMessage } from '../../shared/protocol/signaling.js';
import { TestClient, joined, newIdentity, upgradeStatus } from '../helpers/client.js';
import { LISTEN_BACKLOG } from '../../signaling-server/server.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
afterEach(async () => {
  await server.close();
});

describe('relay', () => {
  it('forwards a signal stamped with the authenticated sender, whatever the message claims', async () => {
    server = await startServer();
    const [alice, bob, carol] = await Promise.all([joined(server.wsUrl), joined(server.wsUrl), joined(server.wsUrl)]);
    // Alice claims to be Carol in an extra `from` field; the server ignores it.
    alice.client.sendRaw(
      JSON.stringify({ v: 1, t: 'signal', to: bob.identity.id, from: carol.identity.id, payload: 'offer' }),
    );
    expect(await bob.client.next('signal')).toEqual({ type: 'signal', from: alice.identity.id, payload: 'offer' });
    // Carol, whose ID was used, receives nothing: a round trip proves the queue is empty.
    carol.client.send({ type: 'peers', max: 1, ref: 77 });
    expect((await carol.client.next('peers')).ref).toBe(77);
    expect(carol.client.pending()).toEqual([]);
  });

  it('relays a request alike in the form clients send it (read in place) and in any other JSON spelling (parsed)', async () => {
    server = await startServer();
    const [alice, bob] = await Promise.all([joined(server.wsUrl), joined(server.wsUrl)]);
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'a/b', ref: 1 });
    alice.client.sendRaw(`{ "t":"signal", "v":1, "payload":"a\\/b", "to":"${bob.identity.id}", "ref":2 }`);
    const first = await bob.client.next('signal');
    expect(first).toEqual({ type: 'signal', from: alice.identity.id, payload: 'a/b' });
    expect(await bob.client.next('signal')).toEqual(first);
  });

  it('answers UNKNOWN_PEER for an ID not registered, queueing nothing', async () => {
    server = await startServer();
    const alice = await joined(server.wsUrl);
    const stranger = await newIdentity();
    alice.client.send({ type: 'signal', to: stranger.id, payload: 'x', ref: 4 });
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.UNKNOWN_PEER, ref: 4 });
    // The stranger connecting later gets nothing that was sent before.
    const late = await joined(server.wsUrl, 'test', stranger);
    late.client.send({ type: 'peers', max: 1, ref: 1 });
    await late.client.next('peers');
    expect(late.client.pending()).toEqual([]);
  });

  it('tells a mistyped recipient ID (right shape, wrong checksum) from an unknown one', async () => {
    server = await startServer();
    const [alice, bob] = await Promise.all([joined(server.wsUrl), joined(server.wsUrl)]);
    const last = bob.identity.id.at(-1) === 'q' ? 'p' : 'q';
    const typo = `${bob.identity.id.slice(0, -1)}${last}`;
    alice.client.send({ type: 'signal', to: typo, payload: 'x', ref: 5 });
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.BAD_FIELD, ref: 5 });
    bob.client.send({ type: 'peers', max: 1, ref: 6 });
    expect((await bob.client.next('peers')).ref).toBe(6);
    expect(bob.client.pending()).toEqual([]);
  });

  it('refuses a signal whose delivery would be over the frame cap, rather than send the recipient a frame it must refuse', async () => {
    // Found by `npm run fuzz` (hub): the delivery names the sender in `from`, two characters longer than `to`,
    // so a request filled to the cap was relayed as a frame of 65,538 characters, which the recipient refused.
    server = await startServer();
    const [alice, bob] = await Promise.all([joined(server.wsUrl), joined(server.wsUrl)]);
    // Quotes: two characters each in JSON, so the payload stays under its 32 Ki characters while the frame fills.
    const room =
      MAX_SIGNALING_FRAME_BYTES - JSON.stringify({ v: 1, t: 'signal', to: bob.identity.id, payload: '' }).length;
    const payload = '"'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2);
    const text = JSON.stringify({ v: 1, t: 'signal', to: bob.identity.id, payload });
    expect(text).toHaveLength(MAX_SIGNALING_FRAME_BYTES);
    expect(parseClientMessage(text).ok).toBe(true);
    alice.client.sendRaw(text);
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE });
    expect(await server.server.metrics.refusalCount(ErrorCode.FRAME_TOO_LARGE)).toBe(1);
    // Bob got nothing: the next relay is the first thing he receives. One character less is delivered whole.
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'next' });
    expect(await bob.client.next('signal')).toEqual({ type: 'signal', from: alice.identity.id, payload: 'next' });
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: payload.slice(0, -2) });
    expect(await bob.client.next('signal')).toEqual({
      type: 'signal',
      from: alice.identity.id,
      payload: payload.slice(0, -2),
    });
  });

  it('keeps networks apart: no relay across networks', async () => {
    server = await startServer();
    const [a, b] = await Promise.all([joined(server.wsUrl, 'red'), joined(server.wsUrl, 'blue')]);
    a.client.send({ type: 'signal', to: b.identity.id, payload: 'x', ref: 1 });
    expect(await a.client.next('error')).toMatchObject({ code: ErrorCode.UNKNOWN_PEER });
    expect(b.welcome.peers).toEqual([]);
  });

  it('answers a malformed message from a registered peer with an error, keeping the connection', async () => {
    server = await startServer();
    const alice = await joined(server.wsUrl);
    alice.client.sendRaw('{not json');
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.BAD_JSON });
    alice.client.sendRaw(JSON.stringify({ v: 1, t: 'signal', to: 'nobody', payload: 'x' }));
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.BAD_FIELD });
    alice.client.send({ type: 'peers', max: 1, ref: 2 });
    expect((await alice.client.next('peers')).ref).toBe(2);
    expect(await server.server.metrics.refusalCount(ErrorCode.BAD_JSON)).toBe(1);
  });
});

describe('limits', () => {
  it('closes a connection that sends an oversize frame with 1009', async () => {
    server = await startServer({ maxFrameBytes: 4096 });
    const alice = await joined(server.wsUrl);
    alice.client.sendRaw('x'.repeat(4097));
    expect((await alice.client.closed).code).toBe(1009);
    expect(await server.server.metrics.refusalCount(ErrorCode.FRAME_TOO_LARGE)).toBe(1);
  });

  it('closes a connection that sends a binary frame with 1003', async () => {
    server = await startServer();
    const alice = await joined(server.wsUrl);
    alice.client.sendRaw(Buffer.from([1, 2, 3]), true);
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.BAD_FRAME });
    expect((await alice.client.closed).code).toBe(CloseCode.UNSUPPORTED_DATA);
  });

  it('throttles a flooding client while another client’s relays still arrive, then cuts it off', async () => {
    server = await startServer({ rate: 5, burst: 10, floodAllowance: 50 });
    const [flooder, victim, sender, receiver] = await Promise.all([
      joined(server.wsUrl),
      joined(server.wsUrl),
      joined(server.wsUrl),
      joined(server.wsUrl),
    ]);
    const flood = (): void => {
      for (let i = 0; i < 30; i++) flooder.client.send({ type: 'signal', to: victim.identity.id, payload: `f${i}` });
    };
    flood();
    // The flooder learns it is throttled, once per episode, after its burst of
    // 10 (one token went to its registration).
    for (let i = 0; i < 9; i++) await victim.client.next('signal');
    expect(await flooder.client.next('error')).toMatchObject({ code: ErrorCode.RATE_LIMITED });
    // Meanwhile an honest pair is unaffected.
    sender.client.send({ type: 'signal', to: receiver.identity.id, payload: 'honest' });
    expect(await receiver.client.next('signal')).toMatchObject({ from: sender.identity.id, payload: 'honest' });
    // Flooding on past the drop allowance closes the connection.
    flood();
    flood();
    expect((await flooder.client.closed).code).toBe(CloseCode.FLOODING);
    expect(await server.server.metrics.refusalCount(ErrorCode.FLOODING)).toBe(1);
    // Only the burst got through (allow one token of refill during the test).
    expect(victim.client.pending().length).toBeLessThanOrEqual(2);
  });

  it('answers malformed frames no faster than the rate: garbage floods are cut off too', async () => {
    server = await startServer({ rate: 5, burst: 10, floodAllowance: 20 });
    const alice = await joined(server.wsUrl);
    for (let i = 0; i < 100; i++) alice.client.sendRaw('{garbage');
    expect((await alice.client.closed).code).toBe(CloseCode.FLOODING);
    const badJson = alice.client.pending().filter((m) => m.type === 'error' && m.code === ErrorCode.BAD_JSON);
    expect(badJson.length).toBeLessThanOrEqual(10);
  });

  it('refuses a page from a disallowed Origin before the upgrade, and allows its own and listed ones', async () => {
    server = await startServer({ origins: ['self', 'localhost', 'https://friend.example'] });
    const host = new URL(server.url).host;
    expect(await upgradeStatus(server.wsUrl, { Origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { Origin: 'null' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { Origin: 'https://friend.example' })).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { Origin: 'http://localhost:5173' })).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { Origin: `http://${host}` })).toBe(101);
    expect(await server.server.metrics.refusalCount(ErrorCode.ORIGIN_REFUSED)).toBe(2);
  });

  it('by default refuses foreign origins and accepts loopback pages', async () => {
    server = await startServer();
    expect(await upgradeStatus(server.wsUrl, { Origin: 'https://example.com' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { Origin: 'http://127.0.0.1:3000' })).toBe(101);
  });

  it('caps connections per IP address with 429', async () => {
    server = await startServer({ maxConnectionsPerIp: 2 });
    const a = new TestClient(server.wsUrl);
    const b = new TestClient(server.wsUrl);
    await Promise.all([a.opened, b.opened]);
    expect(await upgradeStatus(server.wsUrl)).toBe(429);
    a.close();
    await a.closed;
    expect(await upgradeStatus(server.wsUrl)).toBe(101);
  });

  it('gives back the slot of an upgrade ws refuses, and of every connection that closes', async () => {
    server = await startServer({ maxConnectionsPerIp: 1 });
    const port = new URL(server.wsUrl).port;
    // A handshake ws refuses (no WebSocket is made): 400, and the address keeps no slot for it.
    const refused = await new Promise<number>((resolve, reject) => {
      const request = httpRequest({
        host: '127.0.0.1',
        port,
        path: '/ws',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version': '99',
        },
      });
      request.on('response', (response) => {
        resolve(response.statusCode ?? 0);
        response.resume();
      });
      request.on('error', reject);
      request.end();
    });
    expect(refused).toBe(400);
    for (let i = 0; i < 3; i++) {
      const client = new TestClient(server.wsUrl);
      await client.opened;
      client.close();
      await client.closed;
    }
    expect(await upgradeStatus(server.wsUrl)).toBe(101);
  });

  it('refuses connections beyond maxPeers with 503', async () => {
    server = await startServer({ maxPeers: 1 });
    const a = new TestClient(server.wsUrl);
    await a.opened;
    expect(await upgradeStatus(server.wsUrl)).toBe(503);
    expect(await server.server.metrics.refusalCount(ErrorCode.SERVER_FULL)).toBe(1);
  });

  it('refuses upgrades beyond maxPendingRegistrations connections still registering with 503 SERVER_BUSY, and admits again once one registers', async () => {
    server = await startServer({ maxPendingRegistrations: 2 });
    const a = new TestClient(server.wsUrl);
    const b = new TestClient(server.wsUrl);
    await Promise.all([a.opened, b.opened]);
    expect(await upgradeStatus(server.wsUrl)).toBe(503);
    expect(await server.server.metrics.refusalCount(ErrorCode.SERVER_BUSY)).toBe(1);
    // Registered connections do not count: once one of the two registers, a third is let in.
    await a.answer(await newIdentity(), 'test');
    await a.next('welcome');
    expect(await upgradeStatus(server.wsUrl)).toBe(101);
    expect(await server.server.metrics.refusalCount(ErrorCode.SERVER_BUSY)).toBe(1);
    b.close();
  });

  it('refuses upgrades on other paths with 404', async () => {
    server = await startServer();
    expect(await upgradeStatus(server.wsUrl.replace('/ws', '/other'))).toBe(404);
  });

  it('drops a client that stops answering heartbeats', async () => {
    server = await startServer({ heartbeatIntervalMs: 50 });
    const dead = new TestClient(server.wsUrl, { autoPong: false });
    const alive = new TestClient(server.wsUrl);
    await Promise.all([dead.opened, alive.opened]);
    expect((await dead.closed).code).toBe(1006);
    expect(alive.socket.readyState).toBe(WebSocket.OPEN);
    expect(await server.server.metrics.refusalCount(ErrorCode.HEARTBEAT_TIMEOUT)).toBeGreaterThanOrEqual(1);
  });
});

describe('operations endpoints', () => {
  const token = 'a-metrics-token-for-tests';
  const scrape = (url: string): Promise<Response> =>
    fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });

  it('serves /healthz and Prometheus /metrics with connections, peers per network and refusals', async () => {
    server = await startServer({ metricsToken: token });
    await joined(server.wsUrl, 'red');
    await joined(server.wsUrl, 'red');
    const blue = await joined(server.wsUrl, 'blue');
    blue.client.send({ type: 'signal', to: (await newIdentity()).id, payload: 'x' });
    await blue.client.next('error');
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', connections: 3, peers: 3, networks: 2 });
    const response = await scrape(server.url);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toContain('tabmesh_connections{state="registered"} 3');
    expect(text).toContain('tabmesh_peers{network="red"} 2');
    expect(text).toContain('tabmesh_peers{network="blue"} 1');
    expect(text).toContain('tabmesh_registrations_total 3');
    expect(text).toContain('tabmesh_refusals_total{reason="UNKNOWN_PEER"} 1');
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404);
  });

  it("names Node's process metrics once each: tabmesh_process_cpu_…, not tabmesh_process_process_cpu_…", async () => {
    server = await startServer({ processMetrics: true, metricsToken: token });
    const text = await (await scrape(server.url)).text();
    expect(text).toMatch(/^tabmesh_process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^tabmesh_nodejs_eventloop_lag_seconds \d/m);
    expect(text).not.toContain('process_process');
  });

  it('on close tells clients to go away, closes them with 1001 and answers 503 on health', async () => {
    server = await startServer();
    const alice = await joined(server.wsUrl);
    const closing = server.close();
    expect(await alice.client.next('goaway')).toMatchObject({ reason: ErrorCode.SHUTTING_DOWN });
    expect((await alice.client.closed).code).toBe(CloseCode.GOING_AWAY);
    await closing;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe('listening', () => {
  it("asks the kernel for a backlog that holds a reconnect storm, not Node's 511", async () => {
    const listen = vi.spyOn(NetServer.prototype, 'listen');
    try {
      server = await startServer();
      expect(listen.mock.calls.map(([options]) => (options as { backlog?: number }).backlog)).toContain(LISTEN_BACKLOG);
    } finally {
      listen.mockRestore();
    }
  });
});
