import { describe, expect, it } from 'vitest';
import { utf8 } from '../../shared/bytes.js';
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, type Identity } from '../../shared/identity/signing.js';
import {
  MAX_CLOCK_SKEW_MS,
  RELAY_ID_BYTES,
  RELAY_ORIGIN_BURST,
  RELAY_FLOOD_SEND_BURST,
  RELAY_PASS_SEND_BURST,
  SEAL_KEY_BYTES,
  SIGNAL_TTL_MS,
} from '../../shared/limits.js';
import { parseChannelFrame } from '../../shared/protocol/channel.js';
import { routedMessageBytes, type RelayFrame, type SealedMessage } from '../../shared/protocol/mesh.js';
import { signRecord } from '../../shared/records.js';
import { SEAL_OVERHEAD_BYTES } from '../../shared/seal.js';
import type { NodeCore } from '../../web/node/core.js';
import { MeshRouting, type MeshRoutingHost } from '../../web/node/mesh-routing.js';
import { newLimitCounters } from '../../web/node/options.js';
import { memoryStore, type KeyValueStore } from '../../web/storage/store.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const NO_COUNTS = { sent: 0, forwarded: 0, delivered: 0, dropped: 0 };

type Event =
  | { readonly kind: 'message'; readonly from: PeerId; readonly data: string | Uint8Array; readonly back: PeerId[] }
  | {
      readonly kind: 'signal';
      readonly from: PeerId;
      readonly signal: string;
      readonly record: Uint8Array | undefined;
      readonly back: PeerId[];
    }
  | { readonly kind: 'problem'; readonly code: ErrorCode; readonly message: string; readonly peer: PeerId | undefined };

/** Memory storage that counts reads and writes. */
class CountingStore implements KeyValueStore {
  readonly kind = 'memory' as const;
  readonly reads: string[] = [];
  readonly writes: string[] = [];
  private readonly inner = memoryStore();

  get(key: string): Promise<unknown> {
    this.reads.push(key);
    return this.inner.get(key);
  }
  set(key: string, value: unknown): Promise<void> {
    this.writes.push(key);
    return this.inner.set(key, value);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

/** One node of the test network: a MeshRouting with a host that records what reaches it. */
class TestNode {
  readonly routing: MeshRouting;
  readonly events: Event[] = [];
  readonly neighbours: PeerId[] = [];
  /** Seal keys this node knows (from records, in a real node). */
  readonly known = new Map<PeerId, Uint8Array>();
  readonly warnings: string[] = [];
  readonly debugs: string[] = [];
  /** What the routing's limits refused. */
  readonly tally = newLimitCounters();
  /** Resolves with our seal key when the routing calls host.started. */
  readonly started: Promise<Uint8Array>;
  startedCalls = 0;
  sealKey: Uint8Array | undefined;
  closed = false;
  /** This node's clock, against the network's. */
  skew = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly identity: Identity,
    net: TestNet,
    readonly store: KeyValueStore = new CountingStore(),
    slot?: number,
  ) {
    let resolveStarted: (key: Uint8Array) => void = () => undefined;
    this.started = new Promise((resolve) => (resolveStarted = resolve));
    const core: NodeCore = {
      identity,
      ed25519,
      network: 'lobby',
      logger: {
        debug: (message) => this.debugs.push(message),
        info: () => undefined,
        warn: (message) => this.warnings.push(message),
        error: (message) => this.warnings.push(message),
      },
      now: () => net.clock + this.skew,
      random: () => 0.5,
      closed: () => this.closed,
      connected: () => [...this.neighbours],
      problem: (code, message, peer) => this.push({ kind: 'problem', code, message, peer }),
    };
    const host: MeshRoutingHost = {
      store,
      slot,
      sendFrame: (peer, frame) => net.carry(this, peer, frame),
      sealKeyOf: (peer) => this.known.get(peer),
      started: (key) => {
        this.startedCalls++;
        this.sealKey = key;
        resolveStarted(key);
        return Promise.resolve();
      },
      signal: (from, signal, record, back) => {
        this.push({ kind: 'signal', from, signal, record, back });
        return Promise.resolve();
      },
      message: (from, data, back) => this.push({ kind: 'message', from, data, back }),
    };
    this.routing = new MeshRouting(core, host, this.tally);
  }

  get id(): PeerId {
    return this.identity.id;
  }

  /** Resolves once `count` events have reached this node's host. */
  async until(count: number): Promise<Event[]> {
    while (this.events.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.events;
  }

  private push(event: Event): void {
    this.events.push(event);
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** Frames one node's routing sends to a neighbour, parsed as the channel would, handed to that neighbour's routing. */
class TestNet {
  clock = NOW;
  readonly nodes = new Map<PeerId, TestNode>();
  readonly carried: { readonly from: PeerId; readonly to: PeerId; readonly frame: RelayFrame }[] = [];
  /** A dishonest forwarder: rewrites what `from` passes to `to`. */
  tamper: ((from: PeerId, to: PeerId, frame: RelayFrame) => RelayFrame) | undefined;

  async add(count: number): Promise<TestNode[]> {
    const added = await Promise.all(Array.from({ length: count }, async () => new TestNode(await newIdentity(), this)));
    for (const node of added) this.nodes.set(node.id, node);
    return added;
  }

  link(a: TestNode, b: TestNode): void {
    a.neighbours.push(b.id);
    b.neighbours.push(a.id);
  }

  /** Start every node's routing, and let each know every other's seal key. */
  async startAll(): Promise<void> {
    const nodes = [...this.nodes.values()];
    for (const node of nodes) node.routing.start();
    await Promise.all(nodes.map((node) => node.started));
    for (const node of nodes) {
      for (const other of nodes) if (other !== node && other.sealKey) node.known.set(other.id, other.sealKey);
    }
  }

  carry(from: TestNode, to: PeerId, bytes: Uint8Array): void {
    const parsed = parseChannelFrame(bytes);
    if (!parsed.ok) throw parsed.error;
    if (parsed.value.type !== 'relay') throw new Error(`a ${parsed.value.type} frame from the mesh`);
    const target = this.nodes.get(to);
    if (target === undefined || !from.neighbours.includes(to)) throw new Error('a frame to a peer with no channel');
    const frame = this.tamper?.(from.id, to, parsed.value) ?? parsed.value;
    this.carried.push({ from: from.id, to, frame });
    target.routing.receive(from.id, frame);
  }
}

/** Let every callback already queued run (promise reactions and I/O), with no time passing. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A line A — B — C, sealing started, every key known. */
async function line(): Promise<{ net: TestNet; a: TestNode; b: TestNode; c: TestNode }> {
  const net = new TestNet();
  const [a, b, c] = await net.add(3);
  if (!a || !b || !c) throw new Error('no nodes');
  net.link(a, b);
  net.link(b, c);
  await net.startAll();
  return { net, a, b, c };
}

/** A routed message as `signer` signs it, claiming `from` → `to` under relay ID `id`. */
async function signedMessage(
  signer: Identity,
  from: PeerId,
  to: PeerId,
  id: Uint8Array,
  sentAt: number,
  payload: Uint8Array,
  binary = false,
): Promise<SealedMessage> {
  const signature = await signer.sign(Purpose.ROUTED, routedMessageBytes(from, to, id, sentAt, binary, payload));
  return { kind: 'message', sentAt, binary, payload, signature };
}

const newId = (): Uint8Array => crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES));

describe('MeshRouting before start', () => {
  it('is not ready: it reaches no one, sends nothing and drops what arrives', async () => {
    const net = new TestNet();
    const [a, b, c] = await net.add(3);
    if (!a || !b || !c) throw new Error('no nodes');
    net.link(a, b);
    net.link(b, c);
    a.known.set(c.id, new Uint8Array(SEAL_KEY_BYTES).fill(1));
    expect(a.routing.ready).toBe(false);
    expect(a.routing.canReach(c.id)).toBe(false);
    expect(a.routing.send(c.id, { kind: 'signal', signal: 'offer', record: undefined }, [b.id])).toBe(
      ErrorCode.NO_MESH_PATH,
    );
    expect(await a.routing.sendMessage(c.id, false, utf8('hi'), [b.id])).toBe(false);
    const frame: RelayFrame = {
      type: 'relay',
      id: newId(),
      ttl: 3,
      from: c.id,
      to: a.id,
      route: [],
      trail: [b.id],
      sealed: new Uint8Array(SEAL_OVERHEAD_BYTES + 8),
    };
    a.routing.receive(b.id, frame);
    expect(a.debugs).toEqual(['relayed frame dropped: the mesh is not ready']);
    expect(net.carried).toEqual([]);
    expect(a.routing.counters()).toEqual(NO_COUNTS);
    expect(a.events).toEqual([]);
    expect(a.startedCalls).toBe(0);
  });
});

describe('MeshRouting after start', () => {
  it('publishes its seal key, and can reach a peer whose seal key it knows through another neighbour', async () => {
    const net = new TestNet();
    const [a, b, c] = await net.add(3);
    if (!a || !b || !c) throw new Error('no nodes');
    net.link(a, b);
    net.link(b, c);
    for (const node of [a, b, c]) node.routing.start();
    const key = await a.started;
    expect(key).toHaveLength(SEAL_KEY_BYTES);
    expect(a.routing.ready).toBe(true);
    await Promise.all([b.started, c.started]);
    expect(a.routing.canReach(c.id)).toBe(false);
    expect(a.routing.send(c.id, { kind: 'signal', signal: 'offer', record: undefined }, [])).toBe(
      ErrorCode.NO_MESH_PATH,
    );
    a.known.set(c.id, c.sealKey as Uint8Array);
    expect(a.routing.canReach(c.id)).toBe(true);
    // A peer we know only as our sole neighbour: there is no one else to go through.
    a.known.set(b.id, b.sealKey as Uint8Array);
    expect(a.routing.canReach(b.id)).toBe(false);
    expect(await a.routing.sendMessage(b.id, false, utf8('direct'), [])).toBe(false);
    a.neighbours.length = 0;
    expect(a.routing.canReach(c.id)).toBe(false);
    expect(await a.routing.sendMessage(c.id, false, utf8('no one'), [])).toBe(false);
    expect(net.carried).toEqual([]);
  });

  it('carries a message A → C through B, signed and sealed, and C answers along the way back', async () => {
    const { net, a, b, c } = await line();
    expect(await a.routing.sendMessage(c.id, false, utf8('hello ✨'), [b.id])).toBe(true);
    expect(await c.until(1)).toEqual([{ kind: 'message', from: a.id, data: 'hello ✨', back: [b.id] }]);
    // B passed it on and could not read it.
    expect(net.carried.map((f) => [f.from, f.to])).toEqual([
      [a.id, b.id],
      [b.id, c.id],
    ]);
    expect(net.carried[1]?.frame).toMatchObject({ from: a.id, to: c.id, trail: [b.id] });
    expect(b.events).toEqual([]);
    const back = c.events[0]?.kind === 'message' ? c.events[0].back : [];
    expect(await c.routing.sendMessage(a.id, true, Uint8Array.of(1, 2, 3), back)).toBe(true);
    expect(await a.until(1)).toEqual([{ kind: 'message', from: c.id, data: Uint8Array.of(1, 2, 3), back: [b.id] }]);
    expect(a.routing.counters()).toEqual({ sent: 1, forwarded: 0, delivered: 1, dropped: 0 });
    expect(b.routing.counters()).toEqual({ sent: 0, forwarded: 2, delivered: 0, dropped: 0 });
    expect(c.routing.counters()).toEqual({ sent: 1, forwarded: 0, delivered: 1, dropped: 0 });
    expect(b.events).toEqual([]);
    expect([a, b, c].flatMap((n) => n.warnings)).toEqual([]);
  });

  it('floods a message with no route, and it still arrives once', async () => {
    const net = new TestNet();
    const [a, b, c, d] = await net.add(4);
    if (!a || !b || !c || !d) throw new Error('no nodes');
    // Two ways from A to D: through B and through C.
    net.link(a, b);
    net.link(a, c);
    net.link(b, d);
    net.link(c, d);
    await net.startAll();
    expect(await a.routing.sendMessage(d.id, false, utf8('anyone?'), [])).toBe(true);
    const [event] = await d.until(1);
    expect(event).toMatchObject({ kind: 'message', from: a.id, data: 'anyone?' });
    await settle();
    expect(d.events).toHaveLength(1);
    expect(a.routing.counters().sent).toBe(2);
    expect(d.routing.counters().delivered).toBe(1);
  });

  it('hands a routed signal to host.signal with the record it carried and the way back', async () => {
    const { a, b, c } = await line();
    const record = await signRecord(a.identity, { seq: 1, network: 'lobby', now: NOW });
    const id = a.routing.send(c.id, { kind: 'signal', signal: 'offer-text', record: record.bytes }, [b.id]);
    expect(id).toBeInstanceOf(Uint8Array);
    expect(id).toHaveLength(RELAY_ID_BYTES);
    expect(await c.until(1)).toEqual([
      { kind: 'signal', from: a.id, signal: 'offer-text', record: record.bytes, back: [b.id] },
    ]);
    a.routing.send(c.id, { kind: 'signal', signal: 'candidate', record: undefined }, [b.id]);
    expect((await c.until(2))[1]).toEqual({
      kind: 'signal',
      from: a.id,
      signal: 'candidate',
      record: undefined,
      back: [b.id],
    });
    expect(c.routing.counters().delivered).toBe(2);
  });

  it('refuses a routed message dated outside SIGNAL_TTL_MS behind or the clock skew ahead, with SIGNAL_STALE', async () => {
    const { a, b, c } = await line();
    const cases = [
      { skew: -SIGNAL_TTL_MS - 1, delivered: false },
      { skew: MAX_CLOCK_SKEW_MS + 1, delivered: false },
      { skew: -SIGNAL_TTL_MS, delivered: true },
      { skew: MAX_CLOCK_SKEW_MS, delivered: true },
    ];
    for (const [i, { skew, delivered }] of cases.entries()) {
      a.skew = skew;
      expect(await a.routing.sendMessage(c.id, false, utf8(`#${i}`), [b.id])).toBe(true);
      const event = (await c.until(i + 1))[i];
      if (delivered) expect(event).toEqual({ kind: 'message', from: a.id, data: `#${i}`, back: [b.id] });
      else
        expect(event).toEqual({
          kind: 'problem',
          code: ErrorCode.SIGNAL_STALE,
          message: 'routed message too old or dated ahead',
          peer: a.id,
        });
    }
  });

  it('refuses a routed message whose signature is not its sender’s over this frame, with BAD_SIGNATURE', async () => {
    const { a, b, c } = await line();
    const payload = utf8('trust me');
    const forgeries = [
      // B's signature, over a message from B: valid, but not for A, the claimed sender.
      async (id: Uint8Array) => signedMessage(b.identity, b.id, c.id, id, NOW, payload),
      // A's own signature, but for another relay ID (a replay under a new one).
      async () => signedMessage(a.identity, a.id, c.id, newId(), NOW, payload),
      // A's, but for another recipient.
      async (id: Uint8Array) => signedMessage(a.identity, a.id, b.id, id, NOW, payload),
      // A's, over other words.
      async (id: Uint8Array) => signedMessage(a.identity, a.id, c.id, id, NOW, utf8('trust you')),
    ];
    for (const [i, forge] of forgeries.entries()) {
      const id = newId();
      const content = { ...(await forge(id)), payload };
      expect(a.routing.send(c.id, content, [b.id], id)).toEqual(id);
      expect((await c.until(i + 1))[i]).toEqual({
        kind: 'problem',
        code: ErrorCode.BAD_SIGNATURE,
        message: 'routed message whose signature does not verify for its sender',
        peer: a.id,
      });
    }
    // The same, signed as it should be, is delivered.
    const id = newId();
    a.routing.send(c.id, await signedMessage(a.identity, a.id, c.id, id, NOW, payload), [b.id], id);
    expect((await c.until(forgeries.length + 1)).at(-1)).toEqual({
      kind: 'message',
      from: a.id,
      data: 'trust me',
      back: [b.id],
    });
    expect(c.events.filter((e) => e.kind === 'message')).toHaveLength(1);
  });

  it('refuses a signed routed text message that is not UTF-8, with BAD_SEAL', async () => {
    const { a, b, c } = await line();
    const id = newId();
    const content = await signedMessage(a.identity, a.id, c.id, id, NOW, Uint8Array.of(0xc3, 0x28));
    a.routing.send(c.id, content, [b.id], id);
    expect(await c.until(1)).toEqual([
      { kind: 'problem', code: ErrorCode.BAD_SEAL, message: 'text message is not valid UTF-8', peer: a.id },
    ]);
  });
});

/** The same frame with one bit of its sealed part flipped. */
function spoiled(frame: RelayFrame): RelayFrame {
  const sealed = frame.sealed.slice();
  sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
  return { ...frame, sealed };
}

describe('MeshRouting with a dishonest forwarder', () => {
  it('drops a frame whose seal was tampered with, with BAD_SEAL, and delivers nothing', async () => {
    const { net, a, b, c } = await line();
    net.tamper = (from, _to, frame) => (from === b.id ? spoiled(frame) : frame);
    expect(await a.routing.sendMessage(c.id, false, utf8('secret'), [b.id])).toBe(true);
    expect(await c.until(1)).toEqual([
      { kind: 'problem', code: ErrorCode.BAD_SEAL, message: 'a frame for us whose seal does not open', peer: a.id },
    ]);
    expect(c.routing.counters()).toEqual({ sent: 0, forwarded: 0, delivered: 0, dropped: 1 });
  });

  it('opens a neighbour’s spoiled copy once: the same relay ID from it again is dropped unopened', async () => {
    const { net, a, b, c } = await line();
    net.tamper = (from, _to, frame) => (from === b.id ? spoiled(frame) : frame);
    expect(await a.routing.sendMessage(c.id, false, utf8('secret'), [b.id])).toBe(true);
    await c.until(1);
    const copy = net.carried.find((f) => f.to === c.id)?.frame;
    if (copy === undefined) throw new Error('nothing reached C');
    for (let i = 0; i < 5; i++) c.routing.receive(b.id, copy);
    expect(c.routing.counters()).toEqual({ sent: 0, forwarded: 0, delivered: 0, dropped: 1 });
  });

  // Found by this test: Mesh.receive() recorded the relay ID of a frame for us
  // as seen before opening its seal, so a forwarder on one path of a flood
  // that passed on a spoiled copy first (the relay ID is in the clear) made
  // the recipient drop the intact copy coming the other way. The ID now counts
  // only once the seal opens and parses; a spoiled copy is remembered per
  // neighbour (each gets one try per relay ID).
  it('still delivers the intact copy that comes another way after a spoiled one', async () => {
    const net = new TestNet();
    const [a, b, c, d] = await net.add(4);
    if (!a || !b || !c || !d) throw new Error('no nodes');
    // A floods to C first, then B; both are D's neighbours. C spoils what it passes on.
    net.link(a, c);
    net.link(a, b);
    net.link(c, d);
    net.link(b, d);
    await net.startAll();
    net.tamper = (from, _to, frame) => (from === c.id ? spoiled(frame) : frame);
    expect(await a.routing.sendMessage(d.id, false, utf8('around the liar'), [])).toBe(true);
    // Both copies have reached D by now (the test network carries frames at once).
    expect(net.carried.filter((f) => f.to === d.id)).toHaveLength(2);
    expect(d.routing.counters().delivered).toBe(1);
  });
});

describe('MeshRouting.start', () => {
  it('loads once, however often it is called', async () => {
    const net = new TestNet();
    const store = new CountingStore();
    const a = new TestNode(await newIdentity(), net, store, 3);
    const [b, c] = await net.add(2);
    if (!b || !c) throw new Error('no nodes');
    net.nodes.set(a.id, a);
    net.link(a, b);
    net.link(b, c);
    a.routing.start();
    a.routing.start();
    const key = await a.started;
    await settle();
    expect(a.startedCalls).toBe(1);
    expect(store.reads).toEqual(['seal:3']);
    expect(store.writes).toEqual(['seal:3']);
    for (const node of [b, c]) node.routing.start();
    await Promise.all([b.started, c.started]);
    a.known.set(c.id, c.sealKey as Uint8Array);
    c.known.set(a.id, key);
    expect(await a.routing.sendMessage(c.id, false, utf8('one'), [b.id])).toBe(true);
    // Started already: the mesh (and its counters and keys) stays as it is.
    a.routing.start();
    await settle();
    expect(a.startedCalls).toBe(1);
    expect(store.reads).toHaveLength(1);
    expect(a.routing.counters().sent).toBe(1);
    // A reload in the same slot seals with the same key.
    const reloaded = new TestNode(a.identity, net, store, 3);
    reloaded.routing.start();
    expect(await reloaded.started).toEqual(key);
  });

  it('does nothing once the node is closed', async () => {
    const net = new TestNet();
    const store = new CountingStore();
    const a = new TestNode(await newIdentity(), net, store, 1);
    a.closed = true;
    a.routing.start();
    await settle();
    expect(a.routing.ready).toBe(false);
    expect(a.startedCalls).toBe(0);
    expect(store.reads).toEqual([]);
    expect(a.routing.counters()).toEqual(NO_COUNTS);
  });

  it('does not start a mesh when the node closed while sealing was loading', async () => {
    const net = new TestNet();
    const store = new CountingStore();
    const a = new TestNode(await newIdentity(), net, store, 1);
    a.routing.start();
    a.closed = true;
    // Loading goes on (tweetnacl, then the slot's keys) and ends in the closed check.
    while (store.writes.length === 0) await settle();
    await settle();
    expect(a.routing.ready).toBe(false);
    expect(a.startedCalls).toBe(0);
  });
});

/**
 * Issue 15, item 6: a forwarder passed on whatever came in, so an attacker's
 * floods at the full rate on a few links made its honest neighbours cut it
 * off. Each claimed sender now has a budget of its own, and each neighbour is
 * sent no more than it takes from us (the link's intake is PeerLink's).
 */
describe('MeshRouting: what it passes on', () => {
  /** A frame claiming `from`, for `to`, as `a` passes it to `b`. */
  function frame(from: PeerId, to: PeerId, a: TestNode): RelayFrame {
    return {
      type: 'relay',
      id: newId(),
      ttl: 4,
      from,
      to,
      route: [],
      trail: [a.id],
      sealed: new Uint8Array(SEAL_OVERHEAD_BYTES + 8),
    };
  }

  it(`passes on at most RELAY_ORIGIN_BURST (${RELAY_ORIGIN_BURST}) frames of one claimed sender at once`, async () => {
    const { net, a, b, c } = await line();
    const sender = (await newIdentity()).id;
    const count = RELAY_ORIGIN_BURST + 8;
    for (let i = 0; i < count; i++) b.routing.receive(a.id, frame(sender, c.id, a));
    expect(net.carried.filter((f) => f.from === b.id)).toHaveLength(RELAY_ORIGIN_BURST);
    expect(b.tally.relayOverOrigin).toBe(8);
    // Another sender has a budget of its own.
    b.routing.receive(a.id, frame((await newIdentity()).id, c.id, a));
    expect(net.carried.filter((f) => f.from === b.id)).toHaveLength(RELAY_ORIGIN_BURST + 1);
  });

  it(`sends a neighbour at most RELAY_FLOOD_SEND_BURST (${RELAY_FLOOD_SEND_BURST}) flood copies at once, and still what is routed`, async () => {
    const { net, a, b, c } = await line();
    const nowhere = (await newIdentity()).id;
    const senders = await Promise.all(
      Array.from({ length: RELAY_FLOOD_SEND_BURST + 8 }, async () => (await newIdentity()).id),
    );
    // For a peer nobody holds, with no route: b floods each on to c.
    for (const sender of senders) b.routing.receive(a.id, frame(sender, nowhere, a));
    expect(net.carried.filter((f) => f.from === b.id)).toHaveLength(RELAY_FLOOD_SEND_BURST);
    expect(b.tally.relayUnsent).toBe(8);
    // A frame whose route goes through c is not a flood: it goes on.
    b.routing.receive(a.id, { ...frame((await newIdentity()).id, nowhere, a), route: [c.id] });
    expect(net.carried.filter((f) => f.from === b.id)).toHaveLength(RELAY_FLOOD_SEND_BURST + 1);
  });

  it('refuses to send a frame of its own with RATE_LIMITED when no neighbour would take it', async () => {
    const { a, b, c } = await line();
    const signal = { kind: 'signal', signal: 'offer', record: undefined } as const;
    for (let i = 0; i < RELAY_PASS_SEND_BURST; i++)
      expect(a.routing.send(c.id, signal, [b.id])).toBeInstanceOf(Uint8Array);
    expect(a.routing.send(c.id, signal, [b.id])).toBe(ErrorCode.RATE_LIMITED);
    expect(await a.routing.sendMessage(c.id, false, utf8('over'), [b.id])).toBe(false);
  });
});
