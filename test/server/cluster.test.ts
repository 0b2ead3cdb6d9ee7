/**
 * Many instances over a real redis-server (Debian's package): relays and
 * bootstrap samples across instances, a duplicate or misaddressed message
 * between instances, a peer ID moving instances, an instance killed, and
 * Redis stopped and started again. Every wait is on an event, bounded.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished as onCleanup } from 'vitest';
import { fromBase64url } from '../../shared/bytes.js';
import { ErrorCode, unwrap } from '../../shared/errors.js';
import { decodeRecord } from '../../shared/records.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import type { Logger } from '../../signaling-server/logger.js';
import { TestClient, joined, newIdentity } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';
import { RedisProcess, SignalProcess } from '../helpers/processes.js';
import { startServer, type TestServer } from '../helpers/server.js';

const WAIT_MS = 10_000;
/** Short presence bounds so an instance's death shows within the test's time. */
const FAST_PRESENCE = { presenceTtlMs: 1_500, presenceRefreshMs: 300 };

/** A logger that keeps messages and lets a test wait for one. */
class RecordingLogger implements Logger {
  private readonly seen: string[] = [];
  private readonly waiters = new Set<() => void>();
  private record(message: string): void {
    this.seen.push(message);
    for (const waiter of this.waiters) waiter();
  }
  debug(): void {}
  info(_fields: object, message: string): void {
    this.record(message);
  }
  warn(_fields: object, message: string): void {
    this.record(message);
  }
  error(_fields: object, message: string): void {
    this.record(message);
  }
  /** Resolve when a message containing `text` has been logged `times` times in all. */
  waitFor(text: string, times = 1): Promise<void> {
    const count = (): number => this.seen.filter((m) => m.includes(text)).length;
    let waiter: (() => void) | undefined;
    return withTimeout(
      new Promise<void>((resolve) => {
        waiter = () => {
          if (count() >= times) resolve();
        };
        this.waiters.add(waiter);
        waiter();
      }),
      WAIT_MS,
      `the log line '${text}' (×${times})`,
    ).finally(() => {
      if (waiter !== undefined) this.waiters.delete(waiter);
    });
  }
}

let redis: RedisProcess;
const servers: TestServer[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start();
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function instance(logger?: Logger): Promise<TestServer> {
  const server = await startServer({ redis: redis.url, ...FAST_PRESENCE }, logger === undefined ? {} : { logger });
  servers.push(server);
  return server;
}

/** Join and remember the client for cleanup. */
async function join(url: string, network = 'test', identity?: Awaited<ReturnType<typeof newIdentity>>) {
  const peer = await joined(url, network, identity);
  clients.push(peer.client);
  return peer;
}

/** A round trip on `client`: everything sent to it before has arrived once this resolves. */
async function roundTrip(client: TestClient, ref: number): Promise<void> {
  client.send({ type: 'peers', max: 1, ref });
  expect((await client.next('peers')).ref).toBe(ref);
}

/** The peer IDs of a sample's records, sorted. */
function idsOf(records: readonly string[]): string[] {
  return records.map((text) => unwrap(decodeRecord(fromBase64url(text) ?? new Uint8Array())).record.id).sort();
}

/** Resolve once Redis reports the given key expired (keyspace notifications). */
async function expired(key: string): Promise<() => Promise<void>> {
  const watcher = new Redis(redis.url);
  await watcher.config('SET', 'notify-keyspace-events', 'Kx');
  const event = new Promise<void>((resolve) => {
    watcher.on('message', (_channel: string, message: string) => {
      if (message === 'expired') resolve();
    });
  });
  await watcher.subscribe(`__keyspace@0__:${key}`);
  return () => withTimeout(event, WAIT_MS, `${key} to expire`).finally(() => watcher.disconnect());
}

describe('instances over Redis', () => {
  it('relay signals between tabs on different instances, both ways, stamped with the sender', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const alice = await join(a.wsUrl);
    const bob = await join(b.wsUrl);
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'offer' });
    expect(await bob.client.next('signal')).toEqual({ type: 'signal', from: alice.identity.id, payload: 'offer' });
    bob.client.send({ type: 'signal', to: alice.identity.id, payload: 'answer "quoted" \u2028' });
    expect(await alice.client.next('signal')).toEqual({
      type: 'signal',
      from: bob.identity.id,
      payload: 'answer "quoted" \u2028',
    });
    // An offer and its candidates arrive in the order sent.
    for (let i = 0; i < 20; i++) alice.client.send({ type: 'signal', to: bob.identity.id, payload: `c${i}` });
    for (let i = 0; i < 20; i++) expect((await bob.client.next('signal')).payload).toBe(`c${i}`);
  });

  it('answer UNKNOWN_PEER for a peer no instance holds, and keep networks apart across instances', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const alice = await join(a.wsUrl, 'red');
    const bob = await join(b.wsUrl, 'blue');
    const stranger = await newIdentity();
    alice.client.send({ type: 'signal', to: stranger.id, payload: 'x', ref: 1 });
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.UNKNOWN_PEER, ref: 1 });
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'x', ref: 2 });
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.UNKNOWN_PEER, ref: 2 });
    await roundTrip(bob.client, 3);
    expect(bob.client.pending()).toEqual([]);
  });

  it('give bootstrap samples from the whole network, on the challenge, the welcome and on request', async () => {
    const [a, b, c] = await Promise.all([instance(), instance(), instance()]);
    const onA = await join(a.wsUrl, 'boot');
    const onB = await join(b.wsUrl, 'boot');
    await join(c.wsUrl, 'elsewhere');
    const expected = [onA.identity.id, onB.identity.id].sort();
    const client = new TestClient(`${c.wsUrl}?network=boot`);
    clients.push(client);
    const challenge = await client.answer(await newIdentity(), 'boot');
    const welcome = await client.next('welcome');
    client.send({ type: 'peers', max: 32, ref: 9 });
    const requested = await client.next('peers');
    for (const sample of [challenge.peers ?? [], welcome.peers, requested.peers])
      expect(idsOf(sample)).toEqual(expected);
  });

  it('drop a message that arrives twice from another instance, and one for a peer it does not hold', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const alice = await join(a.wsUrl);
    const bob = await join(b.wsUrl);
    const carol = await join(b.wsUrl, 'other');
    // Listen to the instance channels, capture one real message, and publish it again.
    const spy = new Redis(redis.url);
    const publisher = new Redis(redis.url);
    onCleanup(() => {
      spy.disconnect();
      publisher.disconnect();
    });
    const captured = new Promise<[string, string]>((resolve) => {
      spy.on('pmessage', (_pattern: string, channel: string, message: string) => resolve([channel, message]));
    });
    await spy.psubscribe('tabmesh:instance:*');
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'once' });
    const [channel, message] = await withTimeout(captured, WAIT_MS, 'a message between instances');
    expect(await bob.client.next('signal')).toMatchObject({ payload: 'once' });
    // Two receivers: instance B, and our own pattern subscription.
    expect(await publisher.publish(channel, message)).toBe(2);
    // The same frame, from another origin, addressed to Carol's ID in Bob's network.
    const [head, frame] = message.split('\n') as [string, string];
    const [kind, , seq, network] = head.split(' ');
    const forged = `${kind} ${'f'.repeat(32)} ${seq} ${network} ${carol.identity.id}\n${frame}`;
    expect(await publisher.publish(channel, forged)).toBe(2);
    // Pub/sub keeps one publisher's order: once the next real signal is in, both were handled.
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'next' });
    expect(await bob.client.next('signal')).toMatchObject({ payload: 'next' });
    await roundTrip(carol.client, 2);
    expect(bob.client.pending()).toEqual([]);
    expect(carol.client.pending()).toEqual([]);
    const metrics = await b.server.metrics.text();
    expect(metrics).toContain('tabmesh_cross_instance_signals_total{direction="in",outcome="duplicate"} 1');
    expect(metrics).toContain('tabmesh_cross_instance_signals_total{direction="in",outcome="unknown"} 1');
    expect(metrics).toContain('tabmesh_cross_instance_signals_total{direction="in",outcome="delivered"} 2');
  });

  it('close the older connection when a peer ID registers on another instance', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const identity = await newIdentity();
    const first = await join(a.wsUrl, 'test', identity);
    const second = await join(b.wsUrl, 'test', identity);
    expect((await withTimeout(first.client.closed, WAIT_MS, 'the older connection to close')).code).toBe(
      CloseCode.REPLACED,
    );
    // Signals now reach the newer registration only.
    const alice = await join(a.wsUrl);
    alice.client.send({ type: 'signal', to: identity.id, payload: 'to the newer', ref: 1 });
    expect(await second.client.next('signal')).toMatchObject({ payload: 'to the newer' });
  });
});

describe('an instance that dies', () => {
  it('is forgotten within the presence TTL, and its tabs re-register on another instance', async () => {
    const a = await instance();
    const doomed = await SignalProcess.start([
      '--redis',
      redis.url,
      '--presence-ttl-ms',
      String(FAST_PRESENCE.presenceTtlMs),
      '--presence-refresh-ms',
      String(FAST_PRESENCE.presenceRefreshMs),
    ]);
    try {
      const alice = await join(a.wsUrl, 'dies');
      const bob = await join(doomed.wsUrl, 'dies');
      alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'before' });
      expect(await bob.client.next('signal')).toMatchObject({ payload: 'before', from: alice.identity.id });
      const gone = await expired(`tabmesh:dies:peer:${bob.identity.id}`);
      const killedAt = Date.now();
      await doomed.kill();
      // Nobody listens on the dead instance's channel: relays to it fail at once.
      alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'lost', ref: 1 });
      expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.UNKNOWN_PEER, ref: 1 });
      // Its presence expires within the TTL, and samples no longer name Bob.
      await gone();
      expect(Date.now() - killedAt).toBeLessThanOrEqual(FAST_PRESENCE.presenceTtlMs + 500);
      alice.client.send({ type: 'peers', max: 32, ref: 2 });
      expect((await alice.client.next('peers')).peers).toEqual([]);
      // Bob's tab reconnects through the load balancer to a live instance.
      await withTimeout(bob.client.closed, WAIT_MS, "the dead instance's socket to close");
      const back = await join(a.wsUrl, 'dies', bob.identity);
      alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'after' });
      expect(await back.client.next('signal')).toMatchObject({ payload: 'after' });
    } finally {
      await doomed.kill();
    }
  });
});

describe('Redis going away', () => {
  it('leaves local service up, says so once in the log and the metric, and rejoins when Redis returns', async () => {
    const [logA, logB] = [new RecordingLogger(), new RecordingLogger()];
    const [a, b] = await Promise.all([instance(logA), instance(logB)]);
    await Promise.all([logA.waitFor('presence published'), logB.waitFor('presence published')]);
    const alice = await join(a.wsUrl, 'outage');
    const bob = await join(b.wsUrl, 'outage');
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'while up' });
    expect(await bob.client.next('signal')).toMatchObject({ payload: 'while up' });

    await redis.kill();
    await Promise.all([logA.waitFor('redis unreachable'), logB.waitFor('redis unreachable')]);
    expect(await a.server.metrics.text()).toMatch(/^tabmesh_redis_up 0$/m);
    expect(a.server.stats().redis).toBe('down');
    // Local service goes on: a new tab registers on A and relays to Alice.
    const carol = await join(a.wsUrl, 'outage');
    expect(carol.welcome.peers).toHaveLength(1);
    carol.client.send({ type: 'signal', to: alice.identity.id, payload: 'local' });
    expect(await alice.client.next('signal')).toMatchObject({ payload: 'local', from: carol.identity.id });
    // Across instances it fails fast and plainly.
    alice.client.send({ type: 'signal', to: bob.identity.id, payload: 'x', ref: 1 });
    expect(await alice.client.next('error')).toMatchObject({ code: ErrorCode.UNKNOWN_PEER, ref: 1 });

    // Redis returns empty (no persistence): both instances publish their peers again.
    await redis.restart();
    await Promise.all([logA.waitFor('presence published', 2), logB.waitFor('presence published', 2)]);
    expect(await a.server.metrics.text()).toMatch(/^tabmesh_redis_up 1$/m);
    carol.client.send({ type: 'signal', to: bob.identity.id, payload: 'rejoined' });
    expect(await bob.client.next('signal')).toMatchObject({ payload: 'rejoined', from: carol.identity.id });
    bob.client.send({ type: 'peers', max: 32, ref: 2 });
    expect((await bob.client.next('peers')).peers).toHaveLength(2);
    // One line each way, not one per failed command.
    await roundTrip(alice.client, 3);
    expect(alice.client.pending()).toEqual([]);
  });
});
