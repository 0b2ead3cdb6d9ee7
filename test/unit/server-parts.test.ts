import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../shared/rate-limit.js';
import {
  AddressCounter,
  OriginPolicy,
  addressKey,
  clientAddress,
  selfOrigin,
  type SelfOrigin,
} from '../../signaling-server/admission.js';
import { metricsAccess, type Listener } from '../../signaling-server/metrics-endpoint.js';
import { Outbox, TickBatch, WRITE_AHEAD_BYTES, type OutboxSocket } from '../../signaling-server/outbox.js';
import { Registry, type RegistryEntry } from '../../signaling-server/registry.js';
import { ReplyCredit } from '../../signaling-server/reply-credit.js';
import { Liveness, type Session } from '../../signaling-server/session.js';
import { routeSocketEvent, type SocketEvents } from '../../signaling-server/session-socket.js';
import { NONCES_PER_DRAW } from '../../signaling-server/hub.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { CHALLENGE_NONCE_BYTES } from '../../shared/limits.js';
import { inProcessHub } from '../fuzz/hub-harness.js';
import type { PeerId } from '../../shared/identity/peer-id.js';

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate, with an injected clock', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(99)).toBe(false); // 0.99 tokens
    expect(bucket.take(100)).toBe(true); // 1 token after 100 ms at 10/s
    expect(bucket.take(10_000, 5)).toBe(true); // refills to capacity, not beyond
    expect(bucket.take(10_000)).toBe(false);
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
  });
});

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['self', 'localhost', 'https://Friend.example:443']);
  const onLoopback: SelfOrigin = { kind: 'loopback', port: 8787 };
  it.each<[string | undefined, SelfOrigin, boolean]>([
    [undefined, onLoopback, true],
    ['http://localhost:9', onLoopback, true],
    ['http://[::1]:9', onLoopback, true],
    ['http://127.0.0.1', onLoopback, true],
    ['http://localhost.evil.example', onLoopback, false],
    ['https://friend.example', onLoopback, true],
    ['https://friend.example:8443', onLoopback, false],
    ['null', onLoopback, false],
    ['not a url', onLoopback, false],
    ['ftp://localhost', onLoopback, false],
  ])('origin %s (self %o): %s', (origin, self, allowed) => {
    expect(policy.allows(origin, self)).toBe(allowed);
  });

  it("takes `self` from the configuration, never from the request's Host header", () => {
    const selfOnly = new OriginPolicy(['self']);
    const mesh: SelfOrigin = { kind: 'public', origin: 'https://mesh.example' };
    expect(selfOnly.allows('https://mesh.example', mesh)).toBe(true);
    expect(selfOnly.allows('https://mesh.example:444', mesh)).toBe(false);
    expect(selfOnly.allows('http://localhost:8787', mesh)).toBe(false);
    expect(selfOnly.allows('http://localhost:8787', onLoopback)).toBe(true);
    expect(selfOnly.allows('https://localhost:8787', onLoopback)).toBe(true);
    expect(selfOnly.allows('http://localhost:8788', onLoopback)).toBe(false);
    expect(selfOnly.allows('http://localhost', { kind: 'loopback', port: 80 })).toBe(true);
    // A rebound name on our own port is not `self`.
    expect(selfOnly.allows('http://rebound.example:8787', onLoopback)).toBe(false);
    expect(selfOnly.allows('http://localhost:8787', { kind: 'none' })).toBe(false);
    expect(selfOnly.namesSelf).toBe(true);
  });

  it('allows anything with *', () => {
    expect(new OriginPolicy(['*']).allows('https://anyone.example', { kind: 'none' })).toBe(true);
  });

  it.each<[string | undefined, string, SelfOrigin]>([
    ['https://mesh.example', '0.0.0.0', { kind: 'public', origin: 'https://mesh.example' }],
    [undefined, '127.0.0.1', { kind: 'loopback', port: 8787 }],
    [undefined, '127.1.2.3', { kind: 'loopback', port: 8787 }],
    [undefined, '::1', { kind: 'loopback', port: 8787 }],
    [undefined, '::ffff:127.0.0.1', { kind: 'loopback', port: 8787 }],
    [undefined, '0.0.0.0', { kind: 'none' }],
    [undefined, '::', { kind: 'none' }],
    [undefined, '192.0.2.1', { kind: 'none' }],
  ])('with public origin %s, listening on %s, self is %o', (publicOrigin, address, expected) => {
    expect(selfOrigin(publicOrigin, { address, port: 8787 })).toEqual(expected);
  });
});

describe('client addresses', () => {
  const request = (remote: string, forwarded?: string): IncomingMessage =>
    ({
      socket: { remoteAddress: remote },
      headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
    }) as unknown as IncomingMessage;
  it('uses the socket address unless told to trust the proxy, then the last forwarded hop', () => {
    expect(clientAddress(request('10.0.0.1', '1.1.1.1, 2.2.2.2'), false)).toBe('10.0.0.1');
    expect(clientAddress(request('10.0.0.1', '1.1.1.1, 2.2.2.2'), true)).toBe('2.2.2.2');
    expect(clientAddress(request('10.0.0.1'), true)).toBe('10.0.0.1');
  });
  it('counts connections per address up to the cap', () => {
    const counter = new AddressCounter(2);
    expect(counter.tryAcquire('a')).toBe(true);
    expect(counter.tryAcquire('a')).toBe(true);
    expect(counter.tryAcquire('a')).toBe(false);
    expect(counter.tryAcquire('b')).toBe(true);
    counter.release('a');
    expect(counter.tryAcquire('a')).toBe(true);
  });
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::198.51.100.1', '64:ff9b:0:0::/64'],
    ['unknown', 'unknown'],
  ])('counts %s as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
  it('caps a whole IPv6 /64 together, not each of its addresses', () => {
    const counter = new AddressCounter(2);
    expect(counter.tryAcquire('2001:db8:1:2::a')).toBe(true);
    expect(counter.tryAcquire('2001:db8:1:2::b')).toBe(true);
    expect(counter.tryAcquire('2001:db8:1:2:ffff::c')).toBe(false);
    expect(counter.tryAcquire('2001:db8:1:3::a')).toBe(true);
    counter.release('2001:db8:1:2::b');
    expect(counter.tryAcquire('2001:db8:1:2::d')).toBe(true);
  });
});

describe('Registry', () => {
  const entry = (id: string, network = 'n', expires = Infinity): RegistryEntry => ({
    id: id as PeerId,
    network,
    recordText: id,
    recordSeq: 1,
    recordExpiresAt: expires,
    slot: -1,
  });

  it("names a network it holds by its own string, shared by the network's entries", () => {
    const registry = new Registry<RegistryEntry>();
    const held = ['bl', 'ue'].join('');
    registry.add(entry('a', held));
    const asked = ['b', 'lue'].join('');
    expect(registry.networkName(asked)).toBe('blue');
    expect(registry.networkName('other')).toBe('other');
  });

  it('adds, replaces by ID, removes only the current entry, and forgets empty networks', () => {
    const registry = new Registry<RegistryEntry>();
    const a1 = entry('a');
    const a2 = entry('a');
    expect(registry.add(a1)).toBeUndefined();
    expect(registry.add(a2)).toBe(a1);
    expect(registry.size).toBe(1);
    expect(registry.remove(a1)).toBe(false);
    expect(registry.get('n', 'a' as PeerId)).toBe(a2);
    expect(registry.remove(a2)).toBe(true);
    expect(registry.networkCount).toBe(0);
  });

  it('samples k distinct live entries, never the excluded or expired, and touches O(k) slots', () => {
    let calls = 0;
    let seed = 1;
    const random = (): number => {
      calls++;
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const registry = new Registry<RegistryEntry>(random);
    const entries = Array.from({ length: 10_000 }, (_, i) => entry(`p${i}`, 'n', i % 100 === 0 ? 0 : Infinity));
    entries.forEach((e) => registry.add(e));
    for (let i = 0; i < 5000; i += 2) registry.remove(entries[i] as RegistryEntry);
    const me = entries[1] as RegistryEntry;
    calls = 0;
    const sample = registry.sample('n', 16, me, 1);
    expect(sample).toHaveLength(16);
    expect(new Set(sample).size).toBe(16);
    expect(sample).not.toContain(me);
    for (const e of sample) expect(e.recordExpiresAt).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(64);
    expect(registry.sample('other', 16, undefined, 1)).toEqual([]);
  });
});

/** A ws socket as the outbox sees it: writes wait until the test lets the kernel take them, oldest first. */
class FakeSocket implements OutboxSocket {
  readonly writes: { data: Buffer; done: ((error?: Error) => void) | undefined }[] = [];
  /** Labels of what the kernel took, in order. */
  readonly taken: string[] = [];

  get bufferedAmount(): number {
    return this.writes.reduce((sum, write) => sum + write.data.length, 0);
  }

  send(data: Buffer, _options: { readonly binary: false }, done?: (error?: Error) => void): void {
    this.writes.push({ data, done });
  }

  /** The kernel takes the oldest write; ws calls back. */
  drain(): void {
    const write = this.writes.shift();
    if (write === undefined) throw new Error('nothing to drain');
    this.taken.push(write.data.toString().trim());
    write.done?.();
  }

  drainAll(): void {
    while (this.writes.length > 0) this.drain();
  }
}

/** A frame of `size` bytes labelled `label`. */
const frame = (label: string, size = 100): Buffer => Buffer.from(label.padEnd(size, ' '));

describe('Outbox', () => {
  it("closes rather than queue the server's own replies past the send budget", () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, { sendBudgetBytes: 100, maxBufferedBytes: 50, maxBufferedPerSender: 50 });
    expect(outbox.reply(frame('r1', 60))).toBe(true);
    expect(outbox.fits(40)).toBe(true);
    expect(outbox.reply(frame('r2', 41))).toBe(false);
    expect(socket.writes).toHaveLength(1);
    expect(outbox.reply(frame('r3', 40))).toBe(true);
    expect(outbox.unsent).toBe(100);
  });

  it('sends relays straight out while the socket keeps up, and refuses them past the relay budget', () => {
    const socket = new FakeSocket();
    const limits = { sendBudgetBytes: 4 * WRITE_AHEAD_BYTES, maxBufferedBytes: 2 * WRITE_AHEAD_BYTES };
    const outbox = new Outbox(socket, { ...limits, maxBufferedPerSender: Infinity });
    expect(outbox.relay(frame('a1'), 'a')).toBe(true);
    expect(socket.writes).toHaveLength(1);
    expect(outbox.relay(frame('big', 2 * WRITE_AHEAD_BYTES - 100), 'b')).toBe(true);
    expect(outbox.relay(frame('b2', 1), 'b')).toBe(false);
    socket.drainAll();
    expect(socket.taken).toEqual(['a1', 'big']);
    expect(outbox.unsent).toBe(0);
  });

  it('once the socket is behind, lets each sender through in turn, one signal a round, each in its order', () => {
    const socket = new FakeSocket();
    const limits = { sendBudgetBytes: 4 * WRITE_AHEAD_BYTES, maxBufferedBytes: 2 * WRITE_AHEAD_BYTES };
    const outbox = new Outbox(socket, { ...limits, maxBufferedPerSender: 32 * 1024 });
    // The kernel is full: what comes now waits.
    expect(outbox.relay(frame('first', WRITE_AHEAD_BYTES), 'z')).toBe(true);
    for (const label of ['a1', 'a2', 'a3', 'a4']) expect(outbox.relay(frame(label), 'a')).toBe(true);
    expect(outbox.relay(frame('b1'), 'b')).toBe(true);
    expect(outbox.relay(frame('c1'), 'c')).toBe(true);
    expect(outbox.relay(frame('b2'), 'b')).toBe(true);
    expect(outbox.senders).toBe(3);
    expect(outbox.unsent).toBe(WRITE_AHEAD_BYTES + 700);
    socket.drainAll();
    expect(socket.taken).toEqual(['first', 'a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    expect(outbox.senders).toBe(0);
    expect(outbox.unsent).toBe(0);
  });

  it('lets relays that wait behind replies go once the replies are written', () => {
    const socket = new FakeSocket();
    const limits = { sendBudgetBytes: 4 * WRITE_AHEAD_BYTES, maxBufferedBytes: 2 * WRITE_AHEAD_BYTES };
    const outbox = new Outbox(socket, { ...limits, maxBufferedPerSender: 32 * 1024 });
    expect(outbox.reply(frame('sample', WRITE_AHEAD_BYTES))).toBe(true);
    expect(outbox.relay(frame('a1'), 'a')).toBe(true);
    expect(socket.writes).toHaveLength(1);
    socket.drain();
    expect(socket.writes).toHaveLength(1);
    socket.drain();
    expect(socket.taken).toEqual(['sample', 'a1']);
  });

  it('is one queue in arrival order with per-sender quotas off (Infinity)', () => {
    const socket = new FakeSocket();
    const limits = { sendBudgetBytes: 4 * WRITE_AHEAD_BYTES, maxBufferedBytes: 2 * WRITE_AHEAD_BYTES };
    const outbox = new Outbox(socket, { ...limits, maxBufferedPerSender: Infinity });
    outbox.relay(frame('first', WRITE_AHEAD_BYTES), 'z');
    for (const [label, sender] of [
      ['a1', 'a'],
      ['a2', 'a'],
      ['b1', 'b'],
    ] as const)
      outbox.relay(frame(label), sender);
    socket.drainAll();
    expect(socket.taken).toEqual(['first', 'a1', 'a2', 'b1']);
  });

  it('gives each waiting sender the smaller of its quota and an equal share of the relay budget, one share kept free', () => {
    const budget = { sendBudgetBytes: 8 * WRITE_AHEAD_BYTES, maxBufferedBytes: 4 * WRITE_AHEAD_BYTES };
    const shares = new Outbox(new FakeSocket(), { ...budget, maxBufferedPerSender: 1e9 });
    const relayBudget = 4 * WRITE_AHEAD_BYTES;
    shares.relay(frame('first', WRITE_AHEAD_BYTES), 'z');
    expect(shares.quota('a')).toBe(Math.floor(relayBudget / 2));
    shares.relay(frame('a1'), 'a');
    expect(shares.quota('a')).toBe(Math.floor(relayBudget / 2));
    expect(shares.quota('b')).toBe(Math.floor(relayBudget / 3));
    shares.relay(frame('b1'), 'b');
    expect(shares.quota('a')).toBe(Math.floor(relayBudget / 3));
    expect(shares.quota('c')).toBe(Math.floor(relayBudget / 4));

    const socket = new FakeSocket();
    const outbox = new Outbox(socket, {
      sendBudgetBytes: 2 * WRITE_AHEAD_BYTES,
      maxBufferedBytes: WRITE_AHEAD_BYTES + 3000,
      maxBufferedPerSender: 1000,
    });
    outbox.relay(frame('first', WRITE_AHEAD_BYTES), 'z');
    // 3000 bytes of relay budget left. A sender's first waiting signal goes in whatever its size.
    expect(outbox.relay(frame('a1', 1200), 'a')).toBe(true);
    expect(outbox.relay(frame('a2', 1), 'a')).toBe(false);
    expect(outbox.relay(frame('b1', 600), 'b')).toBe(true);
    expect(outbox.relay(frame('b2', 400), 'b')).toBe(true);
    expect(outbox.relay(frame('b3', 1), 'b')).toBe(false);
    expect(outbox.relay(frame('c1', 800), 'c')).toBe(true);
    // The relay budget is full: even a newcomer waits for room.
    expect(outbox.relay(frame('d1', 1), 'd')).toBe(false);
    socket.drainAll();
    expect(socket.taken).toEqual(['first', 'a1', 'b1', 'c1', 'b2']);
  });

  it('lets go of what waits once the socket is gone', () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, {
      sendBudgetBytes: 4 * WRITE_AHEAD_BYTES,
      maxBufferedBytes: 2 * WRITE_AHEAD_BYTES,
      maxBufferedPerSender: 32 * 1024,
    });
    outbox.relay(frame('first', WRITE_AHEAD_BYTES), 'z');
    outbox.relay(frame('a1'), 'a');
    socket.writes.shift()?.done?.(new Error('socket closed'));
    expect(outbox.senders).toBe(0);
    expect(outbox.unsent).toBe(0);
  });
});

describe('Outbox callbacks', () => {
  const limits = { sendBudgetBytes: 4 * WRITE_AHEAD_BYTES, maxBufferedBytes: 2 * WRITE_AHEAD_BYTES };

  it('asks to be called back only by a write something may wait on', () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, { ...limits, maxBufferedPerSender: 32 * 1024 });
    outbox.reply(frame('challenge'));
    outbox.relay(frame('a1'), 'a');
    // A connection that keeps up (or is idle) holds no callback.
    expect(socket.writes.map((write) => write.done)).toEqual([undefined, undefined]);
    outbox.reply(frame('sample', WRITE_AHEAD_BYTES));
    expect(socket.writes[2]?.done).toBeTypeOf('function');
    outbox.relay(frame('b1'), 'b');
    socket.drainAll();
    expect(socket.taken).toEqual(['challenge', 'a1', 'sample', 'b1']);
    expect(outbox.unsent).toBe(0);
  });

  it('sends what waits even when the socket fell behind on frames ws wrote itself (pings, pongs)', () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, { ...limits, maxBufferedPerSender: 32 * 1024 });
    // A frame the outbox never saw, with no callback: the socket is behind and nothing will call back.
    socket.writes.push({ data: frame('pong', WRITE_AHEAD_BYTES), done: undefined });
    expect(outbox.relay(frame('a1'), 'a')).toBe(true);
    expect(outbox.relay(frame('a2'), 'a')).toBe(true);
    // One relay goes at once, with a callback, so the rest are pumped when it is written.
    expect(socket.writes).toHaveLength(2);
    expect(socket.writes[1]?.done).toBeTypeOf('function');
    socket.drainAll();
    expect(socket.taken).toEqual(['pong', 'a1', 'a2']);
    expect(outbox.senders).toBe(0);
  });
});

describe('session sockets', () => {
  const calls: string[] = [];
  const events: SocketEvents = {
    message: (_session, data, isBinary) => calls.push(`message ${String(data)} ${String(isBinary)}`),
    pong: () => calls.push('pong'),
    error: () => calls.push('error'),
    close: () => calls.push('close'),
  };
  const session = Object.create(null) as Session;

  it("hand a session's message, pong, error and close to the hub, and close to listeners too", () => {
    calls.length = 0;
    expect(routeSocketEvent(events, session, 'message', 'hi', false)).toBe(true);
    expect(routeSocketEvent(events, session, 'pong', Buffer.alloc(0), undefined)).toBe(true);
    expect(routeSocketEvent(events, session, 'error', new Error('x'), undefined)).toBe(true);
    expect(routeSocketEvent(events, session, 'close', 1000, undefined)).toBe(false);
    expect(routeSocketEvent(events, session, 'ping', Buffer.alloc(0), undefined)).toBe(false);
    expect(calls).toEqual(['message hi false', 'pong', 'error', 'close']);
  });

  it('never throw an error no listener takes, with or without a session', () => {
    calls.length = 0;
    expect(routeSocketEvent(events, undefined, 'error', new Error('x'), undefined)).toBe(true);
    expect(routeSocketEvent(events, undefined, 'message', 'hi', false)).toBe(true);
    expect(calls).toEqual([]);
  });
});

describe('challenge nonces', () => {
  it('are never handed out twice, across the CSPRNG draws they come from', async () => {
    const hub = inProcessHub();
    const seen = new Set<string>();
    for (let i = 0; i < NONCES_PER_DRAW + 8; i++) {
      const { end, challenge } = await hub.connect();
      expect(challenge.nonce).toHaveLength(CHALLENGE_NONCE_BYTES);
      seen.add(Buffer.from(challenge.nonce).toString('hex'));
      await end.close();
    }
    expect(seen.size).toBe(NONCES_PER_DRAW + 8);
    await hub.close();
  });
});

describe('node:crypto Ed25519, keeping the last key', () => {
  it('gives each signature the verdict of its own key, whatever key came before', async () => {
    const ed = createNodeEd25519(0);
    const [a, b] = [await ed.generate(), await ed.generate()];
    const message = new TextEncoder().encode('hello');
    const [sigA, sigB] = [await a.sign(message), await b.sign(message)];
    const notOnCurve = new Uint8Array(32).fill(0xff);
    for (const [key, signature, expected] of [
      [a.publicKey, sigA, true],
      [a.publicKey, sigA, true],
      [b.publicKey, sigA, false],
      [b.publicKey, sigB, true],
      [notOnCurve, sigB, false],
      [b.publicKey, sigB, true],
      [a.publicKey, sigB, false],
    ] as const)
      expect(await ed.verify(key, message, signature)).toBe(expected);
    // A key changed in place after use is not mistaken for the one kept.
    const mutable = a.publicKey.slice();
    expect(await ed.verify(mutable, message, sigA)).toBe(true);
    mutable.set(b.publicKey);
    expect(await ed.verify(mutable, message, sigA)).toBe(false);
    expect(await ed.verify(mutable, message, sigB)).toBe(true);
  });
});

describe('TickBatch', () => {
  it('corks each socket written to in a turn once, and uncorks them all on the next tick', async () => {
    const calls: string[] = [];
    const tcp = (name: string): Duplex =>
      ({ cork: () => calls.push(`cork ${name}`), uncork: () => calls.push(`uncork ${name}`) }) as unknown as Duplex;
    const [a, b] = [tcp('a'), tcp('b')];
    const batch = new TickBatch();
    batch.add(a);
    batch.add(b);
    batch.add(a);
    expect(calls).toEqual(['cork a', 'cork b']);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(calls).toEqual(['cork a', 'cork b', 'uncork a', 'uncork b']);
    batch.add(a);
    expect(calls.at(-1)).toBe('cork a');
  });
});

describe('ReplyCredit', () => {
  it('lets a connection answer each signal once on its sender’s account, up to perPeer', () => {
    const credit = new ReplyCredit({ perPeer: 2, peers: 8, ttlMs: 1000 });
    expect(credit.empty).toBe(true);
    expect(credit.spend('a', 0)).toBe(false);
    for (let i = 0; i < 3; i++) credit.earn('a', 0);
    expect(credit.spend('a', 1)).toBe(true);
    expect(credit.spend('a', 1)).toBe(true);
    expect(credit.spend('a', 1)).toBe(false);
    expect(credit.empty).toBe(true);
  });

  it('forgets credit after ttlMs', () => {
    const credit = new ReplyCredit({ perPeer: 5, peers: 8, ttlMs: 1000 });
    credit.earn('a', 0);
    credit.earn('a', 500); // the last signal sets the expiry
    expect(credit.spend('a', 1499)).toBe(true);
    expect(credit.spend('a', 1500)).toBe(false);
    credit.earn('b', 0);
    credit.earn('b', 2000); // expired credit is not added to
    expect(credit.spend('b', 2001)).toBe(true);
    expect(credit.spend('b', 2001)).toBe(false);
  });

  it('holds credit for at most `peers` peers, forgetting the oldest', () => {
    const credit = new ReplyCredit({ perPeer: 5, peers: 2, ttlMs: 1000 });
    credit.earn('a', 0);
    credit.earn('b', 0);
    credit.earn('a', 1);
    credit.earn('c', 2);
    expect(credit.peers).toBe(2);
    expect(credit.spend('a', 3)).toBe(false);
    expect(credit.spend('b', 3)).toBe(true);
    expect(credit.spend('c', 3)).toBe(true);
  });

  it('is off with perPeer 0', () => {
    const credit = new ReplyCredit({ perPeer: 0, peers: 2, ttlMs: 1000 });
    credit.earn('a', 0);
    expect(credit.empty).toBe(true);
    expect(credit.spend('a', 0)).toBe(false);
  });
});

describe('Liveness', () => {
  it('counts only the pong that carries our ping’s payload', () => {
    const liveness = new Liveness();
    expect(liveness.alive).toBe(true);
    liveness.pinged(Buffer.from('0123456789abcdef'));
    expect(liveness.alive).toBe(false);
    liveness.ponged(Buffer.from('unsolicited'));
    liveness.ponged(Buffer.alloc(0));
    expect(liveness.alive).toBe(false);
    liveness.ponged(Buffer.from('0123456789abcdef'));
    expect(liveness.alive).toBe(true);
    // Answered once: the same payload again is not an answer to the next ping.
    liveness.pinged(Buffer.from('fedcba9876543210'));
    liveness.ponged(Buffer.from('0123456789abcdef'));
    expect(liveness.alive).toBe(false);
  });
});

describe('metrics access', () => {
  const request = (authorization?: string): IncomingMessage =>
    ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;
  const token = 'sixteen-chars-or-more';
  it.each<[string | undefined, Listener, string | undefined, string]>([
    [undefined, 'main', undefined, 'hidden'],
    [undefined, 'metrics', undefined, 'allowed'],
    [undefined, 'main', token, 'unauthorized'],
    [`Bearer ${token}`, 'main', token, 'allowed'],
    [`Bearer ${token}`, 'metrics', token, 'allowed'],
    [undefined, 'metrics', token, 'unauthorized'],
    [`Bearer ${token}x`, 'main', token, 'unauthorized'],
    [`Basic ${token}`, 'main', token, 'unauthorized'],
    [token, 'main', token, 'unauthorized'],
  ])('with Authorization %s on the %s listener (token %s): %s', (header, listener, configured, access) => {
    expect(metricsAccess(request(header), listener, configured)).toBe(access);
  });
});
